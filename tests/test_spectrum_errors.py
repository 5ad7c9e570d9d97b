"""spectrum_errors against exact cases: H + c S shifts every band by c (the generalised eigenproblem
H x = E S x), and the errors must say a rigid shift of c and nothing else."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from ase_deeph2.io import read_scfout, scf_mesh
from ase_deeph2.spectrum_errors import same_k, spectrum_errors
from conftest import run_dir


def shifted(data, c: float):
    """``data`` with H -> H + c S (eV): the same eigenvectors, every eigenvalue + c."""
    h = data.hamiltonian
    moved = h.with_data(h.data + c * data.overlap.aligned_to(h).data)
    return dataclasses.replace(data, hamiltonians=[moved], source="shifted")


@pytest.mark.parametrize("run", ["graphene_1x1", "mos2_1x1"])  # a semimetal (E_F reference) and an insulator (VBM)
def test_a_rigid_shift_is_seen_as_one(run):
    data = read_scfout(run_dir(run) / "openmx.scfout")
    same = spectrum_errors(data, data)
    assert same.bands_max == 0 and same.fermi_level_error == 0 and same.gap_error == 0 and same.edges_at_same_k
    e = spectrum_errors(data, shifted(data, 0.004))
    assert e.states > 0
    assert e.bands_mae == pytest.approx(4.0, abs=1e-6) and e.bands_max == pytest.approx(4.0, abs=1e-6)  # meV
    assert e.fermi_level_error == pytest.approx(4.0, abs=1e-4)
    assert e.bands_aligned_max < 1e-4 and abs(e.gap_error) < 1e-6 and e.edges_at_same_k
    assert e.as_dict()["bands_near_EF_max"] == e.bands_max


def test_the_run_mesh_is_the_default_and_its_absence_is_said():
    data = read_scfout(run_dir("mos2_1x1") / "openmx.scfout")
    grid = tuple(int(x) for x in data.info["keywords"]["scf.kgrid"].split()[:3])
    assert scf_mesh(data) == grid
    blind = dataclasses.replace(data, info={})
    with pytest.raises(ValueError, match="k mesh is unknown"):
        spectrum_errors(blind, blind)
    assert spectrum_errors(blind, blind, kpts=grid).states == spectrum_errors(data, data).states


def test_another_structure_is_refused():
    graphene = read_scfout(run_dir("graphene_1x1") / "openmx.scfout")
    mos2 = read_scfout(run_dir("mos2_1x1") / "openmx.scfout")
    with pytest.raises(ValueError, match="not the structure"):
        spectrum_errors(graphene, mos2)


def test_k_points_equal_up_to_a_reciprocal_vector_and_time_reversal():
    k = np.array([1 / 3, 1 / 3, 0])
    assert same_k(k, k + [1, 0, 0]) and same_k(k, -k) and same_k(k, [2 / 3, 2 / 3, 0])
    assert not same_k(k, [0, 0, 0])
