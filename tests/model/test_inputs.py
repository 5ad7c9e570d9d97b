"""Model inputs: graphs on the OpenMX pairs, and target blocks that round-trip exactly."""

import numpy as np

from ase_deeph2.io import read_scfout
from ase_deeph2.model import blocks_from_matrix, build_graph, matrix_from_blocks
from conftest import run_dir
from model_helpers import make_model


def test_pairs_follow_the_openmx_pairs_and_targets_round_trip():
    data = read_scfout(run_dir("mos2_1x1") / "openmx.scfout")
    model = make_model(data.basis)
    graph = build_graph(data.atoms, model.config)
    assert sorted(map(tuple, graph.pairs.numpy())) == sorted(map(tuple, data.hamiltonian.pairs))
    target = blocks_from_matrix(data.hamiltonian, graph)
    back = matrix_from_blocks(target, graph)
    assert np.array_equal(back.aligned_to(data.hamiltonian).data, data.hamiltonian.data)
    # each padded block holds exactly the matrix block (rows of Mo: 19, of S: 13)
    p = int(np.flatnonzero((graph.pairs[:, 3] == 0).numpy() & (graph.pairs[:, 4] == 1).numpy())[0])
    r1, r2, r3, i, j = graph.pairs[p].tolist()
    assert np.array_equal(target[p, :19, :13].numpy(), data.hamiltonian.block(i, j, (r1, r2, r3)))
    assert not target[p, 19:].any() and not target[p, :, 13:].any()
