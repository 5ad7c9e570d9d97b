"""Occupations, Fermi level and band gap against closed forms and OpenMX's chemical potential."""

import numpy as np
import pytest
from ase.units import kB

from ase_deeph2.electronic import Smearing, band_gap, find_fermi_level
from ase_deeph2.electronic.occupations import electron_count
from ase_deeph2.electronic.solvers import solve_k
from ase_deeph2.electronic.kpoints import mesh_of
from ase_deeph2.io import read_scfout
from conftest import ALL_RUNS, run_dir

KT = float(kB * 300.0)


def test_fermi_dirac_and_gaussian_occupations_are_the_textbook_functions():
    fd, gauss = Smearing("fermi-dirac", KT), Smearing("gaussian", 0.1)
    x = np.array([-2.0, -1.0, 0.0, 1.0, 3.0])
    assert np.allclose(fd.occupation(x * KT, 0.0), 1 / (1 + np.exp(x)), rtol=1e-14)
    from scipy.special import erfc
    assert np.allclose(gauss.occupation(x * 0.1, 0.0), 0.5 * erfc(x), rtol=1e-14)
    # electrons per cell: two spin-degenerate levels, k weights 1/4 and 3/4
    eig = np.array([[[-0.05, 0.02], [0.0, 0.04]]])
    w = np.array([0.25, 0.75])
    expected = 2 * sum(wk * (1 / (1 + np.exp(e / KT))).sum() for wk, e in zip(w, eig[0]))
    assert electron_count(eig, w, 0.0, fd, 2.0) == pytest.approx(expected, rel=1e-14)


def test_metal_fermi_level_is_the_root_of_the_electron_count():
    """Evenly spaced levels, half filled: mu is the closed-form point where the count is right."""
    eig = np.linspace(-1, 1, 41)[None, None, :]
    mu = find_fermi_level(eig, np.array([1.0]), 41.0 - 3.0, Smearing("fermi-dirac", KT), 2.0)
    count = 2 * np.sum(1 / (1 + np.exp((eig - mu) / KT)))
    assert count == pytest.approx(38.0, abs=1e-9)
    assert eig[0, 0, 18] < mu < eig[0, 0, 19]


@pytest.mark.parametrize("g_valence, g_conduction", [(4, 1), (1, 3), (2, 2)])
def test_insulator_chemical_potential_is_the_intrinsic_level(g_valence, g_conduction):
    """Gap 1.6 eV at 300 K: thermal electrons balance holes where mu = mid-gap + kT/2 ln(g_v / g_c)
    (exact to 1e-20 here); not the mid-gap, not anywhere else in the gap."""
    ev, ec = -0.8, 0.8
    eig = np.array([[[-5.0] * 3 + [ev] * g_valence + [ec] * g_conduction + [6.0]]])
    n = 2.0 * (3 + g_valence)  # valence band exactly full
    mu = find_fermi_level(eig, np.array([1.0]), n, Smearing("fermi-dirac", KT), 2.0)
    assert mu == pytest.approx(0.5 * (ev + ec) + 0.5 * KT * np.log(g_valence / g_conduction), abs=1e-9)


def test_gap_of_a_semiconductor_a_semimetal_and_a_metal():
    k = np.array([[0, 0, 0], [0.5, 0, 0], [1 / 3, 1 / 3, 0]])
    semi = np.array([[[-2.0, -1.0, 0.5], [-2.0, -0.6, 0.9], [-2.0, -0.8, 0.2]]])
    g = band_gap(semi, k, 0.0, n_filled=2)
    assert g.gap == pytest.approx(0.2 - (-0.6)) and not g.direct and not g.metal
    assert np.allclose(g.k_vbm, [0.5, 0, 0]) and np.allclose(g.k_cbm, [1 / 3, 1 / 3, 0])
    dirac = np.array([[[-1.0, 0.3], [-0.4, 0.4], [-1e-7, 1e-7]]])
    assert band_gap(dirac, k, 0.0, n_filled=1).gap == pytest.approx(2e-7) and band_gap(dirac, k, 0.0, 1).direct
    metal = np.array([[[-1.0, 0.3], [0.4, 0.9], [-0.5, 0.5]]])  # band 0 reaches above band 1's minimum
    m = band_gap(metal, k, 0.1, n_filled=1)
    assert m.metal and m.gap == 0.0 and str(m).startswith("no gap: a metal")


def test_states_near_the_band_edges_or_the_fermi_level():
    k = np.array([[0, 0, 0], [0.5, 0, 0]])
    semi = np.array([[[-2.5, -1.2, -0.5, 0.5, 1.4, 1.6], [-1.8, -1.4, -0.9, 0.8, 1.2, 2.0]]])
    g = band_gap(semi, k, 0.0, n_filled=3)  # VBM -0.5, CBM 0.5: states in (-1.5, 1.5) count
    assert g.states_near_edges(semi, 0.0).sum() == 8 and not g.states_near_edges(semi, 0.0)[0, 0, 0]
    dirac = np.array([[[-2.0, -0.9, 0.0, 0.0, 0.95, 1.1]]])
    d = band_gap(dirac, k[:1], 0.0, n_filled=3)  # a semimetal: within 1 eV of E_F = 0.02 eV
    assert d.states_near_edges(dirac, 0.02).tolist() == [[[False, True, True, True, True, False]]]


def test_smearing_and_electron_count_errors():
    with pytest.raises(ValueError, match="smearing must be"):
        Smearing("cold")
    with pytest.raises(ValueError, match="cannot be placed"):
        find_fermi_level(np.array([[[-1.0, 0.0, 2.0]]]), np.array([1.0]), 8.0)


@pytest.mark.parametrize("name", ALL_RUNS)
def test_fermi_level_against_openmx(name):
    """Metals/semimetals: within 2 meV of OpenMX's chemical potential. Insulators: OpenMX stops its
    bisection anywhere in the gap once the count is right to 1e-14, so both must lie in the gap."""
    data = read_scfout(run_dir(name) / "openmx.scfout")
    mesh = mesh_of(data.atoms, tuple(int(x) for x in data.info["keywords"]["scf.kgrid"].split()))
    k, w = mesh.points(data.atoms, symmetry=False)
    eig = np.array([[solve_k(data.hamiltonian, data.overlap, kk, check_overlap=False).energies for kk in k]])
    smearing = Smearing("fermi-dirac", kB * data.info["electronic_temperature_K"])
    mu = find_fermi_level(eig, w, data.n_electrons, smearing, 2.0)
    gap = band_gap(eig, k, mu)
    if gap.gap < 20 * smearing.width:
        assert abs(mu - data.fermi_level) < 2e-3, f"{name}: {mu:.5f} vs OpenMX {data.fermi_level:.5f} eV"
    else:
        assert gap.vbm < mu < gap.cbm and gap.vbm < data.fermi_level < gap.cbm
    kibz, wibz = mesh.points(data.atoms, symmetry=True)
    eig_ibz = np.array([[solve_k(data.hamiltonian, data.overlap, kk, check_overlap=False).energies for kk in kibz]])
    assert len(kibz) < len(k) or len(k) < 10
    # (OpenMX's H breaks the lattice symmetry by ~1e-4 eV: its real-space grid)
    assert find_fermi_level(eig_ibz, wibz, data.n_electrons, smearing, 2.0) == pytest.approx(mu, abs=1e-4)
