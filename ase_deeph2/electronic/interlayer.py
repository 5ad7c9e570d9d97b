"""The interlayer potential step of a bilayer: a capacitor response a local model cannot see.

When the two layers of a bilayer are not equivalent (strain, displacements, a different
neighbourhood), charge moves from one layer to the other and the dipole it makes shifts one
layer's potential against the other's: every on-site energy of the upper layer moves by +V/2 and
of the lower by -V/2. The step V is set by the whole cell (a parallel-plate capacitor,
V = kappa Dq / A with Dq the electrons moved and A the cell's area), not by any atom's
neighbourhood, so a local model cannot predict it; in DFT it is the self-consistency of the
Hartree potential. This module owns that physics:

* :func:`layer_index` and :func:`two_layers`: which atoms form which layer;
* :func:`layer_step_operator`: M with M_ij = (v_i + v_j) / 2 S_ij, v = +1/2 on the upper layer and
  -1/2 on the lower (H + V M shifts the upper layer by +V/2 and the lower by -V/2; in a
  non-orthogonal basis this is the operator of a potential that is constant on each layer);
* :func:`onsite_layer_step`: the step a Hamiltonian has (upper minus lower layer's mean on-site
  diagonal), which training removes from its targets;
* :class:`LayerCharge`: the Mulliken charge moved between the layers by H + V M on a k mesh;
* :func:`solve_layer_step`: the self-consistent step V = (kappa / A) Dq(V), a monotone 1-D root.

Units: eV, Å, electrons; Dq is per cell (upper minus lower layer).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.linalg as sl
from ase import Atoms
from scipy.optimize import brentq

from ..blocks import BlockMatrix
from .kpoints import Mesh
from .occupations import Smearing, find_fermi_level

__all__ = ["LAYER_GAP", "layer_index", "two_layers", "cell_area", "layer_step_operator", "layer_onsite_means", "onsite_layer_step",
           "LayerCharge", "LayerStep", "solve_layer_step", "fit_layer_coupling", "layer_mesh_points"]

#: Vertical gap (Å) that separates layers: an MoS2 sheet (1.56 Å between its planes) is one layer,
#: bilayer graphene (3.35 Å apart) two.
LAYER_GAP = 2.5

#: The step is solved to this accuracy (eV).
STEP_TOLERANCE = 1e-5


def layer_index(z: np.ndarray, gap: float = LAYER_GAP) -> np.ndarray:
    """Layer of each atom (0 = lowest), (N,) int: atoms sorted by height ``z`` (Å), a new layer after
    a vertical gap larger than ``gap`` Å."""
    z = np.asarray(z, dtype=np.float64)
    order = np.argsort(z, kind="stable")
    index = np.empty(len(z), dtype=np.int64)
    index[order] = np.concatenate([[0], np.cumsum(np.diff(z[order]) > gap)]) if len(z) else []
    return index


def two_layers(atoms: Atoms, gap: float = LAYER_GAP) -> np.ndarray | None:
    """Layer index (0 lower, 1 upper) when ``atoms`` is a bilayer: periodic along the first two cell
    vectors, which lie in the xy plane, not along the third (or with vacuum between the bilayer and
    its images along it, as in OpenMX's cells), and exactly two layers in height. Else None."""
    pbc = np.asarray(atoms.pbc, dtype=bool)
    if len(atoms) < 2 or not (pbc[0] and pbc[1]) or pbc[2] and not _vacuum_along_c(atoms):
        return None
    cell = atoms.cell.array
    normal = np.cross(cell[0], cell[1])
    if abs(normal[0]) > 1e-6 * np.linalg.norm(normal) or abs(normal[1]) > 1e-6 * np.linalg.norm(normal):
        return None  # the layers must be in the xy plane (z is their height)
    layer = layer_index(atoms.positions[:, 2], gap)
    return layer if layer.max() == 1 else None


def _vacuum_along_c(atoms: Atoms) -> bool:
    """A slab in a 3D-periodic cell (as in OpenMX): the atoms' heights leave a gap across the cell's
    boundary wider than their spread, so the periodic images are other bilayers, not a layer."""
    c = atoms.cell.array[2, 2]
    z = atoms.positions[:, 2]
    return c > 0 and (c - (z.max() - z.min())) > max(2 * LAYER_GAP, z.max() - z.min())


def cell_area(atoms: Atoms) -> float:
    """Area (Å^2) of the cell's face spanned by its first two vectors."""
    a, b = atoms.cell.array[:2]
    return float(np.linalg.norm(np.cross(a, b)))


def layer_step_operator(overlap: BlockMatrix, layer: np.ndarray) -> BlockMatrix:
    """M(R) on the blocks of ``overlap``: block (i, j, R) is (v_i + v_j) / 2 S_ij(R) with v = +1/2 for
    atoms of the upper layer (``layer == 1``) and -1/2 for the lower (``layer == 0``)."""
    layer = np.asarray(layer)
    if layer.shape != (overlap.n_atoms,):
        raise ValueError(f"layer index has {layer.shape} entries for a matrix over {overlap.n_atoms} atoms")
    v = np.where(layer == layer.max(), 0.5, -0.5)
    per_pair = 0.5 * (v[overlap.pairs[:, 3]] + v[overlap.pairs[:, 4]])
    per_entry = np.repeat(per_pair, np.diff(overlap.offsets))
    return overlap.with_data(overlap.data * per_entry)


def layer_onsite_means(matrix: BlockMatrix, layer: np.ndarray) -> np.ndarray:
    """(n_layers,) mean of the on-site blocks' diagonals per layer, bottom first (the units of
    ``matrix``): each layer's potential level."""
    layer = np.asarray(layer)
    diag = np.array([np.real(np.diag(matrix.block(i, i))).mean() for i in range(len(layer))])
    return np.bincount(layer, weights=diag) / np.bincount(layer)


def onsite_layer_step(hamiltonian: BlockMatrix, layer: np.ndarray) -> float:
    """The step (eV) of ``hamiltonian``: upper minus lower layer's mean of the on-site diagonals."""
    means = layer_onsite_means(hamiltonian, layer)
    return float(means[-1] - means[0])


class LayerCharge:
    """Mulliken charge moved between the layers by H + V M, for any step V, on a fixed k mesh.

    H(k), S(k) and M(k) are built once (sparse); each :meth:`transfer` is one dense generalised
    eigenproblem per k point (for cells up to a few thousand orbitals).

    Attributes:
        operator: M(R) (:func:`layer_step_operator`); H + V M is H with the step V.

    Args:
        hamiltonian, overlap: H(R) (eV) and S(R) of a spinless bilayer.
        layer: (N,) 0 for the lower layer, 1 for the upper.
        n_electrons: electrons per cell.
        kpts, weights: (nk, 3) fractional k and (nk,) weights summing to 1.
        smearing: the occupation function.
    """

    def __init__(self, hamiltonian: BlockMatrix, overlap: BlockMatrix, layer: np.ndarray, n_electrons: float,
                 kpts: np.ndarray, weights: np.ndarray, smearing: Smearing = Smearing()):
        if hamiltonian.spinful:
            raise ValueError("the interlayer step is implemented for spinless Hamiltonians only")
        layer = np.asarray(layer)
        self.operator = operator = layer_step_operator(overlap, layer)
        self.upper_rows = np.repeat(layer == layer.max(), overlap.orbital_counts)
        self.weights = np.asarray(weights, dtype=np.float64)
        self.n_electrons, self.smearing = float(n_electrons), smearing
        # sparse H(k), S(k), M(k), made dense one k point at a time (memory: one dense triple)
        self._h, self._s, self._m = (m.bloch_many(np.asarray(kpts)) for m in (hamiltonian, overlap, operator))

    def transfer(self, step: float) -> tuple[float, float]:
        """(Dq, mu): electrons of the upper layer minus those of the lower (Mulliken) with H + ``step`` M
        (``step`` in eV), and the Fermi level (eV) that holds the cell's electrons."""
        energies, upper = [], []
        for h_k, s_k, m_k in zip(self._h, self._s, self._m):
            s = s_k.toarray()
            e, c = sl.eigh((h_k + step * m_k).toarray(), s)
            energies.append(e)
            upper.append(np.real(np.conj(c[self.upper_rows]) * (s[self.upper_rows] @ c)).sum(axis=0))
        eig = np.array(energies)[None]
        mu = find_fermi_level(eig, self.weights, self.n_electrons, self.smearing, spin_degeneracy=2.0)
        filled = 2.0 * self.smearing.occupation(eig[0], mu) * self.weights[:, None]
        return float(np.sum(filled * (2.0 * np.array(upper) - 1.0))), mu


@dataclass(frozen=True)
class LayerStep:
    """A self-consistent interlayer step.

    Attributes:
        step: V (eV), upper minus lower layer's potential energy; H + V M is the corrected H.
        transfer: Dq (electrons per cell, upper minus lower) at that step.
        coupling: kappa (eV Å^2 per electron) used; ``step = coupling / area * transfer``.
        area: the cell's area (Å^2).
        evaluations: eigenproblem sweeps over the k mesh it took.
    """

    step: float
    transfer: float
    coupling: float
    area: float
    evaluations: int


def solve_layer_step(charge: LayerCharge, coupling: float, area: float) -> LayerStep:
    """The step V with V = (coupling / area) Dq(V) (eV), Dq from ``charge``.

    g(V) = V - U Dq(V) increases with V (a higher upper layer holds fewer electrons), so the root
    is unique and lies between 0 and U Dq(0): g(0) = -U Dq(0), and g(U Dq(0)) has the other sign
    because Dq(V) lies between 0 and Dq(0) on that side. Brent's method on that bracket.
    """
    if not coupling >= 0 or not area > 0:
        raise ValueError(f"the interlayer coupling must be >= 0 eV Å^2/e and the area > 0 Å^2, got {coupling}, {area}")
    u = coupling / area
    seen: dict[float, float] = {}

    def residual(v: float) -> float:
        if v not in seen:
            seen[v] = charge.transfer(v)[0]
        return v - u * seen[v]

    bare = -residual(0.0)
    if bare == 0.0 or residual(bare) == 0.0:
        v = bare
    else:
        v = float(brentq(residual, min(0.0, bare), max(0.0, bare), xtol=STEP_TOLERANCE))
    return LayerStep(v, seen[v] if v in seen else charge.transfer(v)[0], coupling, area, len(seen))


def fit_layer_coupling(steps: np.ndarray, transfers: np.ndarray, areas: np.ndarray) -> tuple[float, float]:
    """kappa (eV Å^2 per electron) of step = kappa Dq / A by least squares through the origin, and the
    correlation of the steps (eV) with Dq / A (electrons / Å^2) over the given cells. A capacitor has
    kappa > 0; steps imposed from outside (a field) move charge the other way and give kappa < 0."""
    x = np.asarray(transfers, dtype=np.float64) / np.asarray(areas, dtype=np.float64)
    y = np.asarray(steps, dtype=np.float64)
    if len(x) < 2 or not np.any(x):
        raise ValueError(f"fitting the interlayer coupling needs two or more bilayers with charge moved between their "
                         f"layers, got {len(x)}")
    kappa = float(x @ y / (x @ x))
    correlation = float(np.corrcoef(x, y)[0, 1]) if np.std(x) > 0 and np.std(y) > 0 else float("nan")
    return kappa, correlation


def layer_mesh_points(atoms: Atoms, mesh: Mesh, layer: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(k, weights) of ``mesh`` reduced by the symmetries that keep each layer in place (a symmetry
    that swaps the layers turns M into -M, so it must not fold the mesh)."""
    labelled = atoms.copy()
    labelled.numbers = atoms.numbers + 200 * np.asarray(layer)  # spglib tells the layers apart
    return mesh.points(labelled, symmetry=True)
