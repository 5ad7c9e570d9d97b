"""Exact overlap S(R) of any structure from the OpenMX basis functions, without a DFT run.

Two-centre integrals by the Fourier route: with F_s(k) = int R_s(r) j_l(k r) r^2 dr,

    S_{(l1 m1),(l2 m2)}(R) = 8 sum_L (-1)^((l1 - l2 - L)/2) I_L(|R|) sum_M G(l1 m1, l2 m2, L M) Y_LM(R/|R|),
    I_L(d) = int k^2 F_1(k) F_2(k) j_L(k d) dk,

with real Gaunt coefficients G and orthonormal real spherical harmonics Y (Wikipedia order). In
the bond frame (R along the polar axis) only M = 0 survives and the block is diagonal in m,
depending on |m| only: S_{s1 s2 |m|}(d), a few 1D functions per species pair. They are tabulated
on a fine distance grid (OpenMX's own k quadrature, see ``ase_deeph2.pao``), interpolated by cubic
splines, and rotated to the global frame with the Wigner-D code the model uses:
S = D^{l1}(R_edge) S_bond D^{l2}(R_edge)^T.
"""

from __future__ import annotations

import math
from functools import lru_cache
from os import PathLike
from typing import Sequence

import numpy as np
from ase import Atoms
from ase.units import Bohr
from scipy.interpolate import CubicSpline
from scipy.special import spherical_jn

from . import rotations
from .basis import BasisSet
from .blocks import BlockMatrix
from .graph import Pairs, overlap_pairs
from .pao import OPENMX_FFT, RadialBasis, find_pao, read_pao

__all__ = ["OverlapTables", "overlap_matrix", "real_gaunt"]

TABLE_SPACING_BOHR = 0.004  # spline error < 1e-10 (measured in tests/test_overlap.py)
STATE_FORMAT = "ase_deeph2-overlap-tables-1"


@lru_cache(maxsize=None)
def real_gaunt(l1: int, l2: int, L: int) -> np.ndarray:
    """G(l1 m, l2 m, L 0) = int Y_{l1 m} Y_{l2 m} Y_{L 0} dOmega for m = 0..min(l1, l2), orthonormal real SH.

    Exact quadrature (:func:`~ase_deeph2.rotations.sphere_quadrature`) with the package's real SH.
    """
    points, weights = rotations.sphere_quadrature(l1 + l2 + L)
    y = {l: rotations.real_sph_harm(l, points) / math.sqrt(4 * math.pi) for l in {l1, l2, L}}
    return np.array([float(np.sum(weights * y[l1][:, l1 + m] * y[l2][:, l2 + m] * y[L][:, L]))
                     for m in range(min(l1, l2) + 1)])


def _channels(ls_a: tuple[int, ...], ls_b: tuple[int, ...]) -> np.ndarray:
    """(n_channels, 3) rows (shell_a, shell_b, |m|) of the independent bond-frame functions."""
    return np.array([(s1, s2, m) for s1, l1 in enumerate(ls_a) for s2, l2 in enumerate(ls_b)
                     for m in range(min(l1, l2) + 1)], dtype=np.int64).reshape(-1, 3)


class OverlapTables:
    """S_{s1 s2 |m|}(d) of every species pair, as cubic splines on a distance grid (Bohr).

    Build from PAO files with :meth:`from_pao`; store in a model file with :meth:`to_state`
    (tensors and plain data only) and rebuild with :meth:`from_state`: no PAO files needed then.
    """

    def __init__(self, basis: BasisSet, grids: dict[tuple[str, str], np.ndarray],
                 values: dict[tuple[str, str], np.ndarray]):
        self.basis = basis
        self.grids, self.values = grids, values
        self.channels = {key: _channels(basis[key[0]].ls, basis[key[1]].ls) for key in grids}
        self._splines = {key: CubicSpline(grids[key], values[key], axis=0) for key in grids}

    # ------------------------------------------------------------------ construction
    @classmethod
    def from_pao(cls, basis: BasisSet, pao_dirs: Sequence[str | PathLike] = (),
                 spacing_bohr: float = TABLE_SPACING_BOHR) -> "OverlapTables":
        """Tables for every pair of elements in ``basis`` from their PAO files (searched in ``pao_dirs``)."""
        radial = {}
        for el in basis.elements:
            eb = basis[el]
            if not eb.pao_name:
                raise ValueError(f"element {el}: basis {eb.name!r} does not name a PAO file (like 'C6.0-s2p2d1')")
            radial[el] = RadialBasis.from_pao(eb, read_pao(find_pao(eb.pao_name, pao_dirs, el)))
        k, w = OPENMX_FFT.quadrature_k
        at_k = {el: rb.at(k) for el, rb in radial.items()}
        d_max = 2 * max(rb.cutoff_bohr for rb in radial.values())
        d_all = np.arange(int(math.ceil(d_max / spacing_bohr)) + 1) * spacing_bohr
        bessel: dict[int, np.ndarray] = {}  # j_L(k d) on the common grid, shared by all pairs
        grids, values = {}, {}
        for a in basis.elements:
            for b in basis.elements:
                n = int(math.ceil((radial[a].cutoff_bohr + radial[b].cutoff_bohr) / spacing_bohr)) + 1
                grids[(a, b)] = d_all[:n]
                values[(a, b)] = cls._tabulate(basis[a].ls, basis[b].ls, at_k[a], at_k[b], k, w, d_all, bessel)[:n]
        return cls(basis, grids, values)

    @staticmethod
    def _tabulate(ls_a, ls_b, fa: np.ndarray, fb: np.ndarray, k: np.ndarray, w: np.ndarray,
                  d: np.ndarray, bessel: dict[int, np.ndarray] | None = None) -> np.ndarray:
        """(len(d), n_channels) values of the bond-frame functions on the grid d (Bohr).

        ``bessel`` caches j_L(k d) per L for this d grid across calls.
        """
        channels = _channels(ls_a, ls_b)
        out = np.zeros((len(d), len(channels)))
        kd = np.outer(d, k)
        weight = w * k * k
        bessel = {} if bessel is None else bessel
        for c, (s1, s2, m) in enumerate(channels):
            l1, l2 = ls_a[s1], ls_b[s2]
            product = weight * fa[s1] * fb[s2]
            for L in range(abs(l1 - l2), l1 + l2 + 1, 2):
                if L not in bessel:
                    bessel[L] = spherical_jn(L, kd)  # (len(d), n_k)
                gaunt = real_gaunt(l1, l2, L)[m]
                if gaunt == 0.0:
                    continue
                phase = (-1) ** ((l1 - l2 - L) // 2)
                out[:, c] += 8 * phase * gaunt * math.sqrt((2 * L + 1) / (4 * math.pi)) * (bessel[L] @ product)
        return out

    # ------------------------------------------------------------------ storage
    def to_state(self) -> dict:
        """Plain data and numpy arrays (model files store the arrays as tensors)."""
        return {"format": STATE_FORMAT, "basis": self.basis.to_strings(),
                "pairs": {f"{a}|{b}": {"grid_bohr": self.grids[(a, b)].copy(), "values": self.values[(a, b)].copy()}
                          for a, b in self.grids}}

    @classmethod
    def from_state(cls, state: dict) -> "OverlapTables":
        if not isinstance(state, dict) or state.get("format") != STATE_FORMAT:
            raise ValueError(f"not overlap tables of this version (expected format {STATE_FORMAT!r})")
        basis = BasisSet.from_strings(state["basis"])
        grids, values = {}, {}
        for key, item in state["pairs"].items():
            a, b = key.split("|")
            grids[(a, b)] = np.asarray(item["grid_bohr"], dtype=np.float64)
            values[(a, b)] = np.asarray(item["values"], dtype=np.float64)
        return cls(basis, grids, values)

    # ------------------------------------------------------------------ evaluation
    def bond_frame(self, a: str, b: str, distances_bohr: np.ndarray) -> np.ndarray:
        """(n, n_a, n_b) overlap blocks with the bond along the polar axis (diagonal in m)."""
        ls_a, ls_b = self.basis[a].ls, self.basis[b].ls
        start_a, start_b = self.basis[a].shell_offsets, self.basis[b].shell_offsets
        if np.any(distances_bohr > self.grids[(a, b)][-1] + 1e-12):
            raise ValueError(f"{a}-{b} distance beyond the tables ({self.grids[(a, b)][-1]:.3f} Bohr)")
        vals = self._splines[(a, b)](distances_bohr)  # (n, n_channels)
        out = np.zeros((len(distances_bohr), self.basis[a].n_orbitals, self.basis[b].n_orbitals))
        for c, (s1, s2, m) in enumerate(self.channels[(a, b)]):
            l1, l2 = ls_a[s1], ls_b[s2]
            for sign in ((1, -1) if m else (1,)):
                out[:, start_a[s1] + l1 + sign * m, start_b[s2] + l2 + sign * m] = vals[:, c]
        return out

    def wigner_blocks(self, element: str, alpha, beta, gamma) -> np.ndarray:
        """(n, n_orb, n_orb) block-diagonal D over the element's shells for the given frames."""
        eb = self.basis[element]
        d = {l: rotations.wigner_D(l, alpha, beta, gamma) for l in set(eb.ls)}
        out = np.zeros((len(alpha), eb.n_orbitals, eb.n_orbitals))
        for start, l in zip(eb.shell_offsets, eb.ls):
            out[:, start:start + 2 * l + 1, start:start + 2 * l + 1] = d[l]
        return out

    def blocks(self, a: str, b: str, vectors_angstrom: np.ndarray) -> np.ndarray:
        """(n, n_a, n_b) overlap blocks <phi_a(0)|phi_b(v)> for bond vectors v (Å), global frame."""
        angles = rotations.edge_angles(vectors_angstrom)
        local = self.bond_frame(a, b, np.linalg.norm(vectors_angstrom, axis=1) / Bohr)
        da = self.wigner_blocks(a, *angles)
        db = da if a == b else self.wigner_blocks(b, *angles)
        return da @ local @ db.transpose(0, 2, 1)

    def overlap_matrix(self, atoms: Atoms, chunk: int = 50_000, pairs: Pairs | None = None) -> BlockMatrix:
        """S(R) of ``atoms`` as a BlockMatrix (float64, Wikipedia order, pairs as OpenMX stores them).

        ``pairs``: the neighbour list of ``atoms`` for this basis, if already computed.
        """
        symbols = atoms.get_chemical_symbols()
        self.basis.check_symbols(symbols, where="overlap_matrix")
        found = overlap_pairs(atoms, self.basis.cutoffs(symbols)) if pairs is None else pairs
        counts = self.basis.orbital_counts(symbols)
        matrix = BlockMatrix(found.pairs, np.zeros(int((counts[found.pairs[:, 3]] * counts[found.pairs[:, 4]]).sum())),
                             counts)
        elements = self.basis.elements
        for g in matrix.groups(self.basis.species_index(symbols)):
            a, b = elements[g.kinds[0]], elements[g.kinds[1]]
            for start in range(0, len(g.pair_index), chunk):
                sel = slice(start, start + chunk)
                blocks = self.blocks(a, b, found.vectors[g.pair_index[sel]])
                matrix.data[g.entry_index[sel]] = blocks.reshape(len(blocks), -1)
        return matrix


def overlap_matrix(atoms: Atoms, basis: BasisSet | OverlapTables, pao_dirs: Sequence[str | PathLike] = ()) -> BlockMatrix:
    """S(R) of any structure (periodic, slab or molecule) from the basis functions alone.

    Args:
        atoms: the structure (Å).
        basis: the basis (PAO files then read from ``pao_dirs`` / ``$OPENMX_DATA_PATH/PAO``), or
            prebuilt :class:`OverlapTables` (e.g. from a model file).
    """
    tables = basis if isinstance(basis, OverlapTables) else OverlapTables.from_pao(basis, pao_dirs)
    return tables.overlap_matrix(atoms)
