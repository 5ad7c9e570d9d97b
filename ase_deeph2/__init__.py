"""ase_deeph2: DeepH-2 predicted DFT Hamiltonians in a numerical-atomic-orbital basis, for ASE."""

__version__ = "0.1.0"

#: Version of the conventions (units, orbital order, block layout) written into model files.
CONVENTION_VERSION = 1
