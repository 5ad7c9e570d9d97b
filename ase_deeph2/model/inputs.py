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
        atom_batch: (N,) structure of each atom.
        pairs: (P, 5) (R1, R2, R3, i, j) with i, j LOCAL to their structure (BlockMatrix layout).
        pair_i, pair_j: (P,) global atom indices of each pair.
        pair_vectors: (P, 3) float64 bond vectors r_j + R.cell - r_i in Å (zero on-site).
        pair_batch: (P,) structure of each pair.
        onsite: (P,) True for (i, i, 0).
        edges: (E,) indices (into the pair list) of the off-site pairs.
        edge_reverse: (E,) for each edge, the position (in ``edges``) of its reverse edge.
        atom_offsets, pair_offsets: (S + 1,) slices of each structure.
        orbital_counts: (n_species,) orbitals of each species (block sizes).
    """

    species: torch.Tensor
    atom_batch: torch.Tensor
    pairs: torch.Tensor
    pair_i: torch.Tensor
    pair_j: torch.Tensor
    pair_vectors: torch.Tensor
    pair_batch: torch.Tensor
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


def _species_index(symbols: Sequence[str], elements: Sequence[str]) -> np.ndarray:
    lookup = {el: k for k, el in enumerate(elements)}
    missing = sorted(set(symbols) - set(lookup))
    if missing:
        first = next(i for i, s in enumerate(symbols) if s in missing)
        raise ValueError(f"element(s) {missing} (first at atom {first}) unknown to this model, which knows {list(elements)}")
    return np.array([lookup[s] for s in symbols], dtype=np.int64)


def build_graph(atoms: Atoms, config: ELCTConfig, pairs: np.ndarray | None = None) -> GraphBatch:
    """The graph of one structure.

    Args:
        atoms: the structure (Å).
        config: the model configuration (elements, basis and hence pair cutoffs).
        pairs: (P, 5) pairs to predict (e.g. those of a target BlockMatrix); default all pairs whose
            basis functions overlap (``graph.overlap_pairs``), as OpenMX stores them.
    """
    symbols = atoms.get_chemical_symbols()
    species = _species_index(symbols, config.elements)
    basis = config.basis_set
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
        species=t(species), atom_batch=torch.zeros(len(atoms), dtype=torch.long), pairs=t(pairs),
        pair_i=t(pairs[:, 3].copy()), pair_j=t(pairs[:, 4].copy()), pair_vectors=t(vectors),
        pair_batch=torch.zeros(len(pairs), dtype=torch.long), onsite=t(onsite), edges=t(edges),
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
    struct_shift = np.cumsum([0] + [g.n_structures for g in graphs])
    cat = torch.cat
    return GraphBatch(
        species=cat([g.species for g in graphs]),
        atom_batch=cat([g.atom_batch + int(s) for g, s in zip(graphs, struct_shift)]),
        pairs=cat([g.pairs for g in graphs]),
        pair_i=cat([g.pair_i + int(a) for g, a in zip(graphs, atom_shift)]),
        pair_j=cat([g.pair_j + int(a) for g, a in zip(graphs, atom_shift)]),
        pair_vectors=cat([g.pair_vectors for g in graphs]),
        pair_batch=cat([g.pair_batch + int(s) for g, s in zip(graphs, struct_shift)]),
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

    The matrix must hold exactly the structure's pairs (any order).
    """
    p0, p1 = (int(x) for x in graph.pair_offsets[structure:structure + 2])
    pairs = graph.pairs[p0:p1].numpy()
    idx = matrix.find(pairs)
    if np.any(idx < 0):
        p = pairs[int(np.argmin(idx))]
        raise KeyError(f"the matrix has no block for pair (i={p[3]}, j={p[4]}, R={tuple(p[:3])})")
    n = graph.n_max
    out = np.zeros((p1 - p0, n, n), dtype=matrix.data.dtype)
    shapes = matrix.block_shapes[idx]
    for (r, c) in {tuple(s) for s in shapes.tolist()}:
        sel = np.flatnonzero((shapes[:, 0] == r) & (shapes[:, 1] == c))
        entries = matrix.offsets[idx[sel]][:, None] + np.arange(r * c)[None, :]
        out[sel, :r, :c] = matrix.data[entries].reshape(-1, r, c)
    return torch.from_numpy(out)


def matrix_from_blocks(blocks: torch.Tensor, graph: GraphBatch, structure: int = 0) -> BlockMatrix:
    """One structure's blocks (P_s or P_total, n_max, n_max) as a BlockMatrix (float64, numpy)."""
    p0, p1 = (int(x) for x in graph.pair_offsets[structure:structure + 2])
    a0, a1 = (int(x) for x in graph.atom_offsets[structure:structure + 2])
    if len(blocks) == graph.n_pairs:
        blocks = blocks[p0:p1]
    blocks = blocks.detach().to("cpu", torch.float64).numpy()
    counts = graph.orbital_counts.numpy()[graph.species[a0:a1].numpy()]
    pairs = graph.pairs[p0:p1].numpy()
    rows, cols = counts[pairs[:, 3]], counts[pairs[:, 4]]
    data = np.empty(int((rows * cols).sum()))
    offsets = np.concatenate([[0], np.cumsum(rows * cols)])
    for (r, c) in {(int(a), int(b)) for a, b in zip(rows, cols)}:
        sel = np.flatnonzero((rows == r) & (cols == c))
        entries = offsets[sel][:, None] + np.arange(r * c)[None, :]
        data[entries] = blocks[sel, :r, :c].reshape(len(sel), -1)
    return BlockMatrix(pairs, data, counts)
