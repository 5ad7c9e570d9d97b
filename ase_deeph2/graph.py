"""Atom pairs whose basis functions overlap: the sparsity pattern of H(R) and S(R).

A pair (i, j, R) is kept when ``|r_j + R.cell - r_i| < rc_i + rc_j`` with ``rc`` the cutoff
radius of each atom's radial functions; this reproduces OpenMX's own neighbour lists (checked
on the shared runs). Neighbour search by vesin.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp
from ase import Atoms
from vesin import NeighborList

__all__ = ["Pairs", "overlap_pairs", "core_groups", "halo", "MIN_DISTANCE"]

#: Atoms closer than this (Å) are "on top of each other": no NAO code can handle them.
MIN_DISTANCE = 0.1


@dataclass(frozen=True)
class Pairs:
    """Pairs in the BlockMatrix convention, sorted by (i, j, R).

    Attributes:
        pairs: (P, 5) int64 (R1, R2, R3, i, j).
        vectors: (P, 3) float64 bond vectors r_j + R.cell - r_i in Å.
    """

    pairs: np.ndarray
    vectors: np.ndarray

    @property
    def distances(self) -> np.ndarray:
        """(P,) bond lengths in Å."""
        return np.linalg.norm(self.vectors, axis=1)

    @property
    def onsite(self) -> np.ndarray:
        """(P,) True for the (i, i, 0) blocks."""
        return (self.pairs[:, 3] == self.pairs[:, 4]) & ~self.pairs[:, :3].any(axis=1)


def overlap_pairs(atoms: Atoms, cutoffs: np.ndarray, include_self: bool = True,
                  min_distance: float = MIN_DISTANCE) -> Pairs:
    """All (i, j, R) with overlapping basis functions, both orders, as OpenMX stores them.

    Args:
        atoms: the structure; periodic along the directions where ``atoms.pbc`` is True.
        cutoffs: (n_atoms,) cutoff radius of each atom's radial functions in Å.
        include_self: keep the on-site (i, i, 0) pairs.
        min_distance: raise if two distinct atoms (or an atom and its image) are closer (Å).
    """
    n = len(atoms)
    cutoffs = np.asarray(cutoffs, dtype=np.float64)
    if cutoffs.shape != (n,):
        raise ValueError(f"cutoffs must have shape ({n},), got {cutoffs.shape}")
    pbc = np.asarray(atoms.pbc, dtype=bool)
    cell = atoms.cell.array
    if pbc.any() and abs(np.linalg.det(cell)) < 1e-9 and atoms.cell.rank < 3:
        raise ValueError("atoms are periodic but the cell is degenerate; set a full 3D cell "
                         "(vacuum along non-periodic directions) or pbc=False")
    positions = atoms.positions
    if n == 0:
        return Pairs(np.zeros((0, 5), np.int64), np.zeros((0, 3)))
    nl = NeighborList(cutoff=float(2 * cutoffs.max()), full_list=True)
    box = cell if pbc.any() else np.zeros((3, 3))
    i, j, shifts, vectors = nl.compute(positions, box, pbc.tolist() if pbc.any() else False, "ijSD")
    i, j, shifts = i.astype(np.int64), j.astype(np.int64), shifts.astype(np.int64)
    dist = np.linalg.norm(vectors, axis=1)
    close = dist < min_distance
    if close.any():
        a, b = int(i[close][0]), int(j[close][0])
        raise ValueError(f"atoms {a} ({atoms[a].symbol}) and {b} ({atoms[b].symbol}) are {dist[close][0]:.3g} Å "
                         f"apart (an atom on top of another{' or its periodic image' if a == b else ''}); "
                         f"minimum allowed is {min_distance} Å")
    keep = dist < cutoffs[i] + cutoffs[j]
    i, j, shifts, vectors = i[keep], j[keep], shifts[keep], vectors[keep]
    if include_self:
        i = np.concatenate([i, np.arange(n)])
        j = np.concatenate([j, np.arange(n)])
        shifts = np.concatenate([shifts, np.zeros((n, 3), np.int64)])
        vectors = np.concatenate([vectors, np.zeros((n, 3))])
    pairs = np.concatenate([shifts, i[:, None], j[:, None]], axis=1)
    order = np.lexsort((pairs[:, 2], pairs[:, 1], pairs[:, 0], pairs[:, 4], pairs[:, 3]))
    return Pairs(pairs[order], np.ascontiguousarray(vectors[order]))


def core_groups(positions: np.ndarray, size: int) -> list[np.ndarray]:
    """Split atoms into spatially compact groups of at most ``size`` by recursive bisection.

    Args:
        positions: (N, 3) Cartesian positions in Å (wrapped or not: only compactness matters).
        size: largest group.
    Returns: sorted atom-index arrays covering range(N) once.
    """
    groups, todo = [], [np.arange(len(positions))]
    while todo:
        idx = todo.pop()
        if len(idx) <= size:
            groups.append(np.sort(idx))
            continue
        p = positions[idx]
        axis = int(np.argmax(p.max(axis=0) - p.min(axis=0)))
        order = idx[np.argsort(p[:, axis], kind="stable")]
        half = len(order) // 2
        todo += [order[:half], order[half:]]
    return sorted(groups, key=lambda g: int(g[0]))


def halo(pairs: np.ndarray, n_atoms: int, core: np.ndarray, hops: int) -> np.ndarray:
    """Sorted indices of the atoms within ``hops`` pair-graph hops of ``core`` (core included).

    Args:
        pairs: (P, 5) (R1, R2, R3, i, j) pairs, both orders present; translations are ignored
            (an atom stands for all its periodic images).
    """
    adjacency = sp.csr_matrix((np.ones(len(pairs), dtype=np.int8), (pairs[:, 3], pairs[:, 4])),
                              shape=(n_atoms, n_atoms))
    inside = np.zeros(n_atoms, dtype=bool)
    inside[core] = True
    for _ in range(hops):
        inside |= (adjacency @ inside.astype(np.int8)) > 0
    return np.flatnonzero(inside)
