"""ase_deeph2: DeepH-2 predicted DFT Hamiltonians in a numerical-atomic-orbital basis, for ASE."""

__version__ = "0.1.0"

#: Version of the conventions (units, orbital order, block layout) written into model files.
CONVENTION_VERSION = 1

__all__ = ["DeepH2Calculator", "HamiltonianCalculator", "__version__", "CONVENTION_VERSION"]

_LAZY = {"DeepH2Calculator": "ase_deeph2.calculator", "HamiltonianCalculator": "ase_deeph2.hamiltonian_calculator"}


def __getattr__(name: str):
    """Import the calculators on first use (the model pulls in torch, which takes a second)."""
    if name in _LAZY:
        import importlib
        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'ase_deeph2' has no attribute {name!r}")
