"""The shipped models against real DFT they never saw, and the physics a user relies on.

Held-out runs: ../shared/data/openmx/runs (graphene 3x3 perturbed with a new seed, the primitive
cells) and tests/data (an AB bilayer). Bounds: what benchmarks/pretrained_accuracy.py measured on
these runs (the cards), with a margin for float32 and thread counts.
"""

from __future__ import annotations

import json
import warnings

import numpy as np
import pytest
from ase.build import graphene

from ase_deeph2 import DeepH2Calculator
from ase_deeph2.calculator import OutOfDomainWarning
from ase_deeph2.cli import main as deeph2
from ase_deeph2.electronic import solve_k
from ase_deeph2.io import read_scfout
from ase_deeph2.pretrained import available, card
from ase_deeph2.spectrum_errors import spectrum_errors
from conftest import run_dir

MODELS = ["graphene-openmx", "mos2-openmx", "bilayer-graphene-openmx"]


def shipped(name):
    if name not in available():
        pytest.skip(f"{name} is not shipped in this checkout")
    return DeepH2Calculator(name, device="cpu")


def compare_on_dft(calc, data, kpts=None):
    """(H MAE meV, max band error within 1 eV of E_F (or of the gap edges) meV, E_F error meV, DFT gap,
    predicted gap), the bands of the DFT H and of the predicted H on the mesh ``kpts`` (default: the run's own)."""
    mae = calc.get_hamiltonian(data.atoms).error_stats(data.hamiltonian)["mae"] * 1000
    e = spectrum_errors(data, calc.get_data(data.atoms), kpts)  # the prediction above
    return mae, e.bands_max, e.fermi_level_error, e.gap_reference, e.gap_predicted


@pytest.mark.parametrize("name", MODELS)
def test_every_shipped_model_has_a_card_and_a_listing(name, capsys):
    calc = shipped(name)
    c = card(name)
    assert c["name"] == name and c["training"]["cpu_hours"] > 0
    assert c.get("held_out"), f"{name}: no held-out figures in the card (benchmarks/pretrained_accuracy.py --card)"
    assert calc.loaded.metadata.domain is not None and calc.loaded.metadata.valence_electrons
    assert deeph2(["models"]) == 0 and name in capsys.readouterr().out
    assert deeph2(["models", name]) == 0 and json.loads(capsys.readouterr().out)["name"] == name


def test_graphene_on_a_new_perturbed_supercell():
    calc = shipped("graphene-openmx")
    data = read_scfout(run_dir("graphene_3x3_perturbed") / "openmx.scfout")  # new seed, unstrained
    mae, bands_max, ef_error, _, _ = compare_on_dft(calc, data)
    assert mae < 0.45 and bands_max < 10.0 and abs(ef_error) < 3.0  # measured 0.304 meV, 5.5 meV, -2.2 meV (stage 6)


def test_graphene_dirac_cone_smoothness_and_precision_on_flat_sheets():
    """The pristine cell's Dirac point at E_F; a flat strained 8x8 sheet keeps its K degeneracy in
    the default dtype (float32) and moves H in proportion to 1e-6 Å out-of-plane displacements."""
    calc = shipped("graphene-openmx")
    primitive = read_scfout(run_dir("graphene_1x1") / "openmx.scfout").atoms
    primitive.calc = DeepH2Calculator(calc.loaded, kpts={"size": (9, 9, 1), "gamma": True})
    assert primitive.calc.band_gap().gap < 0.01
    sheet = graphene(a=2.46 * 1.04, vacuum=7.5).repeat((8, 8, 1))
    sheet.calc = DeepH2Calculator(calc.loaded)
    k_point = np.array([[8 / 3 % 1, 8 / 3 % 1, 0]])  # K of the primitive cell, folded into the 8x8 cell
    assert sheet.calc.band_gap(kpts=k_point).gap < 1e-3  # eV
    h0 = sheet.calc.get_hamiltonian().data.copy()
    moved = sheet.copy()
    moved.positions[:, 2] += np.random.default_rng(0).uniform(-1e-6, 1e-6, len(moved))
    change = np.abs(calc.get_hamiltonian(moved).data - h0).max()
    assert change < 5e-5  # eV: 0.05 meV


def test_graphene_domain_warns_for_a_rotated_bond_and_not_for_the_pristine_sheet():
    calc = shipped("graphene-openmx")
    sheet = graphene(a=2.46, vacuum=7.5).repeat((8, 8, 1))
    with warnings.catch_warnings():
        warnings.simplefilter("error", OutOfDomainWarning)
        calc.get_hamiltonian(sheet)
    defect = sheet.copy()
    i, j = 0, 1  # a bond: rotate it by 30 degrees about its midpoint
    mid = 0.5 * (defect.positions[i] + defect.positions[j])
    c, s = np.cos(np.pi / 6), np.sin(np.pi / 6)
    for k in (i, j):
        d = defect.positions[k] - mid
        defect.positions[k, :2] = mid[:2] + [c * d[0] - s * d[1], s * d[0] + c * d[1]]
    with pytest.warns(OutOfDomainWarning, match="atoms"):
        calc.get_hamiltonian(defect)
    assert calc.domain_report


def test_graphene_model_warns_on_a_bilayer_it_was_never_trained_on():
    """Interlayer pairs at 3.35 Å and atoms with a second layer above them are outside a monolayer
    model's training domain: the warning names them."""
    calc = shipped("graphene-openmx")
    bilayer = read_scfout(run_dir("bilayer_graphene_1x1") / "openmx.scfout").atoms
    with pytest.warns(OutOfDomainWarning, match="atoms"):
        calc.get_hamiltonian(bilayer)
    assert calc.domain_report


def test_mos2_gap_and_band_edges_on_a_new_supercell_and_the_primitive_cell():
    calc = shipped("mos2-openmx")
    data = read_scfout(run_dir("mos2_3x3_perturbed") / "openmx.scfout")
    mae, bands_max, _, gap_dft, gap_pred = compare_on_dft(calc, data)
    assert mae < 0.55 and bands_max < 10.0  # measured 0.452 meV, 8.42 meV (stage 11): short of the 0.5 meV goal on new seeds (card)
    assert abs(gap_pred.gap - gap_dft.gap) < 0.004  # eV; measured -1.1 meV
    assert np.allclose(gap_pred.k_vbm, gap_dft.k_vbm) and np.allclose(gap_pred.k_cbm, gap_dft.k_cbm)
    pristine = read_scfout(run_dir("mos2_1x1") / "openmx.scfout")
    atoms = pristine.atoms.copy()
    atoms.calc = DeepH2Calculator(calc.loaded, kpts={"size": (9, 9, 1), "gamma": True})
    gap = atoms.calc.band_gap()
    assert not gap.direct and np.allclose(gap.k_vbm, 0) and np.allclose(np.abs(gap.k_cbm), [1 / 3, 1 / 3, 0])


def test_bilayer_graphene_on_the_ab_primitive_cell():
    calc = shipped("bilayer-graphene-openmx")
    # AB at 3.35 Å, never trained on (the nearest training cell: a pristine AB primitive cell 3.378 Å apart,
    # itself in the validation split)
    data = read_scfout(run_dir("bilayer_graphene_1x1") / "openmx.scfout")
    mae, bands_max, ef_error, _, _ = compare_on_dft(calc, data, (9, 9, 1))
    assert mae < 0.14 and bands_max < 6.0 and abs(ef_error) < 6.0  # measured 0.117, 2.9, -2.9 meV (card; stage 4: 0.099)


def test_bilayer_model_keeps_the_ab_dimer_split_and_the_touching_bands_at_k():
    """At K of the AB bilayer the four states near E_F are the dimer pair split by 2 gamma_1 and two
    degenerate states at E_F (massive chiral bands): the predicted H has both, as OpenMX's H."""
    calc = shipped("bilayer-graphene-openmx")
    dft = read_scfout(run_dir("bilayer_graphene_1x1") / "openmx.scfout")
    predicted = calc.get_data(dft.atoms)
    k = (1 / 3, 1 / 3, 0)
    e_dft = solve_k(dft.hamiltonian, dft.overlap, k).energies
    e_pred = solve_k(predicted.hamiltonian, predicted.overlap, k).energies
    bands = np.flatnonzero(np.abs(e_dft - dft.fermi_level) < 1.0)
    assert len(bands) == 4
    split_dft, split_pred = (e[bands[3]] - e[bands[0]] for e in (e_dft, e_pred))
    assert 0.6 < split_dft < 0.8 and abs(split_pred - split_dft) < 0.01  # eV; measured 0.683 vs 0.683 (stage 3: 0.682)
    assert abs(e_pred[bands[2]] - e_pred[bands[1]]) < 2e-3


def test_bilayer_model_restores_the_interlayer_step_of_a_held_out_cell():
    """A perturbed 3x3 bilayer it never saw (tests/data, 6x6 k): DFT's step between the layers is +25.5 meV,
    set by the charge the cell moves between them. The model predicts H without it and the calculator
    solves it self-consistently; without that the bands near E_F are off by twice as much."""
    from ase_deeph2.electronic.interlayer import onsite_layer_step, two_layers
    from ase_deeph2.io import read_deeph

    data = read_deeph(run_dir("bilayer_graphene_3x3_k6_s0014"))
    layer = two_layers(data.atoms)
    errors = {}
    for restored in (True, False):
        calc = DeepH2Calculator(shipped("bilayer-graphene-openmx").loaded, kpts=(6, 6, 1), interlayer_step=restored)
        predicted = calc.get_data(data.atoms)
        errors[restored] = spectrum_errors(data, predicted).bands_max
        if restored:
            step = onsite_layer_step(predicted.hamiltonian, layer) * 1000
            assert 10 < step < 35 and calc.layer_step.step * 1000 == pytest.approx(step, abs=6)  # measured 16.5 meV
    assert errors[True] < 9.0 and errors[False] > 1.3 * errors[True]  # measured 6.9 and 11.2 meV
