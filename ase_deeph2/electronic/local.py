"""Linear-scaling DOS and Fermi level of very large cells: divide and conquer over local clusters.

For supercells too large to factorise (10^5 atoms: the LDL^T of H - sigma S alone would need ~100
GB), the DOS and the Fermi level come from the locality of the electronic structure (Yang's
divide-and-conquer). The atoms are split into compact *core* groups; each core with a *buffer*
of the atoms (periodic images included) within ``buffer`` Å of it forms a cluster whose H and S
are cut out of the supercell's H(R), S(R) and diagonalised densely. Each cluster state counts
with its Mulliken weight on the core orbitals, so that every orbital of the supercell is counted
once:

    DOS(E) = 2 sum_clusters sum_n w_n g(E - e_n),   w_n = sum_{mu in core} Re(c*_mu,n (S c)_mu,n),

and E_F makes 2 sum w_n f(e_n - E_F) the electron count. Time and memory are linear in the number
of atoms; the error is that of cutting the environment at ``buffer`` (measured against exact
results in ``benchmarks/bench_md_frame.py`` and the tests).

Why not the kernel polynomial method: in these NAO bases the spectrum of S^-1 H spans about
-23 to +212 eV (graphene, C6.0-s2p2d1: the diffuse second-zeta and d orbitals), so a Chebyshev
expansion needs ~7000 moments for 0.1 eV resolution, each with an application of S^-1: 880 CG
iterations unpreconditioned (S has eigenvalues down to 9e-4), 14 with an incomplete LU that costs
as much to build as a full factorisation (measured on a 2048-atom sheet).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np
import scipy.linalg as sl
from ase import Atoms
from ase.spectrum.dosdata import RawDOSData
from tqdm.auto import tqdm

from ..blocks import BlockMatrix
from ..graph import core_groups
from .occupations import Smearing, find_fermi_level

__all__ = ["LocalSpectrum", "local_spectrum"]


@dataclass
class LocalSpectrum:
    """Cluster states with their core weights, and the Fermi level they imply.

    Attributes:
        energies: (n,) eV, every state of every cluster.
        weights: (n,) Mulliken weight of each state on its cluster's core (sums to the number of
            orbitals of the cell).
        fermi_level: eV.
        spin_degeneracy: 2 (spinless H).
        clusters, largest_cluster: number of clusters and orbitals of the largest.
        seconds: wall time.
    """

    energies: np.ndarray
    weights: np.ndarray
    fermi_level: float
    spin_degeneracy: float = 2.0
    clusters: int = 0
    largest_cluster: int = 0
    seconds: float = 0.0
    info: dict = field(default_factory=dict)

    def dos(self, emin: float, emax: float, npts: int = 1001, width: float = 0.1) -> tuple[np.ndarray, np.ndarray]:
        """(energies (npts,) eV, DOS states/eV/cell) with Gaussian broadening ``width`` (eV)."""
        grid = RawDOSData(self.energies, self.spin_degeneracy * self.weights).sample_grid(
            npts, xmin=emin, xmax=emax, width=width)
        return grid.get_energies(), grid.get_weights()


class _PairsByAtom:
    """The pairs of a BlockMatrix grouped by their first atom (computed once per cell)."""

    def __init__(self, m: BlockMatrix):
        self.pairs = m.pairs
        self.order = np.argsort(m.pairs[:, 3], kind="stable")
        self.starts = np.searchsorted(m.pairs[self.order, 3], np.arange(m.n_atoms + 1))

    def of(self, atom: int) -> np.ndarray:
        """Indices of the pairs (atom, j, R)."""
        return self.order[self.starts[atom]:self.starts[atom + 1]]


def cluster(index: _PairsByAtom, atoms: Atoms, core: np.ndarray, buffer: float) -> tuple[np.ndarray, np.ndarray]:
    """The cluster of ``core`` atoms: (atom index, lattice translation (3,)) of every atom image
    within ``buffer`` Å of a core atom, reached through the pairs; core atoms first."""
    cell, positions = atoms.cell.array, atoms.positions
    core_pos = positions[core]
    nodes = {(int(a), 0, 0, 0) for a in core}
    order = [(int(a), (0, 0, 0)) for a in core]
    frontier = list(order)
    while frontier:
        new = []
        for a, R in frontier:
            rows = index.pairs[index.of(a)]
            targets = rows[:, :3] + np.array(R)
            where = positions[rows[:, 4]] + targets @ cell
            dist = np.min(np.linalg.norm(where[:, None, :] - core_pos[None, :, :], axis=2), axis=1)
            for b, t in zip(rows[dist < buffer, 4].tolist(), targets[dist < buffer].tolist()):
                key = (b, *t)
                if key not in nodes:
                    nodes.add(key)
                    order.append((b, tuple(t)))
                    new.append((b, tuple(t)))
        frontier = new
    return np.array([a for a, _ in order]), np.array([t for _, t in order], dtype=np.int64)


def _cluster_matrices(h: BlockMatrix, s: BlockMatrix, index: _PairsByAtom, members: np.ndarray,
                      shifts: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Dense H and S between the cluster's atom images: block (k, l) = m(a_k, a_l, R_l - R_k).
    ``s`` must hold the pairs of ``h`` in the same order."""
    counts = h.orbital_counts[members]
    starts = np.concatenate([[0], np.cumsum(counts)])
    hc = np.zeros((starts[-1], starts[-1]), dtype=h.data.dtype)
    sc = np.zeros_like(hc)
    where = {(int(a), *map(int, t)): k for k, (a, t) in enumerate(zip(members, shifts))}
    for k, (a, t) in enumerate(zip(members.tolist(), shifts.tolist())):
        for p in index.of(a).tolist():
            r1, r2, r3, _, b = index.pairs[p].tolist()
            l = where.get((b, t[0] + r1, t[1] + r2, t[2] + r3))
            if l is not None:
                block = slice(starts[k], starts[k + 1]), slice(starts[l], starts[l + 1])
                hc[block], sc[block] = h.block_at(p), s.block_at(p)
    return hc, sc


def local_spectrum(h: BlockMatrix, s: BlockMatrix, atoms: Atoms, n_electrons: float, core_size: int = 200,
                   buffer: float = 6.0, smearing: Smearing = Smearing(), progress: bool = True) -> LocalSpectrum:
    """States with core weights of every cluster, and the Fermi level (see the module docstring).

    Args:
        h, s: H(R) in eV and S(R) of a large (Γ-sampled) cell, spinless.
        atoms: the structure (positions and cell for the cluster geometry).
        n_electrons: electrons per cell.
        core_size: atoms per core group.
        buffer: Å of environment kept around each core.
    """
    if h.spinful:
        raise ValueError("local_spectrum handles spinless Hamiltonians")
    t0 = time.perf_counter()
    s = s.aligned_to(h)
    index = _PairsByAtom(h)
    energies, weights, largest = [], [], 0
    groups = core_groups(atoms.positions, core_size)
    for core in tqdm(groups, desc="local clusters", unit="cluster", disable=not progress):
        members, shifts = cluster(index, atoms, core, buffer)
        hc, sc = _cluster_matrices(h, s, index, members, shifts)
        e, c = sl.eigh(hc, sc)
        n_core = int(h.orbital_counts[members[:len(core)]].sum())
        weights.append(np.real(np.conj(c[:n_core]) * (sc[:n_core] @ c)).sum(axis=0))
        energies.append(e)
        largest = max(largest, len(e))
    e, w = np.concatenate(energies), np.concatenate(weights)
    mu = find_fermi_level(e[None, :, None], w, n_electrons, smearing, 2.0)
    return LocalSpectrum(e, w, mu, 2.0, len(groups), largest, time.perf_counter() - t0,
                         {"core_size": core_size, "buffer_A": buffer})
