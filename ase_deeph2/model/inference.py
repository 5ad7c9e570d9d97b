"""Inference: ``ase.Atoms`` -> predicted H(R) BlockMatrix, in bounded memory for any size.

Small structures go through the network in one pass. Large ones are cut into compact groups of
*core* atoms (recursive coordinate bisection); each group is evaluated on the subgraph of the
atoms within ``n_blocks + 1`` neighbour hops of it (its *halo*), which is exactly the receptive
field of the blocks it owns (the pairs (i, j, R) with i in the core): node features after block t
are right on atoms whose t + 1 hop neighbourhood is present, edge features on edges between atoms
whose t hop neighbourhood is present. The result equals the one-pass prediction up to the
summation order of floating point (tested), and the groups are independent, so they can also be
shared out between processes (``ranks``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterator, Sequence

import numpy as np
import torch
from ase import Atoms
from tqdm.auto import tqdm

from ..blocks import BlockMatrix
from ..graph import Pairs, core_groups, halo, overlap_pairs
from .elct import ELCT
from .inputs import build_graph

__all__ = ["Prediction", "predict", "predict_distributed"]

#: Default number of core atoms per group: about 3 GB of activations at C = 16, L = 4 in float32.
DEFAULT_ATOM_CHUNK = 6000


@dataclass
class Prediction:
    """What the network says about one structure.

    Attributes:
        hamiltonian: H(R) in eV (float64, Wikipedia orbital order) on the given pairs, in their order.
        node_features: (N, channels) float64 final rotation-invariant (l = 0) node features: the
            network's own description of each atom's environment (used by the domain check).
    """

    hamiltonian: BlockMatrix
    node_features: np.ndarray


def _evaluate(model: ELCT, atoms: Atoms, pairs: np.ndarray, edge_chunk: int | None) -> tuple[np.ndarray, np.ndarray]:
    """Blocks (P, n_max, n_max) and node features (N, C), float64 numpy, of one subgraph."""
    graph = build_graph(atoms, model.config, pairs=pairs).to(model.cutoffs.device)
    blocks, features = model(graph, edge_chunk=edge_chunk, node_invariants=True)
    return blocks.to("cpu", torch.float64).numpy(), features.to("cpu", torch.float64).numpy()


def _pieces(model: ELCT, atoms: Atoms, pairs: np.ndarray, edge_chunk: int | None, atom_chunk: int,
            ranks: tuple[int, int], progress: bool) -> Iterator[tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]]:
    """(global pair indices, their blocks, core atoms, their node features) per core group of this rank."""
    n = len(atoms)
    groups = core_groups(atoms.positions, atom_chunk)
    rank, world = ranks
    mine = groups[rank::world]
    for core in tqdm(mine, desc="H(R) by atom groups", unit="group", disable=not progress or len(mine) < 2):
        keep = halo(pairs, n, core, model.config.n_blocks + 1)
        local = np.full(n, -1, dtype=np.int64)
        local[keep] = np.arange(len(keep))
        inner = (local[pairs[:, 3]] >= 0) & (local[pairs[:, 4]] >= 0)
        sub_index = np.flatnonzero(inner)
        sub_pairs = pairs[sub_index].copy()
        sub_pairs[:, 3], sub_pairs[:, 4] = local[sub_pairs[:, 3]], local[sub_pairs[:, 4]]
        blocks, features = _evaluate(model, atoms[keep], sub_pairs, edge_chunk)
        is_core = np.zeros(n, dtype=bool)
        is_core[core] = True
        owned = is_core[pairs[sub_index, 3]]
        yield sub_index[owned], blocks[owned], core, features[local[core]]


@torch.no_grad()
def predict(model: ELCT, atoms: Atoms, pairs: Pairs | np.ndarray | None = None, edge_chunk: int | None = None,
            atom_chunk: int | None = DEFAULT_ATOM_CHUNK, progress: bool = False,
            ranks: tuple[int, int] = (0, 1)) -> Prediction:
    """Predicted H(R) of ``atoms`` (Å) and the network's node features.

    Args:
        model: the ELCT network (its device and dtype are used).
        pairs: the pairs to predict (:class:`~ase_deeph2.graph.Pairs` or a (P, 5) array); default
            every pair whose basis functions overlap.
        edge_chunk: edges per chunk inside each block (memory bound; same result).
        atom_chunk: core atoms per group for large structures (``None``: one pass).
        progress: a progress bar over the groups.
        ranks: (rank, world size): evaluate only every world-th group starting at rank; the
            blocks of the other groups are left zero (``distributed.predict_distributed`` gathers them).
    """
    basis = model.config.basis_set
    basis.check_symbols(atoms.get_chemical_symbols(), where="this model")
    if pairs is None:
        pairs = overlap_pairs(atoms, basis.cutoffs(atoms.get_chemical_symbols()))
    pair_array = pairs.pairs if isinstance(pairs, Pairs) else np.asarray(pairs, dtype=np.int64).reshape(-1, 5)
    was_training = model.training
    model.eval()
    try:
        if ranks == (0, 1) and (atom_chunk is None or len(atoms) <= atom_chunk):
            blocks, features = _evaluate(model, atoms, pair_array, edge_chunk)
            pieces = [(np.arange(len(pair_array)), blocks, np.arange(len(atoms)), features)]
        else:
            pieces = list(_pieces(model, atoms, pair_array, edge_chunk, atom_chunk, ranks, progress))
    finally:
        model.train(was_training)
    return assemble(model, atoms, pair_array, pieces)


@torch.no_grad()
def predict_distributed(model: ELCT, atoms: Atoms, pairs: Pairs | np.ndarray | None = None,
                        edge_chunk: int | None = None, atom_chunk: int = DEFAULT_ATOM_CHUNK,
                        progress: bool = False) -> Prediction:
    """:func:`predict` shared out over the processes of a ``torchrun`` job (one process: the same as
    :func:`predict`). Each process evaluates every world-th atom group; the pieces are gathered so that
    every process returns the whole prediction (equal to the one-process result up to summation
    order). The process group is joined from torchrun's environment if needed (gloo on CPU)."""
    from ..parallel import init_distributed

    job = init_distributed("cpu" if model.cutoffs.device.type == "cpu" else str(model.cutoffs.device))
    if not job.enabled:
        return predict(model, atoms, pairs, edge_chunk, atom_chunk, progress)
    basis = model.config.basis_set
    basis.check_symbols(atoms.get_chemical_symbols(), where="this model")
    if pairs is None:
        pairs = overlap_pairs(atoms, basis.cutoffs(atoms.get_chemical_symbols()))
    pair_array = pairs.pairs if isinstance(pairs, Pairs) else np.asarray(pairs, dtype=np.int64).reshape(-1, 5)
    size = min(atom_chunk, max(1, -(-len(atoms) // job.world)))  # at least one group per process
    model.eval()
    mine = list(_pieces(model, atoms, pair_array, edge_chunk, size, (job.rank, job.world), progress))
    pieces = [p for part in job.all_gather_object(mine) for p in part]
    return assemble(model, atoms, pair_array, pieces)


def assemble(model: ELCT, atoms: Atoms, pairs: np.ndarray,
             pieces: Sequence[tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]]) -> Prediction:
    """One Prediction from (pair indices, blocks (n, n_max, n_max), atom indices, node features) pieces."""
    basis = model.config.basis_set
    symbols = atoms.get_chemical_symbols()
    counts = basis.orbital_counts(symbols)
    matrix = BlockMatrix(pairs, np.zeros(int((counts[pairs[:, 3]] * counts[pairs[:, 4]]).sum())), counts)
    groups = matrix.groups(basis.species_index(symbols))
    group_of = np.empty(len(pairs), dtype=np.int64)  # each pair's group and its row in that group
    slot_of = np.empty(len(pairs), dtype=np.int64)
    for k, g in enumerate(groups):
        group_of[g.pair_index], slot_of[g.pair_index] = k, np.arange(len(g.pair_index))
    features = np.zeros((len(atoms), model.config.channels))
    for pair_index, blocks, atom_index, atom_features in pieces:
        features[atom_index] = atom_features
        for k in np.unique(group_of[pair_index]):
            rows, cols = groups[k].shape
            sel = np.flatnonzero(group_of[pair_index] == k)
            matrix.data[groups[k].entry_index[slot_of[pair_index[sel]]]] = blocks[sel, :rows, :cols].reshape(len(sel), -1)
    return Prediction(matrix, features)
