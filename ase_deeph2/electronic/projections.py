"""Mulliken projections of eigenstates onto elements and angular momenta (for PDOS)."""

from __future__ import annotations

import numpy as np

from ..basis import L_LETTERS, BasisSet
from ..blocks import BlockMatrix

__all__ = ["orbital_groups", "mulliken_weights"]


def orbital_groups(basis: BasisSet, symbols: list[str], by: str, spinful: bool = False) -> dict[str, np.ndarray]:
    """Indices of the orbitals (rows of H(k)) in each group: by "element", "l" or "element+l"."""
    if by not in ("element", "l", "element+l"):
        raise ValueError(f"projection must be 'element', 'l' or 'element+l', got {by!r}")
    labels = []
    for s in symbols:
        ls = basis[s].orbital_l
        names = [{"element": s, "l": L_LETTERS[l], "element+l": f"{s}-{L_LETTERS[l]}"}[by] for l in ls]
        labels += names * (2 if spinful else 1)  # spin-major inside each atom
    labels = np.array(labels)
    return {name: np.flatnonzero(labels == name) for name in dict.fromkeys(labels.tolist())}


def mulliken_weights(hamiltonians: list[BlockMatrix], overlap: BlockMatrix, basis: BasisSet, symbols: list[str],
                     kpts: np.ndarray, vectors: list[list[np.ndarray]], nbands: int, by: str) -> dict[str, np.ndarray]:
    """Mulliken weight of each state in each group, (n_spin, n_k, n_bands) per group; groups sum to 1.

    q_mu = Re(conj(c_mu) (S(k) c)_mu) for normalised c^H S c = 1.
    """
    spinful = hamiltonians[0].spinful
    s = overlap.to_spinor() if spinful else overlap
    groups = orbital_groups(basis, symbols, by, spinful)
    out = {name: np.zeros((len(hamiltonians), len(kpts), nbands)) for name in groups}
    for ik, k in enumerate(kpts):
        s_k = s.bloch(k)
        for spin in range(len(hamiltonians)):
            c = vectors[spin][ik][:, :nbands]
            q = np.real(np.conj(c) * (s_k @ c))
            for name, rows in groups.items():
                out[name][spin, ik] = q[rows].sum(axis=0)
    return out
