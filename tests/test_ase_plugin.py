"""The entry points: ase.io.read of .scfout files and the calculator in ASE's plugin collection."""

import ase.io
import pytest

from ase_deeph2.io import read_scfout
from conftest import run_dir


def test_ase_reads_scfout_with_its_hamiltonian():
    path = run_dir("mos2_1x1") / "openmx.scfout"
    atoms = ase.io.read(path)  # chosen by the .scfout extension
    data = read_scfout(path)
    assert atoms.get_chemical_symbols() == data.atoms.get_chemical_symbols()
    atoms.calc.set(kpts=(9, 9, 1))
    assert atoms.calc.get_fermi_level() == pytest.approx(data.fermi_level, abs=0.05)  # inside the 1.6 eV gap
    assert ase.io.read(path, format="openmx-scfout").positions == pytest.approx(data.atoms.positions)


def test_calculator_is_an_ase_plugin():
    plugins = pytest.importorskip("ase._4.plugins")
    found = [p for p in plugins.PluginCollection.from_entry_points() if getattr(p, "name", "") == "deeph2"]
    assert found, "ase_deeph2 is not installed with its entry points (pip install -e .)"
    from ase_deeph2 import DeepH2Calculator
    assert found[0].implementation is DeepH2Calculator
