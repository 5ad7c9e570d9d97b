"""The interlayer step: layers, the step operator, the Mulliken layer charge against OpenMX's own
Mulliken populations (real runs, marked ``openmx``) and the self-consistent step against an analytic
two-level bilayer."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest
from ase import Atoms
from scipy.optimize import brentq

from ase_deeph2.blocks import BlockMatrix
from ase_deeph2.cli import main as deeph2
from ase_deeph2.electronic import Mesh, Smearing
from ase_deeph2.electronic.interlayer import (LayerCharge, cell_area, fit_layer_coupling, layer_index, layer_mesh_points,
                                              layer_step_operator, onsite_layer_step, solve_layer_step, two_layers)
from ase_deeph2.io import read_deeph, read_scfout, scf_mesh
from ase_deeph2.training.interlayer import remove_layer_step, run_smearing
from ase_deeph2.training.structures import bilayer
from conftest import openmx_binary, openmx_data_path, run_dir

KT = 0.025  # eV


def flat_bilayer(split: float) -> tuple[Atoms, BlockMatrix, BlockMatrix]:
    """One orbital per layer, no hopping, orthonormal: levels at +split/2 (upper) and -split/2 (lower)."""
    atoms = Atoms("CC", positions=[[0, 0, 8.3], [0, 0, 11.7]], cell=[2.5, 2.5, 20.0], pbc=True)
    pairs = np.array([[0, 0, 0, 0, 0], [0, 0, 0, 1, 1]])
    h = BlockMatrix(pairs, np.array([-split / 2, split / 2]), [1, 1])
    return atoms, h, h.with_data(np.ones(2))


def openmx_layer_transfer(out: Path, layer: np.ndarray) -> float:
    """Upper minus lower layer's electrons in OpenMX's printed Mulliken populations."""
    block = out.read_text().split("Mulliken populations")[1].split("Decomposed")[0]
    q = np.array([float(m.group(1)) for m in re.finditer(r"^\s+\d+\s+[A-Z][a-z]?\s+\S+\s+\S+\s+(\S+)", block, re.M)])
    assert len(q) == len(layer)
    return float(q[layer == 1].sum() - q[layer == 0].sum())


def test_layers_are_split_at_vertical_gaps():
    assert layer_index(np.array([5.0, 8.4, 5.1, 8.3])).tolist() == [0, 1, 0, 1]
    assert layer_index(np.array([0.0, 1.56, 3.12])).tolist() == [0, 0, 0]  # an MoS2 sheet is one layer
    assert two_layers(bilayer((0, 0), 3.35, reps=(1, 1, 1))).tolist() == [0, 0, 1, 1]
    from ase.build import graphene
    assert two_layers(graphene(a=2.46, vacuum=7.5)) is None  # one layer
    chain = bilayer((0, 0), 3.35, reps=(1, 1, 1))
    chain.pbc = [True, False, True]
    assert two_layers(chain) is None  # not periodic in the plane


def test_step_operator_shifts_each_layer_by_half_the_step():
    data = read_scfout(run_dir("bilayer_graphene_1x1") / "openmx.scfout")
    layer = two_layers(data.atoms)
    m = layer_step_operator(data.overlap, layer)
    assert onsite_layer_step(m, layer) == pytest.approx(1.0, abs=1e-5)  # PAOs are normalised to 1e-6
    shifted = data.hamiltonian.with_data(data.hamiltonian.data + 0.1 * m.data)
    assert onsite_layer_step(shifted, layer) - onsite_layer_step(data.hamiltonian, layer) == pytest.approx(0.1, abs=1e-6)
    assert m.hermiticity_error() < 1e-12


def test_flat_bilayer_charge_and_step_are_analytic():
    atoms, h, s = flat_bilayer(0.04)
    layer = two_layers(atoms)
    charge = LayerCharge(h, s, layer, 2.0, np.zeros((1, 3)), np.ones(1), Smearing("fermi-dirac", KT))
    for v in (0.0, 0.03, -0.1):  # two electrons on the levels -+(split + v)/2: mu = 0 by symmetry
        dq, mu = charge.transfer(v)
        assert dq == pytest.approx(-2 * np.tanh((0.04 + v) / (4 * KT)), abs=1e-10) and mu == pytest.approx(0, abs=1e-10)
    coupling, area = 3.0 * cell_area(atoms), cell_area(atoms)  # U = 3 eV per electron
    exact = brentq(lambda v: v + 2 * 3.0 * np.tanh((0.04 + v) / (4 * KT)), -1, 1, xtol=1e-12)
    solution = solve_layer_step(charge, coupling, area)
    assert solution.step == pytest.approx(exact, abs=2e-5) and solution.evaluations <= 8
    assert exact < 0 and abs(exact) < 0.04  # the response screens the bare split without reversing it


def test_without_coupling_there_is_no_step_and_bad_couplings_are_named():
    atoms, h, s = flat_bilayer(0.04)
    charge = LayerCharge(h, s, two_layers(atoms), 2.0, np.zeros((1, 3)), np.ones(1))
    assert solve_layer_step(charge, 0.0, cell_area(atoms)).step == 0.0
    with pytest.raises(ValueError, match="coupling must be >= 0"):
        solve_layer_step(charge, -1.0, cell_area(atoms))


def test_coupling_fit_recovers_a_capacitor():
    rng = np.random.default_rng(0)
    transfers, areas = rng.normal(0, 0.01, 12), rng.choice([5.2, 47.0], 12)
    steps = 100.0 * transfers / areas
    kappa, correlation = fit_layer_coupling(steps, transfers, areas)
    assert kappa == pytest.approx(100.0) and correlation == pytest.approx(1.0)
    with pytest.raises(ValueError, match="two or more bilayers"):
        fit_layer_coupling(steps[:1], transfers[:1], areas[:1])


def test_a_step_pushes_electrons_down_the_same_on_the_reduced_and_the_full_mesh():
    data = read_scfout(run_dir("bilayer_graphene_1x1") / "openmx.scfout")  # AB: inversion swaps the layers
    layer = two_layers(data.atoms)
    mesh = Mesh((6, 6, 1), False)
    k, w = layer_mesh_points(data.atoms, mesh, layer)
    k_full, w_full = mesh.points(data.atoms, symmetry=False)
    assert len(k) < len(k_full) and w.sum() == pytest.approx(1.0)
    reduced = LayerCharge(data.hamiltonian, data.overlap, layer, data.n_electrons, k, w)
    full = LayerCharge(data.hamiltonian, data.overlap, layer, data.n_electrons, k_full, w_full)
    assert abs(reduced.transfer(0.0)[0]) < 1e-6  # equivalent layers hold equal charge
    dq = reduced.transfer(0.05)[0]
    assert dq < -1e-3 and dq == pytest.approx(full.transfer(0.05)[0], abs=1e-7)


def test_layer_charge_of_a_perturbed_3x3_bilayer_is_openmxs_mulliken():
    """36 atoms, 6x6 k (tests/data: a held-out cell of the bilayer model): the charge DFT's H and S
    move to the upper layer is what OpenMX prints, 9.64 me, and its interlayer step is +25.5 meV."""
    folder = run_dir("bilayer_graphene_3x3_k6_s0014")
    data = read_deeph(folder)
    layer = two_layers(data.atoms)
    k, w = layer_mesh_points(data.atoms, Mesh(scf_mesh(data), False), layer)
    dq, mu = LayerCharge(data.hamiltonian, data.overlap, layer, data.n_electrons, k, w, run_smearing(data)).transfer(0.0)
    assert dq == pytest.approx(openmx_layer_transfer(folder / "openmx.out", layer), abs=1e-6)
    assert mu == pytest.approx(data.fermi_level, abs=1e-4)
    assert onsite_layer_step(data.hamiltonian, layer) == pytest.approx(0.0255, abs=5e-4)


@pytest.mark.openmx
def test_layer_charge_of_dft_h_is_openmxs_mulliken_and_the_step_is_removed(tmp_path):
    """A perturbed 1x1 AB bilayer through the real OpenMX (80 Ry, 6x6 k; ~1 min): the layers'
    Mulliken charge from its H and S on its mesh equals the populations OpenMX prints."""
    structure = tmp_path / "ab.xyz"
    bilayer((2 / 3, 1 / 3), 3.35, reps=(1, 1, 1)).write(structure)
    code = deeph2(["dft", str(structure), "-o", str(tmp_path / "out"), "--count", "1", "--sigma", "0.08", "--seed", "3",
                   "--kpts", "6", "6", "1", "--set", "scf.energycutoff=80", "--openmx", str(openmx_binary()),
                   "--data-path", str(openmx_data_path()), "--no-progress"])
    assert code == 0
    data = read_deeph(tmp_path / "out" / "deeph" / "s0000")
    layer = two_layers(data.atoms)
    k, w = layer_mesh_points(data.atoms, Mesh(scf_mesh(data), False), layer)
    charge = LayerCharge(data.hamiltonian, data.overlap, layer, data.n_electrons, k, w, run_smearing(data))
    dq, mu = charge.transfer(0.0)
    reference = openmx_layer_transfer(tmp_path / "out" / "runs" / "s0000" / "openmx.out", layer)
    assert abs(reference) > 1e-3  # the perturbation moves charge between the layers
    assert dq == pytest.approx(reference, abs=1e-5) and mu == pytest.approx(data.fermi_level, abs=1e-4)
    stepless, record = remove_layer_step(data)
    assert record.transfer == pytest.approx(dq) and record.area == pytest.approx(cell_area(data.atoms))
    assert record.step == pytest.approx(onsite_layer_step(data.hamiltonian, layer))
    assert abs(onsite_layer_step(stepless, layer)) < 1e-6
