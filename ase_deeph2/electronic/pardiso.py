"""Optional fast path: sparse LDL^H factorisation with Intel MKL PARDISO (``pip install mkl``).

For the shift-invert of large systems, SuperLU (scipy) is the bottleneck: its fill and time grow
steeply beyond ~10^4 orbitals of these dense-ish NAO rows (600 non-zeros per row for graphene).
PARDISO (multithreaded, nested-dissection ordering, supernodal) factors H - sigma S of a 10^4-atom
sheet in seconds and reports the inertia of the factorisation, i.e. the number of states below
sigma, for free. This module is a thin ctypes binding to MKL's documented ``pardiso`` entry point
(real symmetric indefinite, mtype -2; complex Hermitian indefinite, mtype -4); without MKL the
solvers fall back to SuperLU.
"""

from __future__ import annotations

import ctypes
import glob
import os
import sys
from functools import lru_cache

import numpy as np
import scipy.sparse as sp

__all__ = ["available", "PardisoLDL"]

_INT = ctypes.c_int32  # MKL's LP64 interface


@lru_cache(maxsize=1)
def _library():
    """libmkl_rt from the pip/conda ``mkl`` package or the system, or None."""
    names = []
    for prefix in {sys.prefix, sys.base_prefix, os.environ.get("CONDA_PREFIX", "")}:
        if prefix:
            names += sorted(glob.glob(os.path.join(prefix, "lib", "libmkl_rt.so*")))
            names += sorted(glob.glob(os.path.join(prefix, "Library", "bin", "mkl_rt*.dll")))
    names += ["libmkl_rt.so.3", "libmkl_rt.so.2", "libmkl_rt.so", "libmkl_rt.dylib"]
    for name in names:
        try:
            lib = ctypes.CDLL(name)
            lib.pardiso  # noqa: B018 (the symbol must exist)
            return lib
        except OSError:
            continue
        except AttributeError:
            continue
    return None


def available() -> bool:
    """True when MKL PARDISO can be loaded (set ASE_DEEPH2_NO_PARDISO=1 to force SuperLU)."""
    return not os.environ.get("ASE_DEEPH2_NO_PARDISO") and _library() is not None


class PardisoLDL:
    """LDL^H factorisation of a Hermitian (real symmetric or complex Hermitian) sparse matrix.

    Args:
        a: square sparse matrix, Hermitian; only its upper triangle is used.

    Attributes:
        inertia: (positive, negative) eigenvalue counts of ``a`` (Sylvester), exact when no pivot
            was perturbed (``perturbed_pivots == 0``).
    """

    def __init__(self, a: sp.spmatrix):
        lib = _library()
        if lib is None:
            raise RuntimeError("MKL PARDISO is not available (pip install mkl)")
        self._lib = lib
        upper = sp.triu(sp.csr_matrix(a), format="csr")
        upper.sort_indices()
        self.complex = np.iscomplexobj(upper.data)
        self.dtype = np.complex128 if self.complex else np.float64
        self.n = upper.shape[0]
        self._data = np.ascontiguousarray(upper.data, dtype=self.dtype)
        self._indptr = np.ascontiguousarray(upper.indptr, dtype=np.int32)
        self._indices = np.ascontiguousarray(upper.indices, dtype=np.int32)
        self._pt = (ctypes.c_int64 * 64)()
        self._iparm = (_INT * 64)()
        self._mtype = -4 if self.complex else -2
        iparm = self._iparm
        iparm[0] = 1   # explicit parameters
        iparm[1] = 2   # nested dissection (METIS) ordering
        iparm[7] = 0   # no iterative refinement (the LDL^H is accurate; refinement doubles each solve)
        iparm[9] = 8   # pivot perturbation 1e-8
        iparm[20] = 1  # Bunch-Kaufman pivoting
        iparm[34] = 1  # zero-based indices
        self._call(12, np.zeros(self.n, dtype=self.dtype), np.zeros(self.n, dtype=self.dtype))
        self.perturbed_pivots = int(iparm[13])
        self.inertia = (int(iparm[21]), int(iparm[22]))

    def _call(self, phase: int, b: np.ndarray, x: np.ndarray, nrhs: int = 1) -> None:
        error = _INT(0)
        self._lib.pardiso(
            self._pt, ctypes.byref(_INT(1)), ctypes.byref(_INT(1)), ctypes.byref(_INT(self._mtype)),
            ctypes.byref(_INT(phase)), ctypes.byref(_INT(self.n)), self._data.ctypes.data_as(ctypes.c_void_p),
            self._indptr.ctypes.data_as(ctypes.POINTER(_INT)), self._indices.ctypes.data_as(ctypes.POINTER(_INT)),
            None, ctypes.byref(_INT(nrhs)), self._iparm, ctypes.byref(_INT(0)),
            b.ctypes.data_as(ctypes.c_void_p), x.ctypes.data_as(ctypes.c_void_p), ctypes.byref(error))
        if error.value != 0:
            raise RuntimeError(f"PARDISO phase {phase} failed with error {error.value} (MKL documentation, "
                               "'pardiso' return codes; -2 means out of memory)")

    def solve(self, b: np.ndarray) -> np.ndarray:
        """x with a x = b, for b (n,) or (n, nrhs)."""
        b = np.asarray(b, dtype=self.dtype)
        rhs = np.asfortranarray(b.reshape(self.n, -1))
        x = np.empty_like(rhs)
        self._call(33, rhs, x, nrhs=rhs.shape[1])
        return x.reshape(b.shape)

    def close(self) -> None:
        """Release PARDISO's memory (also done when the object is collected)."""
        if getattr(self, "_pt", None) is not None:
            dummy = np.zeros(1, dtype=self.dtype)
            try:
                self._call(-1, dummy, dummy)
            finally:
                self._pt = None

    def __del__(self) -> None:
        try:
            self.close()
        except Exception:  # never raise from a finaliser
            pass
