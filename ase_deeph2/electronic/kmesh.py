"""k-point sets: Monkhorst-Pack meshes reduced by symmetry (spglib), meshes from a density.

k points are in fractional reciprocal coordinates (the lattice gauge of ``BlockMatrix.bloch``).
Non-periodic directions always get a single k point.
"""

from __future__ import annotations

import numpy as np
import spglib
from ase import Atoms

if hasattr(spglib, "error") and hasattr(spglib.error, "OLD_ERROR_HANDLING"):
    spglib.error.OLD_ERROR_HANDLING = False  # spglib raises SpglibError instead of returning None

__all__ = ["mesh_from_density", "monkhorst_pack", "irreducible_kpoints", "is_time_reversal_invariant"]


def _checked_size(atoms: Atoms, size) -> np.ndarray:
    size = np.asarray(size, dtype=np.int64).reshape(-1)
    if size.shape != (3,) or np.any(size < 1):
        raise ValueError(f"k-point mesh must be three positive integers, got {size.tolist()}")
    return np.where(np.asarray(atoms.pbc, dtype=bool), size, 1)


def mesh_from_density(atoms: Atoms, density: float = 5.0) -> tuple[int, int, int]:
    """Mesh with at least ``density`` k points per Å^-1 (2 pi included) along periodic directions."""
    recip = 2 * np.pi * np.linalg.norm(atoms.cell.reciprocal(), axis=1)
    size = np.maximum(1, np.ceil(recip * density)).astype(int)
    return tuple(int(n) if p else 1 for n, p in zip(size, atoms.pbc))


def monkhorst_pack(atoms: Atoms, size, gamma_centered: bool = False) -> np.ndarray:
    """The full mesh, (n1 n2 n3, 3). Even sizes are shifted off Gamma unless ``gamma_centered``."""
    size = _checked_size(atoms, size)
    axes = []
    for n in size:
        k = np.arange(n) / n
        if not gamma_centered and n % 2 == 0:
            k = k + 0.5 / n
        axes.append(np.where(k >= 0.5, k - 1.0, k))
    return np.stack(np.meshgrid(*axes, indexing="ij"), -1).reshape(-1, 3)


def irreducible_kpoints(atoms: Atoms, size, gamma_centered: bool = False, symprec: float = 1e-5,
                        time_reversal: bool = True) -> tuple[np.ndarray, np.ndarray]:
    """Irreducible wedge of a Monkhorst-Pack mesh with spglib: (k (nk, 3), weights (nk,) summing to 1).

    The structure's symmetry operations (with its vacuum) reduce the mesh; weights count the mesh
    points each irreducible point stands for.
    """
    size = _checked_size(atoms, size)
    shift = np.array([0 if (gamma_centered or n % 2) else 1 for n in size])
    cell = (atoms.cell.array, atoms.get_scaled_positions(wrap=True), atoms.numbers)
    try:
        mapping, grid = spglib.get_ir_reciprocal_mesh(size, cell, is_shift=shift, is_time_reversal=time_reversal,
                                                      symprec=symprec)
    except Exception as err:  # SpglibError; spglib's own type moved between versions
        raise ValueError(f"spglib could not reduce the {size.tolist()} mesh of this structure: {err}") from None
    unique, counts = np.unique(mapping, return_counts=True)
    k = (grid[unique] + shift / 2.0) / size
    k = np.where(k > 0.5 + 1e-12, k - 1.0, k)
    return k, counts / counts.sum()


def is_time_reversal_invariant(k: np.ndarray, tol: float = 1e-10) -> bool:
    """True if k = -k modulo a reciprocal lattice vector (then H(k) of a real H(R) is real)."""
    twice = 2 * np.asarray(k, dtype=np.float64)
    return bool(np.all(np.abs(twice - np.round(twice)) < tol))
