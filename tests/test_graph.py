"""Neighbour pairs: OpenMX's own pair lists, both orders, clear errors; and the numpy-only layers
(readers, overlap, electronic structure) work where torch cannot be imported."""

import subprocess
import sys

import numpy as np
import pytest
from ase import Atoms

from ase_deeph2.graph import overlap_pairs
from ase_deeph2.io import read_scfout
from conftest import ALL_RUNS, run_dir


@pytest.mark.parametrize("name", ALL_RUNS)
def test_pairs_are_openmxs(name):
    data = read_scfout(run_dir(name) / "openmx.scfout")
    found = overlap_pairs(data.atoms, data.basis.cutoffs(data.symbols))
    assert sorted(map(tuple, found.pairs)) == sorted(map(tuple, data.hamiltonian.pairs))
    # vectors are r_j + R.cell - r_i and both orders are present
    r = data.atoms.positions
    expected = r[found.pairs[:, 4]] + found.pairs[:, :3] @ data.atoms.cell.array - r[found.pairs[:, 3]]
    assert np.abs(found.vectors - expected).max() < 1e-9
    assert found.onsite.sum() == len(data.atoms)


def test_molecule_and_errors():
    mol = Atoms("C2", positions=[[0, 0, 0], [0, 0, 1.3]])
    found = overlap_pairs(mol, np.array([3.2, 3.2]))
    assert len(found.pairs) == 4 and not found.pairs[:, :3].any()
    with pytest.raises(ValueError, match=r"atoms 0 \(C\) and 1 \(C\) are 0.05 Å apart"):
        overlap_pairs(Atoms("C2", positions=[[0, 0, 0], [0, 0, 0.05]]), np.array([3.2, 3.2]))
    with pytest.raises(ValueError, match="cutoffs must have shape"):
        overlap_pairs(mol, np.array([3.2]))


def test_numpy_layers_need_no_torch(tmp_path):
    script = f"""
import sys
sys.modules["torch"] = None  # any import of torch now fails
from ase_deeph2.io import read_scfout, read_deeph, write_deeph
from ase_deeph2.overlap import overlap_matrix
from ase_deeph2.electronic import ElectronicStructure
data = read_scfout({str(run_dir("graphene_1x1") / "openmx.scfout")!r})
write_deeph({str(tmp_path / "d")!r}, data)
back = read_deeph({str(tmp_path / "d")!r})
es = ElectronicStructure(back.hamiltonians, back.overlap, back.n_electrons, back.atoms)
print(round(es.fermi_level((9, 9, 1)), 4))
"""
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr[-1500:]
    assert float(out.stdout.strip()) == pytest.approx(read_scfout(run_dir("graphene_1x1") / "openmx.scfout").fermi_level,
                                                      abs=2e-3)
