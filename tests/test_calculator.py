"""DeepH2Calculator mechanics with a small untrained model (exact overlap, caching, ASE protocol,
out-of-domain handling, DeepH output). The accuracy of the shipped model: test_pretrained.py."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from ase.dft.dos import DOS

from ase_deeph2 import DeepH2Calculator
from ase_deeph2.calculator import OutOfDomainWarning
from ase_deeph2.io import read_deeph, read_scfout
from ase_deeph2.model import load_model, save_model

from conftest import run_dir, shared_path


@pytest.fixture(scope="module")
def graphene():
    return read_scfout(run_dir("graphene_1x1") / "openmx.scfout")


def test_exact_overlap_and_openmx_pairs(graphene, tiny_model_file):
    calc = DeepH2Calculator(tiny_model_file, device="cpu")
    s, h = calc.get_overlap(graphene.atoms), calc.get_hamiltonian(graphene.atoms)
    assert np.array_equal(h.pairs, s.pairs)
    assert sorted(map(tuple, h.pairs)) == sorted(map(tuple, graphene.overlap.pairs))
    assert np.abs(s.to_dense((0.1, 0.2, 0)) - graphene.overlap.to_dense((0.1, 0.2, 0))).max() < 1e-10
    assert h.hermiticity_error() < 1e-10


def test_attached_atoms_follow_ase_protocol(graphene, tiny_model_file, tmp_path):
    import scipy.linalg as sl
    from ase.units import kB
    atoms = graphene.atoms.copy()
    atoms.calc = DeepH2Calculator(tiny_model_file, device="cpu", kpts=(6, 6, 1))
    bs = atoms.calc.band_structure(npoints=20)  # no prior get_potential_energy()
    h, s = atoms.calc.get_hamiltonian(), atoms.calc.get_overlap()
    assert atoms.calc.get_hamiltonian() is h  # predicted once per structure
    ef = atoms.calc.get_fermi_level()
    direct = np.array([sl.eigvalsh(h.to_dense(k), s.to_dense(k)) for k in bs.path.kpts]) - ef
    assert np.abs(bs.energies[0] - direct).max() < 1e-9  # E - E_F along the path, every state
    # E_F holds the 8 valence electrons of C2 on the 6x6 mesh
    k, w = atoms.calc.get_ibz_k_points(), atoms.calc.get_k_point_weights()
    eig = np.array([sl.eigvalsh(h.to_dense(kk), s.to_dense(kk)) for kk in k])
    assert 2 * np.sum(w[:, None] / (1 + np.exp(np.minimum((eig - ef) / (kB * 300), 700)))) == pytest.approx(8.0, abs=1e-8)
    dos = DOS(atoms.calc, width=0.2, npts=40000)
    n_states = np.trapezoid(dos.get_dos(), dos.get_energies())
    assert n_states == pytest.approx(2 * graphene.hamiltonian.n_orbitals, rel=0.02)  # spin x orbitals
    atoms.positions[0] += (0.05, 0.0, 0.0)
    moved = atoms.calc.get_hamiltonian()
    assert moved is not h and np.abs(moved.data - h.data).max() > 1e-6  # moved atoms: new prediction
    k, w = atoms.calc.get_ibz_k_points(), atoms.calc.get_k_point_weights()  # less symmetry now
    eig = np.array([sl.eigvalsh(moved.to_dense(kk), atoms.calc.get_overlap().to_dense(kk)) for kk in k])
    assert 2 * np.sum(w[:, None] / (1 + np.exp(np.minimum((eig - atoms.calc.get_fermi_level()) / (kB * 300), 700)))) == \
        pytest.approx(8.0, abs=1e-8)


def test_structures_outside_the_training_domain_warn_and_inside_do_not(graphene, tiny_model_file):
    calc = DeepH2Calculator(tiny_model_file, device="cpu")
    atoms = graphene.atoms.copy()
    atoms.symbols[1] = "N"
    with pytest.raises(ValueError, match=r"\['N'\].*atom 1"):
        calc.get_hamiltonian(atoms)
    squeezed = graphene.atoms.copy()
    squeezed.set_cell(squeezed.cell * [0.85, 0.85, 1.0], scale_atoms=True)
    with pytest.warns(OutOfDomainWarning, match=r"C-C pair\(s\) at distances no training pair has.*atoms \d+ and \d+"):
        calc.get_hamiltonian(squeezed)
    stretched = graphene.atoms.copy()
    stretched.set_cell(stretched.cell * [1.2, 1.2, 1.0], scale_atoms=True)  # bonds longer than any in training
    with pytest.warns(OutOfDomainWarning, match="C-C pair"):
        calc.get_hamiltonian(stretched)
    assert calc.domain_report.unseen_pairs["C-C"][2] > 1.65
    with warnings.catch_warnings():
        warnings.simplefilter("error", OutOfDomainWarning)
        calc.get_hamiltonian(graphene.atoms)  # the pristine sheet is inside: silent
    assert not calc.domain_report


def test_model_choice_errors(graphene, tiny_model_file, tmp_path):
    with pytest.raises(ValueError, match="no shipped model named 'no-such-model'.*graphene-openmx"):
        DeepH2Calculator("no-such-model")
    loaded = load_model(tiny_model_file, device="cpu")
    bare = save_model(tmp_path / "bare.pt", loaded.model, metadata=loaded.metadata)
    with pytest.raises(ValueError, match="no overlap tables; pass pao_dirs"):
        DeepH2Calculator(bare)
    calc = DeepH2Calculator(bare, pao_dirs=[shared_path("openmx", "PAO")], valence_electrons={"C": 4})
    assert calc.get_overlap(graphene.atoms).n_pairs == graphene.overlap.n_pairs
    no_valence = save_model(tmp_path / "nov.pt", loaded.model, extras=loaded.extras)
    atoms = graphene.atoms.copy()
    atoms.calc = DeepH2Calculator(no_valence)
    with pytest.raises(ValueError, match=r"valence_electrons=\{'C': ...\}"):
        atoms.calc.get_fermi_level()


def test_prediction_written_as_deeph_reads_back(graphene, tiny_model_file, tmp_path):
    calc = DeepH2Calculator(tiny_model_file, device="cpu")
    h = calc.get_hamiltonian(graphene.atoms)
    for legacy in (False, True):
        folder = calc.write_deeph(tmp_path / f"pred{legacy}", graphene.atoms, legacy=legacy)
        back = read_deeph(folder)
        assert np.abs(back.hamiltonian.to_dense((0.25, 0, 0)) - h.to_dense((0.25, 0, 0))).max() < 1e-12
        assert back.n_electrons == 8


def test_a_bilayer_gets_the_self_consistent_interlayer_step(tiny_model_file, tmp_path):
    from ase_deeph2.electronic import Mesh
    from ase_deeph2.electronic.interlayer import (LayerCharge, cell_area, layer_mesh_points, layer_step_operator,
                                                  onsite_layer_step, two_layers)
    from ase_deeph2.model import LayerCoupling
    from ase_deeph2.training.structures import bilayer

    atoms = bilayer((0.2, 0.1), 3.35, reps=(1, 1, 1))
    atoms.positions[2, 2] += 0.1  # the layers differ: charge moves between them
    loaded = load_model(tiny_model_file, device="cpu")
    plain = DeepH2Calculator(loaded, kpts=(4, 4, 1), check_domain=False)
    raw = plain.get_hamiltonian(atoms)
    assert plain.layer_step is None  # the model has no coupling
    with pytest.raises(ValueError, match="no interlayer coupling"):
        DeepH2Calculator(loaded, interlayer_step=True)
    loaded.metadata.interlayer = LayerCoupling(coupling=120.0, correlation=0.9, structures=30, gap=2.5)
    path = save_model(tmp_path / "coupled.pt", loaded.model, metadata=loaded.metadata, extras=loaded.extras)
    calc = DeepH2Calculator(path, kpts=(4, 4, 1), check_domain=False)
    h = calc.get_hamiltonian(atoms)
    step = calc.layer_step
    layer = two_layers(atoms)
    operator = layer_step_operator(calc.get_overlap(atoms), layer)
    assert step is not None and abs(step.step) > 1e-4 and step.area == pytest.approx(cell_area(atoms))
    assert np.allclose(h.data, raw.data + step.step * operator.data)
    assert onsite_layer_step(h, layer) - onsite_layer_step(raw, layer) == pytest.approx(step.step, abs=1e-5)
    k, w = layer_mesh_points(atoms, Mesh((4, 4, 1), False), layer)
    charge = LayerCharge(raw, calc.get_overlap(atoms), layer, calc.n_electrons, k, w)
    assert step.step == pytest.approx(120.0 / cell_area(atoms) * charge.transfer(step.step)[0], abs=2e-5)
    calc.set(kpts=(2, 2, 1))  # the step follows the Fermi-level mesh
    calc.get_hamiltonian(atoms)
    assert calc.layer_step.step != step.step
    off = DeepH2Calculator(path, kpts=(4, 4, 1), check_domain=False, interlayer_step=False)
    assert np.array_equal(off.get_hamiltonian(atoms).data, raw.data) and off.layer_step is None
