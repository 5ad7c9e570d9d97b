"""The k-driver: electronic structure of fixed H(R), S(R) over the Brillouin zone.

:class:`ElectronicStructure` owns the loops over k points (with a progress bar), the solver
policy (dense or sparse shift-invert, window size), the window of states that follows the Fermi
level for the sparse solver, and what comes from a mesh: the Fermi level, band energy, band gap
and DOS. It knows nothing of ASE calculators: ``HamiltonianCalculator`` is a thin adapter on it.

::

    es = ElectronicStructure([h], s, n_electrons=72.0, atoms=atoms)
    es.fermi_level({"density": 5.0})               # eV
    es.band_structure("GMKG").plot()               # E - E_F
    print(es.band_gap())
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field

import numpy as np
from ase import Atoms
from ase.dft.kpoints import BandPath
from ase.spectrum.band_structure import BandStructure
from ase.spectrum.dosdata import RawDOSData
from tqdm.auto import tqdm

from ..basis import BasisSet
from ..blocks import BlockMatrix
from .kpoints import Mesh, mesh_of
from .occupations import BandGap, Smearing, band_energy, band_gap, find_fermi_level
from .solvers import DEFAULT_NBANDS, DENSE_LIMIT, OVERLAP_WARN, SingularOverlapWarning, smallest_overlap_eigenvalue, solve_k

__all__ = ["SolverPolicy", "Spectrum", "MeshSpectrum", "ElectronicStructure"]

#: Sparse solver: times the window of states may move to find the Fermi level.
MAX_WINDOW_MOVES = 6


@dataclass(frozen=True)
class SolverPolicy:
    """How each k point is solved: the one place that decides dense vs sparse and the window size.

    Attributes:
        method: "auto" (dense up to ``dense_limit`` orbitals, else sparse), "dense" or "sparse".
        nbands: sparse: states per k nearest the reference energy.
        sigma: sparse: reference energy (eV); None = the Fermi level, found by moving the window.
        dense_limit: orbitals up to which "auto" is dense.
        project_overlap_below: dense: drop directions of S(k) with eigenvalues below this.
    """

    method: str = "auto"
    nbands: int = DEFAULT_NBANDS
    sigma: float | None = None
    dense_limit: int = DENSE_LIMIT
    project_overlap_below: float | None = None

    def __post_init__(self) -> None:
        if self.method not in ("auto", "dense", "sparse"):
            raise ValueError(f"method must be 'auto', 'dense' or 'sparse', got {self.method!r}")
        if self.nbands < 1:
            raise ValueError(f"nbands must be >= 1, got {self.nbands}")

    def method_for(self, n_orbitals: int) -> str:
        if self.method != "auto":
            return self.method
        return "dense" if n_orbitals <= self.dense_limit else "sparse"


@dataclass
class Spectrum:
    """States at a list of k points.

    Attributes:
        kpts: (nk, 3) fractional k. weights: (nk,) summing to 1.
        eigenvalues: (n_spin, nk, nb) eV, ascending per k (NaN-padded if windows differ in size).
        first_band: (n_spin, nk) global index of each row's first state (0 for dense).
        method: "dense" or "sparse".
        vectors: [spin][k] (n_orbitals, nb) eigenvectors, when asked for.
    """

    kpts: np.ndarray
    weights: np.ndarray
    eigenvalues: np.ndarray
    first_band: np.ndarray
    method: str
    vectors: list | None = None


@dataclass
class MeshSpectrum(Spectrum):
    """States on a mesh with the Fermi level (eV) they imply and the band energy (eV per cell;
    None for sparse windows, which do not hold every occupied state)."""

    fermi_level: float = float("nan")
    band_energy: float | None = None
    mesh: Mesh | None = None


@dataclass
class ElectronicStructure:
    """Electronic structure of H(R) (one per spin channel) and S(R) of one structure.

    Attributes:
        hamiltonians: H(R) in eV, one BlockMatrix per spin channel (one for spinless/spinor H).
        overlap: S(R) (spatial; expanded to spinors for a spinor H).
        n_electrons: electrons per cell.
        atoms: the structure (its cell and symmetry; directions without hoppings across the cell
            boundary count as vacuum whatever ``pbc`` says).
        spin: "none", "collinear" or "noncollinear".
        smearing: occupation function of the Fermi level.
        policy: the solver policy.
        symmetry: reduce meshes to the irreducible wedge (spglib).
        reference_energy: first guess of the Fermi level for the sparse window (eV).
        progress: progress bars over k points: None = for long loops only, True, False.
        basis: the orbital basis (needed for projected DOS only).
    """

    hamiltonians: list[BlockMatrix]
    overlap: BlockMatrix
    n_electrons: float
    atoms: Atoms
    spin: str = "none"
    smearing: Smearing = field(default_factory=Smearing)
    policy: SolverPolicy = field(default_factory=SolverPolicy)
    symmetry: bool = True
    reference_energy: float | None = None
    progress: bool | None = None
    basis: BasisSet | None = None

    def __post_init__(self) -> None:
        if isinstance(self.hamiltonians, BlockMatrix):
            self.hamiltonians = [self.hamiltonians]
        if self.n_electrons is None:
            raise ValueError("the number of electrons is unknown: pass n_electrons")
        if self.hamiltonians[0].n_atoms == 0:
            raise ValueError("the structure has no atoms")
        atoms = self.atoms.copy()
        hops = np.any(self.hamiltonians[0].translations != 0, axis=0)
        atoms.pbc = np.asarray(atoms.pbc, dtype=bool) & hops
        self.atoms = atoms
        self._meshes: dict[Mesh, MeshSpectrum] = {}
        self._overlap_checked = False

    # ------------------------------------------------------------------ basics
    @property
    def spin_degeneracy(self) -> float:
        return 2.0 if self.spin == "none" else 1.0

    @property
    def n_orbitals(self) -> int:
        return self.hamiltonians[0].n_orbitals

    @property
    def periodic(self) -> bool:
        """True if the structure is periodic in at least one direction."""
        return bool(np.any(self.atoms.pbc))

    def n_filled(self) -> int | None:
        """Bands filled per k and spin channel if the electron count fills whole bands, else None."""
        if self.spin == "collinear":
            return None
        filled = self.n_electrons / self.spin_degeneracy
        return int(round(filled)) if abs(filled - round(filled)) < 1e-6 else None

    def mesh(self, spec=None) -> Mesh:
        """The :class:`Mesh` of a ``kpts`` specification for this structure."""
        return mesh_of(self.atoms, spec)

    # ------------------------------------------------------------------ solving
    def solve(self, kpts: np.ndarray, eigenvectors: bool = False, sigma: float | None = None,
              weights: np.ndarray | None = None, what: str = "k points") -> Spectrum:
        """States at fractional ``kpts`` (nk, 3); the sparse window is centred on ``sigma`` (default:
        the policy's sigma, else the Fermi level of the default mesh)."""
        kpts = np.asarray(kpts, dtype=np.float64).reshape(-1, 3)
        method = self.policy.method_for(self.n_orbitals)
        if method == "sparse" and sigma is None:
            sigma = self.policy.sigma if self.policy.sigma is not None else self.fermi_level()
        self._check_overlap()
        show = self.progress if self.progress is not None else (
            len(kpts) * len(self.hamiltonians) > 1 and (method == "sparse" or self.n_orbitals >= 1000))
        energies, first, vectors, warned = [], [], [], set()
        with tqdm(total=len(kpts) * len(self.hamiltonians), desc=what, unit="k", disable=not show,
                  leave=False) as bar:
            for h in self.hamiltonians:
                rows = []
                for k in kpts:
                    with warnings.catch_warnings(record=True) as caught:
                        warnings.simplefilter("always")
                        rows.append(solve_k(h, self.overlap, k, nbands=self.policy.nbands, sigma=sigma, method=method,
                                            eigenvectors=eigenvectors, check_overlap=False,
                                            project_overlap_below=self.policy.project_overlap_below))
                    for w in caught:  # each kind of warning once, not once per k point
                        if w.category not in warned:
                            warned.add(w.category)
                            warnings.warn(w.message, w.category, stacklevel=2)
                    bar.update()
                n = max(len(r.energies) for r in rows)
                energies.append([np.pad(r.energies, (0, n - len(r.energies)), constant_values=np.nan) for r in rows])
                first.append([r.first_band for r in rows])
                vectors.append([r.vectors for r in rows])
        n = max(len(e) for row in energies for e in row)
        eig = np.array([[np.pad(e, (0, n - len(e)), constant_values=np.nan) for e in row] for row in energies])
        w = np.full(len(kpts), 1.0 / max(len(kpts), 1)) if weights is None else np.asarray(weights, dtype=np.float64)
        return Spectrum(kpts, w, eig, np.array(first, dtype=np.int64), method, vectors if eigenvectors else None)

    def on_mesh(self, spec=None) -> MeshSpectrum:
        """States on a mesh and the Fermi level they imply (cached per mesh)."""
        mesh = self.mesh(spec)
        if mesh in self._meshes:
            return self._meshes[mesh]
        k, w = mesh.points(self.atoms, symmetry=self.symmetry and self.periodic)
        sigma = self.policy.sigma if self.policy.sigma is not None else self.reference_energy
        method = self.policy.method_for(self.n_orbitals)
        if method == "sparse" and sigma is None:
            raise ValueError("the sparse solver needs a first guess of the Fermi level: set sigma= (eV)")
        for _ in range(MAX_WINDOW_MOVES):
            states = self.solve(k, sigma=sigma, weights=w, what="k mesh")
            if method == "dense":
                break
            sigma, moved = self._recentre_window(states, sigma)
            if not moved:
                break
        first = states.first_band if method == "sparse" else None
        mu = find_fermi_level(states.eigenvalues, w, self.n_electrons, self.smearing, self.spin_degeneracy, first)
        energy = (band_energy(states.eigenvalues, w, mu, self.smearing, self.spin_degeneracy)
                  if method == "dense" else None)
        result = MeshSpectrum(k, w, states.eigenvalues, states.first_band, method, None, mu, energy, mesh)
        self._meshes[mesh] = result
        return result

    def fermi_level(self, spec=None) -> float:
        """Fermi level (eV) on a mesh (default: Γ-centred, 5 points per Å^-1)."""
        return self.on_mesh(spec).fermi_level

    def _recentre_window(self, states: Spectrum, sigma: float) -> tuple[float, bool]:
        """Sparse solver: move the window towards the Fermi level when it misses it or nearly does.

        Returns (new sigma in eV, whether it moved)."""
        deg, n_e, eig, w = self.spin_degeneracy, self.n_electrons, states.eigenvalues, states.weights
        below = deg * float(np.sum(states.first_band * w[None, :]))  # electrons in states under the window
        inside = deg * float(np.sum(np.isfinite(eig) * w[None, :, None]))
        lo, hi = np.nanmin(eig), np.nanmax(eig)
        width = max(hi - lo, 0.1)
        if below > n_e:  # window above E_F
            return lo - width * (below - n_e) / max(inside, 1e-12) - 0.25 * width, True
        if below + inside < n_e:  # window below E_F
            return hi + width * (n_e - below - inside) / max(inside, 1e-12) + 0.25 * width, True
        filled = (n_e - below) / max(inside, 1e-12)  # where E_F sits in the window, 0..1
        if 0.2 <= filled <= 0.8:
            return sigma, False
        return lo + filled * width, True

    def _check_overlap(self) -> None:
        """Warn once when S(Γ) is nearly singular (spurious bands are then likely); checked at Γ only,
        in real arithmetic, as a check at every k would double the cost."""
        if self._overlap_checked:
            return
        self._overlap_checked = True
        smin = smallest_overlap_eigenvalue(self.overlap.bloch((0.0, 0.0, 0.0), real_if_possible=True))
        if smin < OVERLAP_WARN:
            warnings.warn(f"S(Γ) is nearly singular (smallest eigenvalue {smin:.2e}): some bands may be spurious; "
                          "consider project_overlap_below", SingularOverlapWarning, stacklevel=4)

    # ------------------------------------------------------------------ what users ask for
    def band_structure(self, path: str | BandPath | None = None, npoints: int = 150, fermi_spec=None) -> BandStructure:
        """ASE BandStructure along ``path`` (a string such as "GMKG", a BandPath, or the cell's default
        path) with energies E - E_F (eV), E_F from the mesh ``fermi_spec``."""
        if not self.periodic:
            raise ValueError("a band structure needs a periodic structure; this one has no periodic direction")
        if not isinstance(path, BandPath):
            path = self.atoms.cell.bandpath(path, npoints=npoints, pbc=self.atoms.pbc)
        mu = self.fermi_level(fermi_spec)
        states = self.solve(path.kpts, what="band path")
        return BandStructure(path=path, energies=states.eigenvalues, reference=mu).subtract_reference()

    def special_kpoints(self) -> np.ndarray:
        """(n, 3) special points of the lattice (Γ alone for a molecule)."""
        if not self.periodic:
            return np.zeros((1, 3))
        return np.array(list(self.atoms.cell.bandpath(npoints=0, pbc=self.atoms.pbc).special_points.values()))

    def band_gap(self, spec=None, kpts: np.ndarray | None = None, special_points: bool = True) -> BandGap:
        """Band gap relative to the Fermi level of mesh ``spec``, searched on that mesh plus (with
        ``special_points``) the lattice's special points, where band extrema usually are; or on the
        given ``kpts``."""
        mesh = self.on_mesh(spec)
        if kpts is None and not special_points:
            return band_gap(mesh.eigenvalues, mesh.kpts, mesh.fermi_level, self.n_filled(), mesh.first_band)
        if kpts is None:
            extra = self.solve(self.special_kpoints(), what="special points")
            n = max(extra.eigenvalues.shape[2], mesh.eigenvalues.shape[2])
            pad = lambda e: np.pad(e, ((0, 0), (0, 0), (0, n - e.shape[2])), constant_values=np.nan)
            eig = np.concatenate([pad(mesh.eigenvalues), pad(extra.eigenvalues)], axis=1)
            first = np.concatenate([mesh.first_band, extra.first_band], axis=1)
            k = np.concatenate([mesh.kpts, extra.kpts])
        else:
            states = self.solve(kpts)
            eig, first, k = states.eigenvalues, states.first_band, states.kpts
        return band_gap(eig, k, mesh.fermi_level, self.n_filled(), first)

    def dos(self, spec=None, emin: float | None = None, emax: float | None = None, npts: int = 1001,
            width: float = 0.1, projection: str | None = None) -> tuple[np.ndarray, dict[str, np.ndarray]]:
        """DOS (states / eV / cell, spins summed) with Gaussian broadening ``width`` (eV) on a mesh.

        Args:
            emin, emax: energy range in eV (default: the computed states, padded by 3 widths).
            projection: None (total), "element", "l" or "element+l": Mulliken PDOS.
        Returns: (energies (npts,), {"total": dos} plus one PDOS per group).
        """
        if projection is None:
            states = self.on_mesh(spec)
        else:
            k, w = self.mesh(spec).points(self.atoms, symmetry=self.symmetry and self.periodic)
            states = self.solve(k, eigenvectors=True, weights=w, what="k mesh (PDOS)")
        eig = states.eigenvalues
        ok = np.isfinite(eig)
        weight = self.spin_degeneracy * np.broadcast_to(states.weights[None, :, None], eig.shape)
        lo = np.nanmin(eig) - 3 * width if emin is None else emin
        hi = np.nanmax(eig) + 3 * width if emax is None else emax

        def sampled(w: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
            grid = RawDOSData(eig[ok], w[ok]).sample_grid(npts, xmin=lo, xmax=hi, width=width)
            return grid.get_energies(), grid.get_weights()

        energies, total = sampled(weight)
        out = {"total": total}
        if projection is not None:
            from .projections import mulliken_weights
            if self.basis is None:
                raise ValueError("a projected DOS needs the orbital basis: pass basis= to ElectronicStructure")
            groups = mulliken_weights(self.hamiltonians, self.overlap, self.basis, self.atoms.get_chemical_symbols(),
                                      states.kpts, states.vectors, eig.shape[2], projection)
            for label, q in groups.items():
                out[label] = sampled(weight * q)[1]
        return energies, out
