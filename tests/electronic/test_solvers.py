"""Eigensolvers on the real OpenMX runs: dense, sparse shift-invert with inertia, near-singular S."""

import numpy as np
import pytest

from ase_deeph2.electronic import Smearing, count_states_below, find_fermi_level, pardiso, solve_k
from ase_deeph2.electronic.kpoints import Mesh
from ase_deeph2.electronic.solvers import SingularOverlapWarning
from ase_deeph2.io import read_openmx_eigenvalues, read_scfout
from conftest import SHARED_PAO, run_dir, shared_path, snap_kpts


def test_graphene_dirac_cone_at_k_at_the_fermi_level():
    data = read_scfout(run_dir("graphene_1x1") / "openmx.scfout")
    e = solve_k(data.hamiltonian, data.overlap, (1 / 3, 1 / 3, 0)).energies
    near = np.sort(np.abs(e - data.fermi_level))[:2]
    assert near.max() < 2e-3  # two states at E_F at K (a 0.8 meV splitting from OpenMX's real-space grid)
    e_off = solve_k(data.hamiltonian, data.overlap, (0.30, 0.30, 0)).energies
    assert np.sort(np.abs(e_off - data.fermi_level))[0] > 0.2  # the cone opens away from K


def _conduction_band_near_k(data, q: float) -> float:
    """Lowest state above E_F at K + q (q along b1 - b2, fractional), eV from E_F."""
    k = np.array([1 / 3, 1 / 3, 0]) + q * np.array([1, -1, 0])
    e = solve_k(data.hamiltonian, data.overlap, k).energies - data.fermi_level
    return float(e[e > -1e-6].min())


def test_ab_bilayer_graphene_has_massive_chiral_bands_and_dimer_split_bands_at_k():
    """AB (Bernal) bilayer: at K two states at E_F and the interlayer dimer pair split by 2 gamma_1
    (gamma_1 = 0.3-0.4 eV in DFT and experiment); near K the bands are parabolic (E(2q)/E(q) close
    to 4, here about 3.3 from the crossover to linear at E ~ gamma_1 / 4), the monolayer's linear (2)."""
    bilayer = read_scfout(run_dir("bilayer_graphene_1x1") / "openmx.scfout")
    e = solve_k(bilayer.hamiltonian, bilayer.overlap, (1 / 3, 1 / 3, 0)).energies - bilayer.fermi_level
    near = np.sort(e[np.abs(e) < 1.0])
    assert len(near) == 4 and np.abs(near[1:3]).max() < 2e-3
    assert 0.6 < near[3] - near[0] < 0.8 and abs(near[3] + near[0]) < 0.05
    ratio_bilayer = _conduction_band_near_k(bilayer, 0.005) / _conduction_band_near_k(bilayer, 0.0025)
    monolayer = read_scfout(run_dir("graphene_1x1") / "openmx.scfout")
    ratio_monolayer = _conduction_band_near_k(monolayer, 0.01) / _conduction_band_near_k(monolayer, 0.005)
    assert 2.8 < ratio_bilayer < 4.2 and ratio_monolayer == pytest.approx(2.0, abs=0.05)


def test_mos2_gap_at_k_equals_openmx():
    """Direct gap at K from our bands = what OpenMX's printed eigenvalues imply (K is on the 9x9 mesh)."""
    folder = run_dir("mos2_1x1")
    data = read_scfout(folder / "openmx.scfout")
    ref = read_openmx_eigenvalues(folder / "openmx.out")
    kpts = snap_kpts(ref["kpts"], (9, 9, 1))
    nv = int(round(data.n_electrons / 2))
    at_k = [i for i, k in enumerate(kpts) if np.allclose(np.abs(k), [1 / 3, 1 / 3, 0], atol=1e-9)]
    assert at_k, "K is on the 9x9 mesh"
    openmx_gap = ref["eigenvalues"][0, at_k[0], nv] - ref["eigenvalues"][0, at_k[0], nv - 1]
    e = solve_k(data.hamiltonian, data.overlap, (1 / 3, 1 / 3, 0)).energies
    assert e[nv] - e[nv - 1] == pytest.approx(openmx_gap, abs=1e-4)
    assert 1.5 < openmx_gap < 2.0


@pytest.fixture(params=["superlu", "pardiso"])
def factorisation(request, monkeypatch):
    """Both factorisations of H - sigma S: SuperLU (forced even where MKL is installed) and PARDISO."""
    if request.param == "superlu":
        monkeypatch.setattr(pardiso, "available", lambda: False)
    elif not pardiso.available():
        pytest.skip("MKL PARDISO not installed (pip install mkl)")
    return request.param


def test_sparse_shift_invert_equals_dense(factorisation):
    data = read_scfout(run_dir("graphene_3x3_perturbed") / "openmx.scfout")
    for k in [(0, 0, 0), (0.13, 0.27, 0), (1 / 3, 1 / 3, 0)]:
        dense = solve_k(data.hamiltonian, data.overlap, k, method="dense")
        sparse = solve_k(data.hamiltonian, data.overlap, k, method="sparse", nbands=20, sigma=data.fermi_level)
        window = dense.energies[sparse.first_band:sparse.first_band + sparse.found]
        assert sparse.found == 20
        assert np.abs(window - sparse.energies).max() < 1e-8
        for energy in (-12.0, data.fermi_level, 2.5):
            assert count_states_below(data.hamiltonian.bloch(k).tocsc(), data.overlap.bloch(k).tocsc(),
                                      energy) == np.sum(dense.energies < energy)


def test_fermi_level_from_a_sparse_window_equals_the_full_one(factorisation):
    data = read_scfout(run_dir("graphene_3x3_perturbed") / "openmx.scfout")
    k, w = Mesh((3, 3, 1), False).points(data.atoms)
    full = np.array([[solve_k(data.hamiltonian, data.overlap, kk).energies for kk in k]])
    sols = [solve_k(data.hamiltonian, data.overlap, kk, method="sparse", nbands=16, sigma=data.fermi_level) for kk in k]
    window = np.array([[s.energies[:16] for s in sols]])
    first = np.array([[s.first_band for s in sols]])
    mu_full = find_fermi_level(full, w, data.n_electrons, Smearing())
    mu_window = find_fermi_level(window, w, data.n_electrons, Smearing(), first_band=first)
    assert mu_window == pytest.approx(mu_full, abs=1e-9)


def test_eigenvectors_and_near_singular_overlap_projection():
    data = read_scfout(run_dir("graphene_1x1") / "openmx.scfout")
    k = (0.1, 0.2, 0.0)
    sol = solve_k(data.hamiltonian, data.overlap, k, eigenvectors=True)
    s_k = data.overlap.to_dense(k)
    assert np.allclose(sol.vectors.conj().T @ s_k @ sol.vectors, np.eye(len(sol.energies)), atol=1e-8)
    assert np.allclose(data.hamiltonian.to_dense(k) @ sol.vectors, s_k @ sol.vectors * sol.energies, atol=1e-8)
    # an over-complete basis: a second atom 0.15 Å from the first duplicates its orbitals
    from ase_deeph2.overlap import OverlapTables
    shared_path("openmx", "PAO")
    tables = OverlapTables.from_pao(data.basis, [SHARED_PAO])
    near = data.atoms.copy()
    near += near[:1]
    near.positions[-1] += [0.15, 0.0, 0.0]
    s = tables.overlap_matrix(near)
    with pytest.warns(SingularOverlapWarning, match="nearly singular"):
        solve_k(s, s, k)
    projected = solve_k(s, s, k, project_overlap_below=1e-4, check_overlap=False)
    assert len(projected.energies) < s.n_orbitals and np.allclose(projected.energies, 1.0)
