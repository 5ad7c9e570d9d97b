"""ASE plugin hooks, registered as entry points in pyproject.toml.

* ``ase.ioformats``: ``ase.io.read("openmx.scfout")`` (format ``openmx-scfout``) returns the
  structure with a :class:`HamiltonianCalculator` attached, so ``atoms.calc.band_structure()``,
  ``get_fermi_level()`` and ``ase.dft.dos.DOS(atoms.calc)`` work on the DFT Hamiltonian directly.
* ``ase.plugins`` (ASE's experimental plugin system, ``ase._4``, where present): the calculator
  ``deeph2`` = :class:`ase_deeph2.DeepH2Calculator`.

This module imports neither torch nor the model: ASE loads it at start-up.
"""

from __future__ import annotations

from ase.utils.plugins import ExternalIOFormat

__all__ = ["openmx_scfout", "read_openmx_scfout"]

openmx_scfout = ExternalIOFormat(
    desc="OpenMX 3.9 Hamiltonian and overlap (.scfout), read by ase_deeph2",
    code="1S",
    module="ase_deeph2.ase_plugin",
    ext="scfout",
)


def read_openmx_scfout(filename, **kwargs):
    """The structure of an OpenMX ``.scfout`` with its H(R), S(R) as a HamiltonianCalculator."""
    from .hamiltonian_calculator import HamiltonianCalculator
    from .io import read_scfout

    data = read_scfout(filename)
    atoms = data.atoms.copy()
    atoms.calc = HamiltonianCalculator.from_data(data)
    return atoms


def __getattr__(name: str):
    """``__ase_plugins__``, built on first access: importing ``ase._4.plugins`` while ASE itself
    is loading this module (for the IO format) would be a circular import."""
    if name != "__ase_plugins__":
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    try:  # ASE >= 3.24 ships an experimental plugin system; older versions simply skip this
        from ase._4.plugins.plugin import CalculatorPlugin
    except ImportError:  # pragma: no cover - depends on the ASE version
        return set()
    plugins = {CalculatorPlugin(name="deeph2", citation="DeepH-2 (Wang et al.); ase_deeph2",
                                implementation="ase_deeph2.calculator.DeepH2Calculator")}
    globals()["__ase_plugins__"] = plugins
    return plugins
