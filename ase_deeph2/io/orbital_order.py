"""Check (and repair) the m order of orbitals in data converted by other tools, from geometry alone.

Eigenvalues cannot tell whether a dataset's orbitals are in the order it claims: any consistent
permutation leaves them unchanged. The overlap can. For an s orbital on atom i and a shell of
angular momentum l on atom j at bond vector v, the two-centre integral is

    S(s_i, (l, m)_j) = f_l(|v|) * Y_lm(v / |v|)

with one radial factor f_l for all m. So across many bonds the stored row must be parallel (up to
sign) to the real spherical harmonics Y_l in the Wikipedia order; the permutation that makes it so
is the stored order. (Measured: the shared graphene3x3 corpus stores p as (z, x, y) and d as
(yz, xy, z², x²-y², xz), although its README says Wikipedia order.)
"""

from __future__ import annotations

import itertools
import warnings

import numpy as np

from ..rotations import real_sph_harm
from .data import HamiltonianData

__all__ = ["detect_m_permutations", "repair_orbital_order", "OrbitalOrderError"]

_MIN_SCORE = 0.999  # mean |cos| between stored rows and permuted Y_l for a clear identification
_MAX_BONDS = 400


class OrbitalOrderError(ValueError):
    """The stored m order is not the Wikipedia one (or cannot be identified)."""


def _bond_samples(data: HamiltonianData, l: int) -> tuple[np.ndarray, np.ndarray]:
    """Stored s-(l shell) overlap rows and the bond directions' Y_l, both (n_bonds, 2l+1)."""
    s, atoms, basis = data.overlap, data.atoms, data.basis
    pairs = s.pairs
    offsite = (pairs[:, 3] != pairs[:, 4]) | pairs[:, :3].any(axis=1)
    rows, vectors = [], []
    for p in np.flatnonzero(offsite):
        r1, r2, r3, i, j = pairs[p]
        bi, bj = basis[atoms[i].symbol], basis[atoms[j].symbol]
        if bi.ls[0] != 0 or l not in bj.ls:
            continue
        block = s.block_at(p)[: bi.n_orbitals, : bj.n_orbitals]  # spatial part (first spin block)
        v = atoms.positions[j] + np.array([r1, r2, r3]) @ atoms.cell.array - atoms.positions[i]
        for shell, start in zip(bj.ls, bj.shell_offsets):
            if shell == l:
                rows.append(block[0, start:start + 2 * l + 1])
                vectors.append(v)
        if len(rows) >= _MAX_BONDS:
            break
    if not rows:
        return np.zeros((0, 2 * l + 1)), np.zeros((0, 2 * l + 1))
    y = real_sph_harm(l, np.array(vectors))
    return np.array(rows), y


def detect_m_permutations(data: HamiltonianData) -> dict[int, np.ndarray]:
    """For each l >= 1 in the basis, the permutation P with ``stored[k] = wikipedia[P[k]]``.

    Needs the overlap. Raises OrbitalOrderError if no permutation explains the data (e.g. sign
    conventions differ, or S is not an overlap).
    """
    if data.overlap is None:
        raise OrbitalOrderError(f"{data.source}: no overlap matrix, the orbital order cannot be checked")
    out = {}
    for l in sorted({l for el in data.basis.elements for l in data.basis[el].ls if l >= 1}):
        stored, y = _bond_samples(data, l)
        keep = (np.linalg.norm(stored, axis=1) > 1e-8) & (np.linalg.norm(y, axis=1) > 1e-8)
        stored, y = stored[keep], y[keep]
        if len(stored) == 0:
            continue
        stored = stored / np.linalg.norm(stored, axis=1, keepdims=True)
        y = y / np.linalg.norm(y, axis=1, keepdims=True)
        identity = tuple(range(2 * l + 1))
        best, best_score = identity, -1.0
        for perm in itertools.permutations(identity):
            score = float(np.mean(np.abs(np.einsum("bk,bk->b", stored, y[:, list(perm)]))))
            if score > best_score + 1e-9 or (perm == identity and score > best_score - 1e-9):
                best, best_score = perm, score
        if best_score < _MIN_SCORE:
            raise OrbitalOrderError(f"{data.source}: the l = {l} orbitals match no ordering of the real spherical "
                                    f"harmonics (best mean |cos| = {best_score:.4f}); signs or conventions differ")
        out[l] = np.array(best, dtype=np.int64)
    return out


def repair_orbital_order(data: HamiltonianData, mode: str = "auto") -> HamiltonianData:
    """Return ``data`` with its orbitals in Wikipedia order, checked against the overlap.

    Args:
        mode: ``"auto"`` reorders (with a warning naming the source and the stored order) when the
            stored order differs; ``"check"`` raises OrbitalOrderError instead; ``"trust"`` skips
            the check.
    """
    if mode not in ("auto", "check", "trust"):
        raise ValueError(f"orbital order mode must be 'auto', 'check' or 'trust', got {mode!r}")
    if mode == "trust" or data.overlap is None:
        return data
    found = detect_m_permutations(data)
    wrong = {l: p for l, p in found.items() if not np.array_equal(p, np.arange(2 * l + 1))}
    if not wrong:
        return data
    described = "; ".join(f"l={l}: stored[k] = wikipedia[{p.tolist()}]" for l, p in wrong.items())
    if mode == "check":
        raise OrbitalOrderError(f"{data.source}: orbitals are not in Wikipedia real-SH order ({described})")
    warnings.warn(f"{data.source}: orbitals were stored in another m order ({described}); reordered to "
                  "Wikipedia order (checked against the overlap)", stacklevel=3)
    perms = {}
    for k, el in enumerate(data.basis.elements):
        eb = data.basis[el]
        perms[k] = np.concatenate([start + np.argsort(wrong.get(l, np.arange(2 * l + 1)))
                                   for start, l in zip(eb.shell_offsets, eb.ls)])
    kinds = data.kinds
    data.hamiltonians = [h.permute_orbitals(kinds, perms) for h in data.hamiltonians]
    data.overlap = data.overlap.permute_orbitals(kinds, perms)
    data.info["orbital_order_repaired"] = {int(l): p.tolist() for l, p in wrong.items()}
    return data
