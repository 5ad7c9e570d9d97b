"""Exact overlaps from the PAO files against OpenMX's own S, and their symmetry."""

import numpy as np
import pytest
import scipy.linalg as sl
import torch
from ase import Atoms
from ase.dft.kpoints import monkhorst_pack

from ase_deeph2.basis import BasisSet
from ase_deeph2.io import read_openmx_eigenvalues, read_scfout
from ase_deeph2.overlap import OverlapTables, overlap_matrix, real_gaunt
from ase_deeph2.rotations import rotation_matrix, wigner_D
from conftest import ALL_RUNS, SHARED_PAO, run_dir, shared_path, snap_kpts

MOS2 = BasisSet.from_strings({"Mo": "Mo7.0-s3p2d2", "S": "S7.0-s2p2d1", "C": "C6.0-s2p2d1"})


@pytest.fixture(scope="module")
def tables() -> OverlapTables:
    shared_path("openmx", "PAO")
    return OverlapTables.from_pao(MOS2, [SHARED_PAO])


@pytest.mark.parametrize("name", ALL_RUNS)
def test_overlap_equals_openmx(name, tables):
    data = read_scfout(run_dir(name) / "openmx.scfout")
    ours = tables.overlap_matrix(data.atoms)
    assert sorted(map(tuple, ours.pairs)) == sorted(map(tuple, data.overlap.pairs))
    worst = ours.error_stats(data.overlap)["max_abs"]
    assert worst <= 1e-6, f"{name}: max |S_ours - S_openmx| = {worst:.2e}"
    print(f"{name}: max |S_ours - S_openmx| = {worst:.1e}")


def test_bands_with_our_overlap(tables):
    folder = run_dir("mos2_1x1")
    data = read_scfout(folder / "openmx.scfout")
    s = tables.overlap_matrix(data.atoms).aligned_to(data.overlap)
    kpts = snap_kpts(read_openmx_eigenvalues(folder / "openmx.out")["kpts"], (9, 9, 1))[::5]
    worst = max(np.abs(sl.eigvalsh(data.hamiltonian.to_dense(k), s.to_dense(k))
                       - sl.eigvalsh(data.hamiltonian.to_dense(k), data.overlap.to_dense(k))).max() for k in kpts)
    assert worst < 1e-5


def test_overlap_is_positive_definite_on_a_mesh(tables):
    data = read_scfout(run_dir("graphene_1x1") / "openmx.scfout")
    s = tables.overlap_matrix(data.atoms)
    assert s.hermiticity_error() < 1e-14
    # smallest eigenvalue ~9e-4 (double-zeta + d on C): positive, though not by much
    assert min(np.linalg.eigvalsh(s.to_dense(k)).min() for k in monkhorst_pack((6, 6, 1))) > 1e-4


def test_rotating_a_molecule_rotates_the_blocks(tables):
    rng = np.random.default_rng(2)
    mol = Atoms("MoS2C", positions=rng.normal(scale=1.3, size=(4, 3)) + [[0, 0, 0], [2, 0, 0], [0, 2, 0], [0, 0, 2]])
    angles = [np.array([x]) for x in (0.4, 2.2, -1.0)]
    R = rotation_matrix(*angles)[0]
    turned = mol.copy()
    turned.positions = mol.positions @ R.T
    s, s_rot = tables.overlap_matrix(mol), tables.overlap_matrix(turned)
    D = {el: sl.block_diag(*[wigner_D(l, *angles)[0] for l in MOS2[el].ls]) for el in ("Mo", "S", "C")}
    sym = mol.get_chemical_symbols()
    for p, (r1, r2, r3, i, j) in enumerate(s.pairs):
        assert np.abs(s_rot.block(i, j, (r1, r2, r3)) - D[sym[i]] @ s.block_at(p) @ D[sym[j]].T).max() < 1e-12
    assert np.abs(s.block(0, 0) - s.block(0, 0).T).max() < 1e-15


def test_state_round_trip_needs_no_pao_files(tables, tmp_path):
    from ase_deeph2.model.io import _to_numpy, _to_tensors  # as a model file stores them
    path = tmp_path / "tables.pt"
    torch.save(_to_tensors(tables.to_state()), path)
    again = OverlapTables.from_state(_to_numpy(torch.load(path, weights_only=True)))
    data = read_scfout(run_dir("mos2_1x1") / "openmx.scfout")
    assert np.array_equal(again.overlap_matrix(data.atoms).data, tables.overlap_matrix(data.atoms).data)
    with pytest.raises(ValueError, match="not overlap tables"):
        OverlapTables.from_state({"format": "x"})


def test_spline_tables_match_direct_quadrature(tables):
    """The distance-grid splines reproduce the k-space integral at off-grid distances to < 1e-9."""
    from ase_deeph2.pao import OPENMX_FFT, RadialBasis, find_pao, read_pao
    k, w = OPENMX_FFT.quadrature_k
    rb = {el: RadialBasis.from_pao(MOS2[el], read_pao(find_pao(MOS2[el].pao_name, [SHARED_PAO]))) for el in ("Mo", "S")}
    d = np.random.default_rng(0).uniform(0.5, 13.0, 40)
    direct = OverlapTables._tabulate(MOS2["Mo"].ls, MOS2["S"].ls, rb["Mo"].at(k), rb["S"].at(k), k, w, d)
    assert np.abs(tables._splines[("Mo", "S")](d) - direct).max() < 1e-9


def test_gaunt_coefficients():
    assert real_gaunt(0, 0, 0)[0] == pytest.approx(1 / np.sqrt(4 * np.pi))
    g = real_gaunt(1, 1, 2)  # int Y_1m Y_1m Y_20: m=0 -> 2/sqrt(20 pi) * ..., m=1 -> negative
    assert g[0] == pytest.approx(1 / np.sqrt(5 * np.pi)) and g[1] == pytest.approx(-0.5 / np.sqrt(5 * np.pi))


def test_errors_name_the_problem(tmp_path):
    with pytest.raises(FileNotFoundError, match="no PAO file C6.0.pao for element C; searched"):
        OverlapTables.from_pao(BasisSet.from_strings({"C": "C6.0-s2p2d1"}), [tmp_path])
    shared_path("openmx", "PAO")
    with pytest.raises(ValueError, match="asks for 16 radial function\\(s\\) with l = 0, the file has 15"):
        OverlapTables.from_pao(BasisSet.from_strings({"C": "C6.0-s16"}), [SHARED_PAO])
    with pytest.raises(ValueError, match="does not name a PAO file"):
        OverlapTables.from_pao(BasisSet.from_orbital_map({"C": [0, 1]}), [SHARED_PAO])
    atoms = Atoms("C2", positions=[[0, 0, 0], [0, 0, 0.01]])
    with pytest.raises(ValueError, match="atoms 0 \\(C\\) and 1 \\(C\\) are 0.01 Å apart"):
        overlap_matrix(atoms, OverlapTables.from_pao(BasisSet.from_strings({"C": "C6.0-s1p1"}), [SHARED_PAO]))
