"""Model inputs: one graph per structure (the pairs of its H/S BlockMatrix), batched by concatenation.

Every BlockMatrix pair (i, j, R) is an output slot. On-site pairs (i, i, 0) come from node
features; the others are directed edges j -> i used for message passing, each with its reverse
(j, i, -R) so that the predicted H is exactly Hermitian.
"""

from __future__ import annotations

from dataclasses import dataclass, fields, replace
from typing import Sequence

import numpy as np
import torch
from ase import Atoms

from ..blocks import BlockMatrix, partner_index
from ..graph import overlap_pairs
from .config import ELCTConfig

__all__ = ["GraphBatch", "build_graph", "collate", "blocks_from_matrix", "matrix_from_blocks"]


@dataclass
class GraphBatch:
    """Graphs of one or more structures (all tensors; atom indices are global to the batch).

    Attributes:
        species: (N,) species index of each atom (position in ``ELCTConfig.elements``).
        pairs: (P, 5) (R1, R2, R3, i, j) with i, j LOCAL to their structure (BlockMatrix layout).
        pair_i, pair_j: (P,) global atom indices of each pair.
        pair_vectors: (P, 3) float64 bond vectors r_j + R.cell - r_i in Å (zero on-site).
        onsite: (P,) True for (i, i, 0).
        edges: (E,) indices (into the pair list) of the off-site pairs.
        edge_reverse: (E,) for each edge, the position (in ``edges``) of its reverse edge.
        atom_offsets, pair_offsets: (S + 1,) slices of each structure.
        orbital_counts: (n_species,) orbitals of each species (block sizes).
    """

    species: torch.Tensor
    pairs: torch.Tensor
    pair_i: torch.Tensor
    pair_j: torch.Tensor
    pair_vectors: torch.Tensor
    onsite: torch.Tensor
    edges: torch.Tensor
    edge_reverse: torch.Tensor
    atom_offsets: torch.Tensor
    pair_offsets: torch.Tensor
    orbital_counts: torch.Tensor

    @property
    def n_structures(self) -> int:
        return len(self.atom_offsets) - 1

    @property
    def n_atoms(self) -> int:
        return len(self.species)

    @property
    def n_pairs(self) -> int:
        return len(self.pair_i)

    @property
    def n_max(self) -> int:
        return int(self.orbital_counts.max())

    @property
    def block_mask(self) -> torch.Tensor:
        """(P, n_max, n_max) bool: True on the entries that belong to each pair's block."""
        rows = self.orbital_counts[self.species[self.pair_i]]
        cols = self.orbital_counts[self.species[self.pair_j]]
        ar = torch.arange(self.n_max, device=rows.device)
        return (ar[None, :, None] < rows[:, None, None]) & (ar[None, None, :] < cols[:, None, None])

    def to(self, device: torch.device | str) -> "GraphBatch":
        """All tensors on ``device`` (pair vectors stay float64; the model casts)."""
        return replace(self, **{f.name: getattr(self, f.name).to(device) for f in fields(self)})


def build_graph(atoms: Atoms, config: ELCTConfig, pairs: np.ndarray | None = None) -> GraphBatch:
    """The graph of one structure.

    Args:
        atoms: the structure (Å).
        config: the model configuration (elements, basis and hence pair cutoffs).
        pairs: (P, 5) pairs to predict (e.g. those of a target BlockMatrix); default all pairs whose
            basis functions overlap (``graph.overlap_pairs``), as OpenMX stores them.
    """
    symbols = atoms.get_chemical_symbols()
    basis = config.basis_set
    species = basis.species_index(symbols, where="this model")
    if pairs is None:
        found = overlap_pairs(atoms, basis.cutoffs(symbols))
        pairs, vectors = found.pairs, found.vectors
    else:
        pairs = np.asarray(pairs, dtype=np.int64).reshape(-1, 5)
        vectors = atoms.positions[pairs[:, 4]] + pairs[:, :3] @ atoms.cell.array - atoms.positions[pairs[:, 3]]
    onsite = (pairs[:, 3] == pairs[:, 4]) & ~pairs[:, :3].any(axis=1)
    if onsite.sum() != len(atoms):
        raise ValueError(f"the pairs must contain every on-site pair (i, i, 0) exactly once; found {onsite.sum()} "
                         f"for {len(atoms)} atoms")
    edges = np.flatnonzero(~onsite)
    partner = partner_index(pairs)
    if np.any(partner[edges] < 0):
        p = pairs[edges[np.argmin(partner[edges])]]
        raise ValueError(f"pair (i={p[3]}, j={p[4]}, R={tuple(p[:3])}) has no reverse (j, i, -R)")
    first = edges[edges < partner[edges]]
    vectors = np.array(vectors, dtype=np.float64)
    vectors[partner[first]] = -vectors[first]  # exactly antisymmetric: reverse edges see the same |r|
    position_in_edges = np.full(len(pairs), -1, dtype=np.int64)
    position_in_edges[edges] = np.arange(len(edges))
    counts = np.array([basis[el].n_orbitals for el in config.elements], dtype=np.int64)
    t = torch.from_numpy
    return GraphBatch(
        species=t(species), pairs=t(pairs),
        pair_i=t(pairs[:, 3].copy()), pair_j=t(pairs[:, 4].copy()), pair_vectors=t(vectors),
        onsite=t(onsite), edges=t(edges),
        edge_reverse=t(position_in_edges[partner[edges]]),
        atom_offsets=torch.tensor([0, len(atoms)]), pair_offsets=torch.tensor([0, len(pairs)]),
        orbital_counts=t(counts))


def collate(graphs: Sequence[GraphBatch]) -> GraphBatch:
    """Concatenate graphs (each may itself be a batch) into one batch."""
    if len(graphs) == 1:
        return graphs[0]
    atom_shift = np.cumsum([0] + [g.n_atoms for g in graphs])
    pair_shift = np.cumsum([0] + [g.n_pairs for g in graphs])
    edge_shift = np.cumsum([0] + [len(g.edges) for g in graphs])
    cat = torch.cat
    return GraphBatch(
        species=cat([g.species for g in graphs]),
        pairs=cat([g.pairs for g in graphs]),
        pair_i=cat([g.pair_i + int(a) for g, a in zip(graphs, atom_shift)]),
        pair_j=cat([g.pair_j + int(a) for g, a in zip(graphs, atom_shift)]),
        pair_vectors=cat([g.pair_vectors for g in graphs]),
        onsite=cat([g.onsite for g in graphs]),
        edges=cat([g.edges + int(p) for g, p in zip(graphs, pair_shift)]),
        edge_reverse=cat([g.edge_reverse + int(e) for g, e in zip(graphs, edge_shift)]),
        atom_offsets=torch.tensor(np.concatenate([[0]] + [g.atom_offsets[1:].numpy() + a
                                                          for g, a in zip(graphs, atom_shift[:-1])])),
        pair_offsets=torch.tensor(np.concatenate([[0]] + [g.pair_offsets[1:].numpy() + p
                                                          for g, p in zip(graphs, pair_shift[:-1])])),
        orbital_counts=graphs[0].orbital_counts)


def blocks_from_matrix(matrix: BlockMatrix, graph: GraphBatch, structure: int = 0) -> torch.Tensor:
    """Target blocks of one structure in the model's padded layout: (P_s, n_max, n_max), zero padded.

    The matrix must hold every pair of the structure's graph (in any order).
    """
    p0, p1 = (int(x) for x in graph.pair_offsets[structure:structure + 2])
    a0, a1 = (int(x) for x in graph.atom_offsets[structure:structure + 2])
    pairs = graph.pairs[p0:p1].numpy()
    idx = matrix.find(pairs)
    if np.any(idx < 0):
        p = pairs[int(np.argmin(idx))]
        raise KeyError(f"the matrix has no block for pair (i={p[3]}, j={p[4]}, R={tuple(p[:3])})")
    position = np.full(matrix.n_pairs, -1, dtype=np.int64)  # matrix pair -> row of the graph
    position[idx] = np.arange(len(idx))
    out = np.zeros((p1 - p0, graph.n_max, graph.n_max), dtype=matrix.data.dtype)
    for g in matrix.groups(graph.species[a0:a1].numpy()):
        rows, cols = g.shape
        used = position[g.pair_index] >= 0
        out[position[g.pair_index[used]], :rows, :cols] = matrix.data[g.entry_index[used]].reshape(-1, rows, cols)
    return torch.from_numpy(out)


def matrix_from_blocks(blocks: torch.Tensor, graph: GraphBatch, structure: int = 0) -> BlockMatrix:
    """One structure's blocks (P_s or P_total, n_max, n_max) as a BlockMatrix (float64, numpy)."""
    p0, p1 = (int(x) for x in graph.pair_offsets[structure:structure + 2])
    a0, a1 = (int(x) for x in graph.atom_offsets[structure:structure + 2])
    if len(blocks) == graph.n_pairs:
        blocks = blocks[p0:p1]
    blocks = blocks.detach().to("cpu", torch.float64).numpy()
    species = graph.species[a0:a1].numpy()
    counts = graph.orbital_counts.numpy()[species]
    pairs = graph.pairs[p0:p1].numpy()
    matrix = BlockMatrix(pairs, np.zeros(int((counts[pairs[:, 3]] * counts[pairs[:, 4]]).sum())), counts)
    for g in matrix.groups(species):
        rows, cols = g.shape
        matrix.data[g.entry_index] = blocks[g.pair_index, :rows, :cols].reshape(len(g.pair_index), -1)
    return matrix
