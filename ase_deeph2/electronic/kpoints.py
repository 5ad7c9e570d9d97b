"""k-point sets: the ``kpts`` specifications of the calculators turned into points and weights.

k points are in fractional reciprocal coordinates (the lattice gauge of ``BlockMatrix.bloch``).
Non-periodic directions always get a single k point; a structure with no periodic direction (a
molecule) gets Γ alone. Mesh sizes and offsets come from ASE (``kpts2sizeandoffsets``, the same
rules as ASE's DFT calculators); symmetry reduction from spglib.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import spglib
from ase import Atoms
from ase.calculators.calculator import kpts2sizeandoffsets
from ase.dft.kpoints import BandPath, monkhorst_pack

if hasattr(spglib, "error") and hasattr(spglib.error, "OLD_ERROR_HANDLING"):
    spglib.error.OLD_ERROR_HANDLING = False  # spglib raises SpglibError instead of returning None

__all__ = ["Mesh", "DEFAULT_DENSITY", "mesh_of", "is_path", "path_kpoints"]

#: Default k-point density (points per Å^-1, 2 pi included) of the calculators' meshes.
DEFAULT_DENSITY = 5.0


@dataclass(frozen=True)
class Mesh:
    """A Monkhorst-Pack mesh: ``size`` (n1, n2, n3) and whether it is shifted to contain Γ.

    ``gamma=False`` is the plain Monkhorst-Pack mesh (even sizes miss Γ); ``True`` includes Γ.
    Non-periodic directions have size 1.
    """

    size: tuple[int, int, int]
    gamma: bool

    def offsets(self) -> np.ndarray:
        """Fractional shift added to ASE's plain Monkhorst-Pack points."""
        return np.array([0.5 / n if self.gamma and n % 2 == 0 else 0.0 for n in self.size])

    def points(self, atoms: Atoms, symmetry: bool = True, symprec: float = 1e-5) -> tuple[np.ndarray, np.ndarray]:
        """(k (nk, 3), weights (nk,) summing to 1): the full mesh, or its irreducible wedge (spglib,
        with time reversal) when ``symmetry``. A mesh of one point is Γ (or its shift)."""
        full = monkhorst_pack(self.size) + self.offsets()
        full = np.where(full > 0.5 + 1e-12, full - 1.0, full)
        if not symmetry or len(full) == 1:
            return full, np.full(len(full), 1.0 / len(full))
        shift = np.array([0 if (self.gamma or n % 2) else 1 for n in self.size])
        cell = (atoms.cell.array, atoms.get_scaled_positions(wrap=True), atoms.numbers)
        try:
            mapping, grid = spglib.get_ir_reciprocal_mesh(np.array(self.size), cell, is_shift=shift,
                                                          is_time_reversal=True, symprec=symprec)
        except Exception as err:  # SpglibError; spglib's own type moved between versions
            raise ValueError(f"spglib could not reduce the {list(self.size)} k mesh of this structure ({err}); "
                             "pass symmetry=False") from None
        unique, counts = np.unique(mapping, return_counts=True)
        k = (grid[unique] + shift / 2.0) / np.array(self.size)
        k = np.where(k > 0.5 + 1e-12, k - 1.0, k)
        return k, counts / counts.sum()


def mesh_of(atoms: Atoms, spec) -> Mesh:
    """The mesh a ``kpts`` specification means for ``atoms`` (periodic directions from ``atoms.pbc``).

    Args:
        spec: None (Γ-centred, density :data:`DEFAULT_DENSITY`), ``(n1, n2, n3)``,
            ``{"size": (n1, n2, n3), "gamma": bool}`` or ``{"density": points per Å^-1, "gamma": bool}``
            (density meshes are Γ-centred unless ``gamma`` is False).
    """
    pbc = np.asarray(atoms.pbc, dtype=bool)
    if spec is None:
        spec = {"density": DEFAULT_DENSITY}
    if isinstance(spec, dict):
        unknown = set(spec) - {"size", "density", "gamma"}
        if unknown or ("size" in spec) == ("density" in spec):
            raise ValueError(f"kpts dict needs exactly one of 'size' or 'density' (and optionally 'gamma'), got {spec}")
        gamma = bool(spec.get("gamma", "density" in spec))
        if "density" in spec:
            if not float(spec["density"]) > 0:
                raise ValueError(f"k-point density must be > 0 points per Å^-1, got {spec['density']}")
            size, _ = kpts2sizeandoffsets(density=float(spec["density"]), atoms=atoms) if pbc.any() else ([1] * 3, 0)
        else:
            size = spec["size"]
    else:
        size, gamma = spec, False
    size = np.asarray(size).reshape(-1)
    if size.shape != (3,) or not np.all(np.equal(np.mod(size, 1), 0)) or np.any(size < 1):
        raise ValueError(f"a k-point mesh is three positive integers, got {np.asarray(size).tolist()}")
    size = np.where(pbc, size.astype(np.int64), 1)
    return Mesh(tuple(int(n) for n in size), gamma)


def is_path(spec) -> bool:
    """True for the ``kpts`` that are lists of k points rather than meshes: a ``BandPath``,
    ``{"path": "GMKG", "npoints": 100}``, or an (nk, 3) array."""
    if isinstance(spec, BandPath) or (isinstance(spec, dict) and "path" in spec):
        return True
    return np.ndim(spec) == 2


def path_kpoints(atoms: Atoms, spec) -> np.ndarray:
    """(nk, 3) fractional k points of a path specification (see :func:`is_path`)."""
    if isinstance(spec, BandPath):
        return spec.kpts
    if isinstance(spec, dict):
        return atoms.cell.bandpath(spec["path"], npoints=spec.get("npoints", 100), pbc=atoms.pbc).kpts
    k = np.asarray(spec, dtype=np.float64)
    if k.ndim != 2 or k.shape[1] != 3:
        raise ValueError(f"explicit k points must be an (nk, 3) array of fractional coordinates, got shape {k.shape}")
    return k
