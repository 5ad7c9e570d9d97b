"""The k-driver on real OpenMX matrices: the sparse window finds E_F, DOS sum rules, band structures
referred to E_F, isolated systems, two spin channels."""

import numpy as np
import pytest
from ase.units import kB

from ase_deeph2.blocks import BlockMatrix
from ase_deeph2.electronic import ElectronicStructure, Smearing, SolverPolicy
from ase_deeph2.io import read_scfout
from conftest import run_dir


def structure(name, **kw):
    data = read_scfout(run_dir(name) / "openmx.scfout")
    return data, ElectronicStructure(data.hamiltonians, data.overlap, data.n_electrons, data.atoms, basis=data.basis,
                                     smearing=Smearing("fermi-dirac", kB * data.info["electronic_temperature_K"]), **kw)


def test_dense_fermi_level_on_openmxs_mesh_is_openmxs():
    data, es = structure("graphene_3x3_perturbed")
    assert es.fermi_level((3, 3, 1)) == pytest.approx(data.fermi_level, abs=1e-6)


def test_the_sparse_window_moves_to_the_fermi_level_from_a_bad_guess():
    data, dense = structure("graphene_3x3_perturbed")
    _, sparse = structure("graphene_3x3_perturbed", policy=SolverPolicy(method="sparse", nbands=16),
                          reference_energy=data.fermi_level - 8.0)
    mu = sparse.fermi_level((3, 3, 1))
    assert mu == pytest.approx(dense.fermi_level((3, 3, 1)), abs=1e-7)
    assert sparse.on_mesh((3, 3, 1)).band_energy is None


def test_dos_and_mulliken_pdos_sum_rules():
    """Every state once, spin twice: the DOS integrates to 2 x orbitals per cell; Mulliken weights of
    a group integrate to 2 x its orbitals (sum_n q_mu,n = (C C^H S)_mu,mu = 1)."""
    data, es = structure("mos2_1x1")
    energies, dos = es.dos((3, 3, 1), npts=6001, width=0.05, projection="element")
    n_orb = data.hamiltonian.n_orbitals
    assert np.trapezoid(dos["total"], energies) == pytest.approx(2 * n_orb, rel=1e-4)
    assert np.trapezoid(dos["Mo"], energies) == pytest.approx(2 * 19, rel=1e-4)
    assert np.trapezoid(dos["S"], energies) == pytest.approx(2 * 2 * 13, rel=1e-4)
    assert np.allclose(dos["Mo"] + dos["S"], dos["total"], atol=1e-9 * dos["total"].max())
    _, by_l = es.dos((3, 3, 1), npts=6001, width=0.05, projection="l")
    assert set(by_l) == {"s", "p", "d", "total"}
    assert np.trapezoid(by_l["d"], energies) == pytest.approx(2 * (2 * 5 + 2 * 5), rel=1e-4)  # Mo d2 + 2 S d1


def test_band_structure_is_referred_to_the_fermi_level():
    data, es = structure("graphene_1x1")
    bs = es.band_structure("GKMG", npoints=61, fermi_spec=(9, 9, 1))
    assert bs.reference == 0.0
    k_index = int(np.argmin(np.linalg.norm(bs.path.kpts - [1 / 3, 1 / 3, 0], axis=1)))
    at_k = np.sort(np.abs(bs.energies[0, k_index]))[:2]
    assert at_k.max() < 3e-3  # the Dirac point sits at E - E_F = 0
    assert bs.energies.min() < -15 and bs.energies.max() > 15  # all states, in eV


def test_an_isolated_system_gets_gamma_only():
    """Keep only the R = 0 blocks of graphene: a C2 fragment in a box; no direction is periodic."""
    data = read_scfout(run_dir("graphene_1x1") / "openmx.scfout")
    keep = np.flatnonzero(~data.hamiltonian.pairs[:, :3].any(axis=1))
    h, s = data.hamiltonian.select(keep), data.overlap.aligned_to(data.hamiltonian).select(keep)
    es = ElectronicStructure([h], s, data.n_electrons, data.atoms)
    assert not es.periodic
    mesh = es.on_mesh(None)
    assert np.array_equal(mesh.kpts, np.zeros((1, 3)))
    gap = es.band_gap()
    assert gap.gap > 0.1 and np.array_equal(gap.k_vbm, np.zeros(3))
    with pytest.raises(ValueError, match="no periodic direction"):
        es.band_structure()


def test_two_spin_channels_are_kept_apart():
    """Down = up + 1.5 S: every down eigenvalue is the up one + 1.5 eV (a swapped or mixed channel fails)."""
    data = read_scfout(run_dir("graphene_1x1") / "openmx.scfout")
    up = data.hamiltonian
    down = up.with_data(up.data + 1.5 * data.overlap.aligned_to(up).data)
    es = ElectronicStructure([up, down], data.overlap, data.n_electrons, data.atoms, spin="collinear")
    mesh = es.on_mesh((9, 9, 1))  # holds K, where the shifted cones overlap
    assert np.allclose(mesh.eigenvalues[1], mesh.eigenvalues[0] + 1.5, atol=1e-9)
    f = Smearing().occupation(mesh.eigenvalues, mesh.fermi_level)
    n_up, n_down = (np.sum(f[s] * mesh.weights[:, None]) for s in (0, 1))
    assert n_up + n_down == pytest.approx(data.n_electrons, abs=1e-8) and n_up - n_down > 0.03  # K: 2/81 of an electron moved


def test_errors_name_the_problem():
    data = read_scfout(run_dir("graphene_1x1") / "openmx.scfout")
    with pytest.raises(ValueError, match="number of electrons is unknown"):
        ElectronicStructure(data.hamiltonians, data.overlap, None, data.atoms)
    empty = BlockMatrix(np.zeros((0, 5), np.int64), np.zeros(0), np.zeros(0, np.int64))
    with pytest.raises(ValueError, match="no atoms"):
        ElectronicStructure([empty], empty, 0.0, data.atoms[:0])
    with pytest.raises(ValueError, match="method must be"):
        SolverPolicy(method="lanczos")
