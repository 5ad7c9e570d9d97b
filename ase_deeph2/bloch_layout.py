"""The CSR layout of H(k) = sum_R exp(i 2 pi k.R) H(R) for a BlockMatrix, computed once per matrix.

``bloch_layout(matrix)`` returns (indptr, indices, mapping, summed, pair_of_entry): the CSR
pattern of H(k), and for each stored entry where it goes. When every (i, j) has one R (supercells
larger than twice the cutoff) the layout is built in linear time and ``mapping`` is a gather
(CSR value n = data[mapping[n]] x phase); otherwise entries of several R meet in one CSR value
and ``mapping`` is the CSR slot of each entry, to be summed (``summed`` is True).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from .blocks import BlockMatrix

__all__ = ["BlochLayout", "bloch_layout"]

#: (indptr, indices, mapping, summed, pair_of_entry)
BlochLayout = tuple


def _index_dtype(m: "BlockMatrix"):
    return np.int32 if len(m.data) < 2**31 else np.int64


def _layout_unique(m: "BlockMatrix", order: np.ndarray) -> BlochLayout:
    """Linear-time layout when every (i, j) has one R (supercells larger than twice the cutoff):
    row a of atom i holds, pair by pair in order of j, row a of each block."""
    idx = _index_dtype(m)
    shapes = m.block_shapes
    counts = m.orbital_counts * m.n_spin
    i_sorted, cols_sorted = m.pairs[order, 3], shapes[order, 1]
    row_len = np.bincount(i_sorted, weights=cols_sorted, minlength=m.n_atoms).astype(np.int64)
    before = np.cumsum(cols_sorted) - cols_sorted
    first_of_atom = np.searchsorted(i_sorted, i_sorted)  # first pair of the same atom i
    col_start = np.empty(m.n_pairs, dtype=np.int64)
    col_start[order] = before - before[first_of_atom]
    atom_base = np.concatenate([[0], np.cumsum(counts * row_len)])[:-1]
    position = np.empty(len(m.data), dtype=np.int64)
    columns = np.empty(len(m.data), dtype=idx)
    pair_of_entry = np.empty(len(m.data), dtype=idx)
    start = m.atom_offsets
    for g in m.groups(counts):  # blocks of one shape at a time
        r, c = g.shape
        a, b = np.divmod(np.arange(r * c), c)
        i, j = m.pairs[g.pair_index, 3], m.pairs[g.pair_index, 4]
        position[g.entry_index] = (atom_base[i] + col_start[g.pair_index])[:, None] + \
            (a[None, :] * row_len[i][:, None]) + b[None, :]
        columns[g.entry_index] = start[j][:, None] + b[None, :]
        pair_of_entry[g.entry_index] = g.pair_index[:, None]
    mapping = np.empty(len(m.data), dtype=idx)
    mapping[position] = np.arange(len(m.data), dtype=idx)
    indices = np.empty(len(m.data), dtype=idx)
    indices[position] = columns
    indptr = np.concatenate([[0], np.cumsum(np.repeat(row_len, counts))]).astype(idx)
    return indptr, indices, mapping, False, pair_of_entry


def _layout_general(m: "BlockMatrix") -> BlochLayout:
    """Layout by sorting all entries; several R of one (i, j) are summed (small cells)."""
    shapes = m.block_shapes
    sizes = shapes.prod(axis=1)
    pair_of_entry = np.repeat(np.arange(m.n_pairs, dtype=np.int64), sizes)
    local = np.arange(len(m.data), dtype=np.int64) - m.offsets[pair_of_entry]
    a, b = np.divmod(local, shapes[pair_of_entry, 1])
    start = m.atom_offsets
    n = m.n_orbitals
    keys = (start[m.pairs[pair_of_entry, 3]] + a) * n + start[m.pairs[pair_of_entry, 4]] + b
    del local, a, b
    order = np.argsort(keys, kind="stable")
    sorted_keys = keys[order]
    del keys
    idx = _index_dtype(m)
    unique, inverse_sorted = np.unique(sorted_keys, return_inverse=True)
    inverse = np.empty(len(order), dtype=idx)
    inverse[order] = inverse_sorted
    u_rows, u_cols = np.divmod(unique, n)
    indptr = np.searchsorted(u_rows, np.arange(n + 1)).astype(idx)
    return indptr, u_cols.astype(idx), inverse, True, pair_of_entry.astype(idx)


def bloch_layout(m: "BlockMatrix") -> BlochLayout:
    """The CSR layout of H(k) for ``m`` (see the module docstring)."""
    order = np.lexsort((m.pairs[:, 4], m.pairs[:, 3]))  # pairs by (i, j)
    ij = m.pairs[order, 3:]
    repeated = len(ij) > 1 and bool(np.any(np.all(ij[1:] == ij[:-1], axis=1)))
    return _layout_general(m) if repeated else _layout_unique(m, order)
