"""Divide-and-conquer spectra: every orbital counted once, E_F in the gap of an insulator, and the
DOS of a tiled DFT crystal close to the exact one."""

import numpy as np
import pytest

from ase_deeph2.electronic import ElectronicStructure, SolverPolicy
from ase_deeph2.electronic.local import local_spectrum
from ase_deeph2.io import read_scfout
from conftest import run_dir


def test_clusters_count_every_orbital_once_and_find_the_gap():
    data = read_scfout(run_dir("mos2_1x1") / "openmx.scfout")
    n = 5
    h, s, atoms = data.hamiltonian.tile((n, n, 1)), data.overlap.tile((n, n, 1)), data.atoms.repeat((n, n, 1))
    local = local_spectrum(h, s, atoms, data.n_electrons * n * n, core_size=15, buffer=5.0, progress=False)
    assert local.clusters >= 5 and local.weights.sum() == pytest.approx(h.n_orbitals, rel=1e-10)
    exact = ElectronicStructure([h], s, data.n_electrons * n * n, atoms, policy=SolverPolicy(method="dense"))
    mesh = exact.on_mesh({"size": (1, 1, 1), "gamma": True})
    gap = exact.band_gap({"size": (1, 1, 1), "gamma": True}, special_points=False)
    assert gap.vbm < local.fermi_level < gap.cbm  # an insulator: E_F in the gap
    # occupied DOS (valence bands, broadened) agrees with the exact Γ spectrum of the supercell
    lo, hi = gap.vbm - 6.0, gap.vbm - 0.5
    grid, ours = local.dos(lo, hi, 301, width=0.3)
    _, theirs = exact.dos({"size": (1, 1, 1), "gamma": True}, lo, hi, 301, width=0.3)
    assert np.abs(ours - theirs["total"]).sum() / theirs["total"].sum() < 0.1
