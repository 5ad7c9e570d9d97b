"""Inference in atom groups with halos equals the one-pass prediction; groups are compact."""

import numpy as np
import torch

from ase_deeph2.io import read_scfout
from ase_deeph2.model import predict
from ase_deeph2.graph import core_groups, halo
from conftest import run_dir
from model_helpers import make_model


def test_groups_cover_every_atom_once_and_halos_grow_by_hops():
    rng = np.random.default_rng(0)
    positions = rng.uniform(0, 30, size=(500, 3))
    groups = core_groups(positions, 64)
    assert sorted(np.concatenate(groups).tolist()) == list(range(500))
    assert max(len(g) for g in groups) <= 64
    ring = np.array([[0, 0, 0, i, (i + 1) % 10] for i in range(10)] + [[0, 0, 0, (i + 1) % 10, i] for i in range(10)])
    assert halo(ring, 10, np.array([0]), 2).tolist() == [0, 1, 2, 8, 9]


def test_grouped_prediction_equals_one_pass():
    data = read_scfout(run_dir("graphene_3x3_perturbed") / "openmx.scfout")
    atoms = data.atoms.repeat((2, 2, 1))  # 72 atoms: groups of 10 need halos through periodic images
    model = make_model(data.basis)
    whole = predict(model, atoms, atom_chunk=None)
    grouped = predict(model, atoms, atom_chunk=10)
    assert np.array_equal(whole.hamiltonian.pairs, grouped.hamiltonian.pairs)
    scale = np.abs(whole.hamiltonian.data).max()
    assert np.abs(whole.hamiltonian.data - grouped.hamiltonian.data).max() < 1e-12 * scale
    assert np.abs(whole.node_features - grouped.node_features).max() < 1e-12 * np.abs(whole.node_features).max()
    # two "ranks" each compute half the groups; together they are the whole
    parts = [predict(model, atoms, atom_chunk=10, ranks=(r, 2)).hamiltonian.data for r in range(2)]
    assert np.abs(parts[0] + parts[1] - whole.hamiltonian.data).max() < 1e-12 * scale
    assert np.count_nonzero(parts[0]) and np.count_nonzero(parts[1])
