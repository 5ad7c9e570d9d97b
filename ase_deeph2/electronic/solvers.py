"""Generalized eigenproblems H(k) c = E S(k) c: dense for small systems, sparse shift-invert for large.

* dense: ``scipy.linalg.eigh`` (all states);
* sparse: ``scipy.sparse.linalg.eigsh(H, k=n, M=S, sigma=E_ref)``: the n states nearest E_ref; the
  factorisation of H - E_ref S is the cost (MKL PARDISO when installed, ``pip install mkl``; else
  SuperLU). Where H(k) is real (k = -k, e.g. Gamma) it runs in real arithmetic;
* the number of states below an energy comes from the inertia (Sylvester's law) of H - E S, read
  off an LDL^H-like factorisation with symmetric pivoting: this anchors the band index of the
  sparse window, so a Fermi level can be found without all states;
* a near-singular S(k) (over-complete basis, "ghost bands") is detected from its smallest
  eigenvalue and can be projected out (canonical orthogonalisation).
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np
import scipy.linalg as sl
import scipy.sparse as sp
from scipy.sparse.linalg import ArpackNoConvergence, LinearOperator, eigsh, splu

from ..blocks import BlockMatrix
from . import pardiso

__all__ = ["KSolution", "solve_k", "count_states_below", "smallest_overlap_eigenvalue", "DENSE_LIMIT", "DEFAULT_NBANDS",
           "SingularOverlapWarning", "OVERLAP_WARN"]

#: Matrices up to this dimension are solved densely by default.
DENSE_LIMIT = 3000
#: Sparse solver: states per k nearest the reference energy, unless asked otherwise.
DEFAULT_NBANDS = 40
#: Smallest eigenvalue of S(k) below which a warning is raised. An error e in a predicted H along a
#: direction where S has eigenvalue s can move a state by about e / s: 1 meV / 1e-4 = 10 eV (a ghost
#: band). Pristine graphene with C6.0-s2p2d1 has s = 9e-4.
OVERLAP_WARN = 1e-4


class SingularOverlapWarning(UserWarning):
    """S(k) is nearly singular: some bands may be spurious ("ghost bands")."""


@dataclass
class KSolution:
    """Eigenstates at one k.

    Attributes:
        energies: (n,) eV, ascending.
        vectors: (n_orbitals, n) or None.
        first_band: global index of ``energies[0]`` among all states at this k (0 for dense).
        requested, found: states asked for and converged (sparse); equal for dense.
        overlap_min: smallest eigenvalue of S(k) if it was computed, else None.
    """

    energies: np.ndarray
    vectors: np.ndarray | None
    first_band: int
    requested: int
    found: int
    overlap_min: float | None = None


def smallest_overlap_eigenvalue(s_k) -> float:
    """Smallest eigenvalue of S(k) (dense or CSR)."""
    if sp.issparse(s_k) and s_k.shape[0] > DENSE_LIMIT:
        return float(eigsh(s_k, k=1, sigma=0.0, which="LM", return_eigenvectors=False)[0])
    dense = s_k.toarray() if sp.issparse(s_k) else s_k
    return float(sl.eigvalsh(dense, subset_by_index=[0, 0])[0])


def _dense(h_k, s_k, eigenvectors: bool, project_below: float | None) -> tuple[np.ndarray, np.ndarray | None, float | None]:
    h = h_k.toarray() if sp.issparse(h_k) else h_k
    s = s_k.toarray() if sp.issparse(s_k) else s_k
    if project_below is None:
        if eigenvectors:
            e, v = sl.eigh(h, s)
            return e, v, None
        return sl.eigh(h, s, eigvals_only=True), None, None
    sval, svec = sl.eigh(s)
    keep = sval > project_below
    x = svec[:, keep] / np.sqrt(sval[keep])
    e, c = sl.eigh(x.conj().T @ h @ x)
    return e, (x @ c if eigenvectors else None), float(sval[0])


def count_states_below(h_k, s_k, energy: float) -> int:
    """Number of eigenvalues of H c = E S c below ``energy`` (inertia of H - energy * S).

    Uses a sparse LU with diagonal (symmetric) pivoting, i.e. an LDL^H factorisation: the count is
    the number of negative pivots. Raises RuntimeError if the pivoting could not stay symmetric.
    """
    if not sp.issparse(h_k):
        return int(np.sum(sl.eigvalsh(np.asarray(h_k), np.asarray(s_k)) < energy))
    lu = splu(sp.csc_matrix(h_k - energy * s_k), permc_spec="MMD_AT_PLUS_A", diag_pivot_thresh=0.0, options={"SymmetricMode": True})
    if not np.array_equal(lu.perm_r, lu.perm_c):
        raise RuntimeError(f"symmetric pivoting failed at E = {energy:.6f} eV; move the reference energy slightly")
    pivots = lu.U.diagonal()
    if np.any(~np.isfinite(pivots)) or np.any(np.abs(pivots) == 0):
        raise RuntimeError(f"zero pivot at E = {energy:.6f} eV (an eigenvalue there); move the reference energy")
    return int(np.sum(pivots.real < 0))


class ShiftInvert:
    """The factorisation of H(k) - sigma S(k): solves for the shift-invert Lanczos, and the number of
    states below sigma (inertia). MKL PARDISO when available (``pip install mkl``), else SuperLU.

    SuperLU factorises once with symmetric (diagonal) pivoting on a minimum-degree ordering of
    A + A^T: that LU is an LDL^H, so the same factors give the solves and the inertia (measured on
    a 2048-atom sheet: 94 s instead of 249 s for a partially pivoted LU plus 94 s for a second,
    symmetric one). If the pivoting cannot stay symmetric, a partially pivoted LU serves the solves
    and the inertia gets its own factorisation.
    """

    def __init__(self, h_k, s_k, sigma: float):
        self.a = sp.csr_matrix(h_k - sigma * s_k)
        self.sigma = sigma
        self._ldl = None
        self._pivots = None
        if pardiso.available():
            self._ldl = pardiso.PardisoLDL(self.a)
            self._solve = self._ldl.solve
            return
        lu = splu(self.a.tocsc(), permc_spec="MMD_AT_PLUS_A", diag_pivot_thresh=0.0, options={"SymmetricMode": True})
        pivots = lu.U.diagonal()
        if np.array_equal(lu.perm_r, lu.perm_c) and np.all(np.isfinite(pivots)) and np.all(pivots != 0):
            self._pivots = pivots
        else:
            lu = splu(self.a.tocsc())
        self._solve = lu.solve

    def operator(self) -> LinearOperator:
        return LinearOperator(self.a.shape, matvec=self._solve, dtype=self.a.dtype)

    def count_below(self) -> int:
        """States below sigma: negative pivots of an LDL^H factorisation (Sylvester's law of inertia)."""
        if self._pivots is not None:
            return int(np.sum(self._pivots.real < 0))
        if self._ldl is not None and not self._ldl.complex and self._ldl.perturbed_pivots == 0:
            return self._ldl.inertia[1]
        if self._ldl is not None and self._ldl.complex:
            # a Hermitian n x n matrix has the inertia of the real symmetric [[Re, -Im], [Im, Re]], halved
            real = sp.bmat([[self.a.real, -self.a.imag], [self.a.imag, self.a.real]], format="csr")
            ldl = pardiso.PardisoLDL(real)
            if ldl.perturbed_pivots == 0:
                return ldl.inertia[1] // 2
        return count_states_below(self.a.tocsc(), sp.identity(self.a.shape[0], format="csc"), 0.0)


def _sparse(h_k, s_k, n: int, sigma: float, eigenvectors: bool, count_below: bool
            ) -> tuple[np.ndarray, np.ndarray | None, int, int]:
    dim = h_k.shape[0]
    n = min(n, dim - 2)
    factor = ShiftInvert(h_k, s_k, sigma)
    try:
        result = eigsh(h_k, k=n, M=s_k, sigma=sigma, which="LM", OPinv=factor.operator(),
                       return_eigenvectors=eigenvectors)
    except ArpackNoConvergence as err:
        result = (err.eigenvalues, err.eigenvectors) if eigenvectors else err.eigenvalues
    energies, vectors = (result if eigenvectors else (result, None))
    order = np.argsort(energies)
    energies = np.asarray(energies)[order]
    if vectors is not None:
        vectors = np.asarray(vectors)[:, order]
    below = factor.count_below() if count_below else -1
    return energies, vectors, n, below


def solve_k(h: BlockMatrix, s: BlockMatrix, k, nbands: int | None = None, sigma: float | None = None,
            method: str = "auto", eigenvectors: bool = False, check_overlap: bool = True,
            project_overlap_below: float | None = None, count_below: bool = True) -> KSolution:
    """Eigenstates of H(k) c = E S(k) c at fractional ``k``.

    Args:
        h, s: H(R) in eV and S(R); a spinful H takes a spatial S (expanded to spinors here).
        nbands: sparse: states nearest ``sigma`` (default :data:`DEFAULT_NBANDS`); dense: ignored.
        sigma: reference energy (eV) of the sparse window (required for "sparse").
        method: "dense", "sparse" or "auto" (dense up to :data:`DENSE_LIMIT` orbitals).
        eigenvectors: also return the eigenvectors.
        check_overlap: compute the smallest eigenvalue of S(k) and warn below :data:`OVERLAP_WARN`.
        project_overlap_below: dense only: drop the directions of S(k) with eigenvalues below this
            (canonical orthogonalisation); fewer bands are returned.
        count_below: sparse: also count the states below ``sigma`` (a second factorisation), which
            gives ``first_band``; without it ``first_band`` is -1.
    """
    k = np.asarray(k, dtype=np.float64)
    if h.spinful and not s.spinful:
        s = s.to_spinor()
    dim = h.n_orbitals
    if method == "auto":
        method = "dense" if dim <= DENSE_LIMIT else "sparse"
    if method not in ("dense", "sparse"):
        raise ValueError(f"method must be 'dense', 'sparse' or 'auto', got {method!r}")
    h_k, s_k = h.bloch(k, real_if_possible=True), s.bloch(k, real_if_possible=True)
    smin = None
    if check_overlap or project_overlap_below is not None:
        smin = smallest_overlap_eigenvalue(s_k)
        if smin < OVERLAP_WARN:
            warnings.warn(f"S(k) at k = {np.round(k, 4).tolist()} is nearly singular (smallest eigenvalue {smin:.2e}): "
                          "some bands may be spurious; consider project_overlap_below", SingularOverlapWarning,
                          stacklevel=2)
    if method == "dense":
        energies, vectors, _ = _dense(h_k, s_k, eigenvectors, project_overlap_below)
        return KSolution(energies, vectors, 0, len(energies), len(energies), smin)
    if sigma is None:
        raise ValueError("the sparse solver needs a reference energy sigma (eV), e.g. the expected Fermi level")
    if project_overlap_below is not None:
        raise ValueError("projection of S(k) directions is available for the dense solver only")
    requested = DEFAULT_NBANDS if nbands is None else int(nbands)
    energies, vectors, asked, below = _sparse(h_k, s_k, requested, sigma, eigenvectors, count_below)
    if len(energies) < asked:
        warnings.warn(f"sparse solver at k = {np.round(k, 4).tolist()}: asked for {asked} states near "
                      f"{sigma:.3f} eV, {len(energies)} converged", RuntimeWarning, stacklevel=2)
    first = below - int(np.sum(energies < sigma)) if count_below else -1
    return KSolution(energies, vectors, first, asked, len(energies), smin)
