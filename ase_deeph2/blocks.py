"""BlockMatrix: the one container for block-sparse real-space matrices H(R), S(R).

Block ``(i, j, R)`` is ``<phi_i(cell 0)| O |phi_j(cell R)>`` with ``R`` an integer lattice
translation; its shape is ``(n_i, n_j)`` orbitals (``(2 n_i, 2 n_j)`` when spinful, spin-major
inside each atom: all orbitals spin-up, then all spin-down). Both ``(i, j, R)`` and
``(j, i, -R)`` are stored; for a Hermitian operator they are conjugate transposes.

Storage is arrays, not dicts of small arrays (``DESIGN.md`` section 4):

* ``pairs``   int64 (P, 5) = (R1, R2, R3, i, j), atoms 0-based;
* ``data``    one contiguous 1D array (float64 or complex128), block p row-major at
  ``data[offsets[p]:offsets[p+1]]``;
* ``offsets`` int64 (P + 1,).

This maps 1:1 onto the DeepH new format (``atom_pairs``, ``chunk_shapes``, ``chunk_boundaries``,
``entries``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterator, Sequence

import numpy as np
import scipy.sparse as sp

from .bloch_layout import BlochLayout, bloch_layout

__all__ = ["BlockMatrix", "KindGroup", "partner_index", "mirrored_pairs"]


@dataclass(frozen=True)
class KindGroup:
    """All blocks between atoms of kind ``kinds[0]`` and ``kinds[1]`` (same block shape).

    ``pair_index`` (n,) selects the pairs; ``entry_index`` (n, rows*cols) gathers their entries
    from ``BlockMatrix.data`` so that ``data[entry_index].reshape(n, rows, cols)`` stacks them.
    """

    kinds: tuple[int, int]
    shape: tuple[int, int]
    pair_index: np.ndarray
    entry_index: np.ndarray


def _row_keys(pairs: np.ndarray) -> np.ndarray:
    """View (n, 5) int64 rows as one opaque key each (for sorting and exact matching)."""
    pairs = np.ascontiguousarray(pairs, dtype=np.int64)
    return pairs.view(np.dtype((np.void, pairs.dtype.itemsize * pairs.shape[1]))).ravel()


def _sorted_keys(pairs: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    keys = _row_keys(pairs)
    order = np.argsort(keys, kind="stable")
    return keys[order], order


def _lookup(sorted_keys: np.ndarray, order: np.ndarray, query: np.ndarray) -> np.ndarray:
    """Row index of each query row among the sorted keys; -1 if absent."""
    q = _row_keys(np.asarray(query, dtype=np.int64).reshape(-1, 5))
    if len(sorted_keys) == 0:
        return np.full(len(q), -1, dtype=np.int64)
    pos = np.clip(np.searchsorted(sorted_keys, q), 0, len(sorted_keys) - 1)
    return np.where(sorted_keys[pos] == q, order[pos], -1).astype(np.int64)


def mirrored_pairs(pairs: np.ndarray) -> np.ndarray:
    """(-R, j, i) for every row (R, i, j) of ``pairs`` (P, 5)."""
    return np.concatenate([-pairs[:, :3], pairs[:, 4:5], pairs[:, 3:4]], axis=1)


def partner_index(pairs: np.ndarray) -> np.ndarray:
    """For each row (R1, R2, R3, i, j) of ``pairs`` (P, 5), the row index of (-R, j, i); -1 if absent."""
    pairs = np.asarray(pairs, dtype=np.int64).reshape(-1, 5)
    return _lookup(*_sorted_keys(pairs), mirrored_pairs(pairs))


class BlockMatrix:
    """Block-sparse matrix over atom pairs and lattice translations (see module docstring)."""

    def __init__(self, pairs: np.ndarray, data: np.ndarray, orbital_counts: Sequence[int],
                 offsets: np.ndarray | None = None, spinful: bool = False):
        """
        Args:
            pairs: (P, 5) integer array of (R1, R2, R3, i, j).
            data: flat block entries, float or complex; length ``offsets[-1]``.
            orbital_counts: spatial orbitals per atom, shape (n_atoms,).
            offsets: (P + 1,) block boundaries in ``data``; derived from the shapes if omitted
                (when given it must agree with them).
            spinful: blocks are (2 n_i, 2 n_j), spin-major inside each atom.
        """
        self.pairs = np.ascontiguousarray(pairs, dtype=np.int64).reshape(-1, 5)
        self.orbital_counts = np.ascontiguousarray(orbital_counts, dtype=np.int64)
        self.spinful = bool(spinful)
        n_atoms = len(self.orbital_counts)
        if self.pairs.size and (self.pairs[:, 3:].min() < 0 or self.pairs[:, 3:].max() >= n_atoms):
            raise ValueError(f"BlockMatrix: atom index out of range 0..{n_atoms - 1} in pairs")
        sizes = self.block_shapes.prod(axis=1)
        expected = np.concatenate([[0], np.cumsum(sizes)]).astype(np.int64)
        if offsets is not None and not np.array_equal(np.asarray(offsets, dtype=np.int64), expected):
            raise ValueError("BlockMatrix: offsets disagree with the block shapes implied by the basis")
        self.offsets = expected
        data = np.ascontiguousarray(data)
        if data.ndim != 1 or len(data) != expected[-1]:
            raise ValueError(
                f"BlockMatrix: data must be 1D with {expected[-1]} entries for these pairs, got shape {data.shape}"
            )
        if not (np.issubdtype(data.dtype, np.floating) or np.issubdtype(data.dtype, np.complexfloating)):
            raise ValueError(f"BlockMatrix: data must be float or complex, got {data.dtype}")
        self.data = data
        self._sorted: tuple[np.ndarray, np.ndarray] | None = None
        self._bloch_plan: tuple | None = None

    # ------------------------------------------------------------------ construction
    @classmethod
    def from_blocks(cls, pairs: np.ndarray, blocks: Sequence[np.ndarray], orbital_counts: Sequence[int],
                    spinful: bool = False) -> "BlockMatrix":
        """Build from a list of dense blocks (one per row of ``pairs``)."""
        dtype = np.result_type(*[np.asarray(b).dtype for b in blocks], np.float64) if len(blocks) else np.float64
        data = np.concatenate([np.asarray(b, dtype=dtype).ravel() for b in blocks]) if len(blocks) else np.zeros(0)
        return cls(pairs, data, orbital_counts, spinful=spinful)

    def with_data(self, data: np.ndarray) -> "BlockMatrix":
        """Same pairs and basis, new entries (e.g. a prediction)."""
        return BlockMatrix(self.pairs, data, self.orbital_counts, spinful=self.spinful)

    def copy(self) -> "BlockMatrix":
        return self.with_data(self.data.copy())

    # ------------------------------------------------------------------ shape information
    @property
    def n_atoms(self) -> int:
        return len(self.orbital_counts)

    @property
    def n_pairs(self) -> int:
        return len(self.pairs)

    def __len__(self) -> int:
        return self.n_pairs

    @property
    def n_spin(self) -> int:
        """2 when spinful (spinor blocks), else 1."""
        return 2 if self.spinful else 1

    @property
    def block_shapes(self) -> np.ndarray:
        """(P, 2) rows and columns of each block."""
        counts = self.orbital_counts * self.n_spin
        return np.stack([counts[self.pairs[:, 3]], counts[self.pairs[:, 4]]], axis=1)

    @property
    def atom_offsets(self) -> np.ndarray:
        """(n_atoms + 1,) first row of each atom in the full matrix."""
        return np.concatenate([[0], np.cumsum(self.orbital_counts * self.n_spin)]).astype(np.int64)

    @property
    def n_orbitals(self) -> int:
        """Dimension of the full matrix H(k) (spin included)."""
        return int(self.atom_offsets[-1])

    @property
    def translations(self) -> np.ndarray:
        """(P, 3) lattice translations R."""
        return self.pairs[:, :3]

    def __repr__(self) -> str:
        return (f"BlockMatrix({self.n_pairs} blocks, {self.n_atoms} atoms, {self.n_orbitals} orbitals, "
                f"{self.data.dtype}{', spinful' if self.spinful else ''})")

    # ------------------------------------------------------------------ lookup
    def find(self, query: np.ndarray) -> np.ndarray:
        """Index of each (R1, R2, R3, i, j) row of ``query`` (shape (n, 5)) in ``pairs``; -1 if absent."""
        if self._sorted is None:
            self._sorted = _sorted_keys(self.pairs)
        return _lookup(*self._sorted, query)

    def index(self, i: int, j: int, R: Sequence[int] = (0, 0, 0)) -> int:
        """Position of block (i, j, R) in ``pairs``; KeyError if it is not stored."""
        idx = int(self.find(np.array([[*R, i, j]]))[0])
        if idx < 0:
            raise KeyError(f"no block for atoms ({i}, {j}) at R = {tuple(int(r) for r in R)}")
        return idx

    def block(self, i: int, j: int, R: Sequence[int] = (0, 0, 0)) -> np.ndarray:
        """View of block (i, j, R) with shape (n_i, n_j) (doubled when spinful)."""
        return self.block_at(self.index(i, j, R))

    def block_at(self, p: int) -> np.ndarray:
        rows, cols = self.block_shapes[p]
        return self.data[self.offsets[p]:self.offsets[p + 1]].reshape(rows, cols)

    def __iter__(self) -> Iterator[tuple[tuple[int, int, tuple[int, int, int]], np.ndarray]]:
        """Yield ``((i, j, R), block)``; slow for big matrices, meant for inspection."""
        for p, (r1, r2, r3, i, j) in enumerate(self.pairs):
            yield (int(i), int(j), (int(r1), int(r2), int(r3))), self.block_at(p)

    def partner(self) -> np.ndarray:
        """For every pair p = (i, j, R), the index of (j, i, -R); -1 where it is missing."""
        return self.find(mirrored_pairs(self.pairs))

    # ------------------------------------------------------------------ grouping by atom kinds
    def groups(self, kinds: Sequence[int]) -> list[KindGroup]:
        """Group blocks by the kinds (e.g. species indices) of their two atoms.

        Args:
            kinds: (n_atoms,) integer kind of each atom; atoms of one kind must have the same
                number of orbitals.
        """
        kinds = np.asarray(kinds, dtype=np.int64)
        if len(kinds) != self.n_atoms:
            raise ValueError(f"kinds has {len(kinds)} entries for {self.n_atoms} atoms")
        ki, kj = kinds[self.pairs[:, 3]], kinds[self.pairs[:, 4]]
        shapes = self.block_shapes
        out = []
        for a, b in sorted(set(zip(ki.tolist(), kj.tolist()))):
            sel = np.flatnonzero((ki == a) & (kj == b))
            shape = tuple(int(s) for s in shapes[sel[0]])
            if not np.all(shapes[sel] == shape):
                raise ValueError(f"atoms of kind {a} or {b} do not all have the same number of orbitals")
            entry = self.offsets[sel][:, None] + np.arange(shape[0] * shape[1])[None, :]
            out.append(KindGroup((a, b), shape, sel, entry))
        return out

    def permute_orbitals(self, kinds: Sequence[int], perms: dict[int, np.ndarray]) -> "BlockMatrix":
        """New matrix with rows/columns of each atom's orbitals reordered: ``new = old[perm]``.

        Args:
            kinds: (n_atoms,) kind of each atom.
            perms: kind -> permutation of that kind's spatial orbitals (applied per spin when spinful).
        """
        return self.with_data(self.data[self.permutation_gather(kinds, perms)])

    def permutation_gather(self, kinds: Sequence[int], perms: dict[int, np.ndarray]) -> np.ndarray:
        """Index ``g`` with ``data[g]`` = the entries of :meth:`permute_orbitals` (reusable for
        several matrices on the same pairs)."""
        gather = np.empty(len(self.data), dtype=np.int64)
        for g in self.groups(kinds):
            pa, pb = (np.concatenate([perms[k] + s * len(perms[k]) for s in range(self.n_spin)])
                      for k in g.kinds)
            within = (pa[:, None] * g.shape[1] + pb[None, :]).ravel()
            gather[g.entry_index] = self.offsets[g.pair_index][:, None] + within[None, :]
        return gather

    # ------------------------------------------------------------------ symmetry
    def hermiticity_error(self) -> float:
        """max |B(i,j,R) - B(j,i,-R)^†| over all blocks; inf if a partner block is missing."""
        partner = self.partner()
        if np.any(partner < 0):
            return float("inf")
        return float(np.max(np.abs(self.data - self._partner_dagger(partner)), initial=0.0))

    def symmetrize(self) -> "BlockMatrix":
        """(B + B_partner^†) / 2 for every block; every (i, j, R) must have its (j, i, -R).

        ``2 * max|B - symmetrized B|`` equals :meth:`hermiticity_error` of the input.
        """
        partner = self.partner()
        if np.any(partner < 0):
            p = int(np.flatnonzero(partner < 0)[0])
            raise ValueError(f"block {tuple(self.pairs[p])} has no partner (j, i, -R); cannot symmetrize")
        return self.with_data(0.5 * (self.data + self._partner_dagger(partner)))

    def _partner_dagger(self, partner: np.ndarray) -> np.ndarray:
        """Entries of B(j,i,-R)^† laid out like this matrix's data."""
        return np.conj(self.data[self.partner_transpose_gather(partner)])

    def partner_transpose_gather(self, partner: np.ndarray | None = None) -> np.ndarray:
        """Index ``g`` with ``data[g]`` = entries of B(j,i,-R)^T laid out like B(i,j,R).

        Args:
            partner: :meth:`partner` if already computed (every entry must be >= 0).
        """
        partner = self.partner() if partner is None else partner
        gather = np.empty(len(self.data), dtype=np.int64)
        for g in self.groups(self.orbital_counts):
            rows, cols = g.shape
            transposed = np.arange(rows * cols).reshape(cols, rows).T.ravel()
            gather[g.entry_index] = self.offsets[partner[g.pair_index]][:, None] + transposed[None, :]
        return gather

    # ------------------------------------------------------------------ Bloch sums
    def _plan(self) -> BlochLayout:
        """CSR layout of H(k), computed once per matrix (see :mod:`ase_deeph2.bloch_layout`)."""
        if self._bloch_plan is None:
            self._bloch_plan = bloch_layout(self)
        return self._bloch_plan

    def bloch(self, k: Sequence[float], real_if_possible: bool = False) -> sp.csr_matrix:
        """H(k) = sum_R exp(i 2 pi k.R) H(R) as complex scipy CSR, shape (n_orbitals, n_orbitals).

        With ``real_if_possible``, H(k) at k = -k (Gamma and the other time-reversal-invariant
        points) of a real H(R) is returned real: half the memory, real arithmetic in the solvers.

        Args:
            k: (3,) fractional reciprocal coordinates (lattice gauge, no intra-cell phase).
        """
        k = np.asarray(k, dtype=np.float64)
        if k.shape != (3,):
            raise ValueError(f"k must have shape (3,), got {k.shape}; use bloch_many for several k")
        indptr, indices, mapping, dup, pair_of_entry = self._plan()
        twice = 2 * k
        if real_if_possible and np.all(np.abs(twice - np.round(twice)) < 1e-10) and not np.iscomplexobj(self.data):
            # k = -k (Gamma, zone-boundary TRIM points): the phases are +-1 and H(k) is real
            phase = 1.0 - 2.0 * (np.round(self.translations @ twice).astype(np.int64) % 2)
        else:
            phase = np.exp(2j * np.pi * (self.translations @ k))
        n = self.n_orbitals
        if dup:
            vals = self.data * phase[pair_of_entry]
            out = np.bincount(mapping, weights=vals.real, minlength=len(indices))
            if np.iscomplexobj(vals):
                out = out.astype(np.complex128)
                out.imag = np.bincount(mapping, weights=vals.imag, minlength=len(indices))
        else:
            out = self.data[mapping] * phase[pair_of_entry[mapping]]
        if not real_if_possible:
            out = out.astype(np.result_type(out.dtype, np.complex64), copy=False)
        return sp.csr_matrix((out, indices, indptr), shape=(n, n))

    def bloch_many(self, kpts: np.ndarray) -> list[sp.csr_matrix]:
        """H(k) for each row of ``kpts`` (nk, 3); the CSR pattern is computed once and shared."""
        return [self.bloch(k) for k in np.asarray(kpts, dtype=np.float64).reshape(-1, 3)]

    def to_dense(self, k: Sequence[float] = (0.0, 0.0, 0.0)) -> np.ndarray:
        """Dense complex H(k), shape (n_orbitals, n_orbitals); for small systems."""
        return self.bloch(k).toarray()

    # ------------------------------------------------------------------ supercells and subsets
    def tile(self, reps: Sequence[int]) -> "BlockMatrix":
        """The same operator on an (n1, n2, n3) supercell, atoms ordered as ``ase.Atoms.repeat``.

        New atom index = image * n_atoms + old index, images in C order over (m1, m2, m3).
        """
        reps = np.asarray(reps, dtype=np.int64)
        if reps.shape != (3,) or np.any(reps < 1):
            raise ValueError(f"reps must be three positive integers, got {reps.tolist()}")
        images = np.stack(np.meshgrid(*[np.arange(r) for r in reps], indexing="ij"), -1).reshape(-1, 3)
        n_img, n = len(images), self.n_atoms
        shifted = images[:, None, :] + self.translations[None, :, :]  # (T, P, 3)
        new_R = np.floor_divide(shifted, reps)
        target = shifted - new_R * reps
        target_img = (target[..., 0] * reps[1] + target[..., 1]) * reps[2] + target[..., 2]
        new_i = np.arange(n_img)[:, None] * n + self.pairs[None, :, 3]
        new_j = target_img * n + self.pairs[None, :, 4]
        pairs = np.concatenate([new_R, new_i[..., None], new_j[..., None]], axis=-1).reshape(-1, 5)
        return BlockMatrix(pairs, np.tile(self.data, n_img), np.tile(self.orbital_counts, n_img),
                           spinful=self.spinful)

    def select(self, pair_index: np.ndarray) -> "BlockMatrix":
        """Subset of blocks (index array or boolean mask over pairs), same atoms."""
        pair_index = np.asarray(pair_index)
        if pair_index.dtype == bool:
            pair_index = np.flatnonzero(pair_index)
        entries = self._entries_of(pair_index.astype(np.int64))
        return BlockMatrix(self.pairs[pair_index], self.data[entries], self.orbital_counts, spinful=self.spinful)

    def _entries_of(self, pair_index: np.ndarray) -> np.ndarray:
        sizes = self.offsets[pair_index + 1] - self.offsets[pair_index]
        starts = np.repeat(self.offsets[pair_index] - np.concatenate([[0], np.cumsum(sizes)[:-1]]), sizes)
        return starts + np.arange(sizes.sum())

    def select_species(self, kinds: Sequence[int], a: int, b: int) -> "BlockMatrix":
        """Blocks between atoms of kind ``a`` and kind ``b`` (in that order)."""
        kinds = np.asarray(kinds)
        return self.select((kinds[self.pairs[:, 3]] == a) & (kinds[self.pairs[:, 4]] == b))

    def aligned_to(self, other: "BlockMatrix") -> "BlockMatrix":
        """This matrix's blocks in the pair order of ``other``; KeyError naming a missing block."""
        idx = self.find(other.pairs)
        if np.any(idx < 0):
            p = other.pairs[int(np.flatnonzero(idx < 0)[0])]
            raise KeyError(f"block (i={p[3]}, j={p[4]}, R={tuple(p[:3])}) is missing ({np.sum(idx < 0)} in all)")
        return self.select(idx)

    def error_stats(self, reference: "BlockMatrix") -> dict[str, float]:
        """Errors of this matrix against ``reference`` over the reference's blocks (aligned by pair).

        Returns ``mae``, ``rmse`` and ``max_abs`` in the matrices' units (eV for H).
        """
        mine = self if np.array_equal(self.pairs, reference.pairs) else self.aligned_to(reference)
        diff = np.abs(mine.data - reference.data)
        if diff.size == 0:
            return {"mae": 0.0, "rmse": 0.0, "max_abs": 0.0}
        return {"mae": float(diff.mean()), "rmse": float(np.sqrt(np.mean(diff**2))), "max_abs": float(diff.max())}

    def to_spinor(self) -> "BlockMatrix":
        """Spatial matrix (e.g. S) as spinful blocks ``kron(I2, B)`` in the spin-major layout."""
        if self.spinful:
            return self
        data = np.zeros(4 * len(self.data), dtype=self.data.dtype)
        for g in self.groups(self.orbital_counts):
            r, c = g.shape
            stack = self.data[g.entry_index].reshape(-1, r, c)
            spinor = np.zeros((len(stack), 2 * r, 2 * c), dtype=self.data.dtype)
            spinor[:, :r, :c] = stack
            spinor[:, r:, c:] = stack
            entry = 4 * self.offsets[g.pair_index][:, None] + np.arange(4 * r * c)[None, :]
            data[entry] = spinor.reshape(len(stack), -1)
        return BlockMatrix(self.pairs, data, self.orbital_counts, spinful=True)
