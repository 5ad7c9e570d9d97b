"""HamiltonianCalculator: an ASE calculator over H(R), S(R) in a NAO basis.

It implements ASE's electronic-structure interface (``get_eigenvalues``, ``get_fermi_level``,
``get_ibz_k_points``, ``get_k_point_weights``, ``get_number_of_spins``), so ASE's own
``calc.band_structure()`` and ``ase.dft.dos.DOS(calc)`` work unchanged::

    calc = HamiltonianCalculator.from_scfout("openmx.scfout")     # or from_deeph(folder)
    atoms = calc.atoms
    atoms.calc = calc
    calc.get_fermi_level(); calc.band_gap()
    calc.band_structure().plot()                                   # default path of the cell

``energy`` is the band energy sum_n f_n e_n per cell (eV) on the k mesh: there is no total energy
without the density. The Fermi level always comes from the k mesh (``kpts``, or
``fermi_kpts`` when ``kpts`` is a band path), so a band structure is referred to it.
Subclasses provide the matrices for any structure by overriding :meth:`_matrices`.
"""

from __future__ import annotations

import warnings
import weakref
from typing import Any

import numpy as np
from ase import Atoms
from ase.calculators.abc import GetOutputsMixin
from ase.calculators.calculator import Calculator, PropertyNotImplementedError, all_changes
from ase.dft.kpoints import BandPath
from ase.units import kB

from .basis import BasisSet
from .blocks import BlockMatrix
from .electronic.kmesh import irreducible_kpoints, mesh_from_density, monkhorst_pack
from .electronic.occupations import (BandGap, Smearing, band_energy, band_gap, find_fermi_level, gaussian_dos)
from .electronic.solvers import (DENSE_LIMIT, OVERLAP_WARN, SingularOverlapWarning, smallest_overlap_eigenvalue,
                                 solve_k)
from .io.data import HamiltonianData

__all__ = ["HamiltonianCalculator"]

#: Sparse solver: times the window of states may move to find the Fermi level.
MAX_WINDOW_MOVES = 6


class HamiltonianCalculator(GetOutputsMixin, Calculator):
    """ASE calculator for fixed (or, in subclasses, predicted) H(R) and S(R).

    Parameters (``calc.set(...)`` triggers a recalculation):
        kpts: Monkhorst-Pack size ``(n1, n2, n3)``, ``{"size": ..., "gamma": bool}``,
            ``{"density": k points per Å^-1}``, a ``BandPath``, ``{"path": "GMKG", "npoints": 100}``,
            or an explicit (nk, 3) array of fractional k. Default: density 5 Å^-1.
        fermi_kpts: the mesh that fixes the Fermi level when ``kpts`` is a path (default density 5).
        smearing: ``("fermi-dirac" | "gaussian", width_eV)``; default Fermi-Dirac at 300 K.
        method: eigensolver "auto" (dense up to 3000 orbitals), "dense" or "sparse".
        nbands: sparse: states per k nearest ``sigma`` (default 40).
        sigma: sparse: reference energy (default: the Fermi level of the matrices' source, if known).
        symmetry: reduce meshes with spglib.
        project_overlap_below: drop S(k) directions below this eigenvalue (dense; see solvers).
    """

    implemented_properties = ["energy", "free_energy"]
    discard_results_on_any_change = True  # every parameter (k points, smearing, solver) changes the results
    default_parameters: dict[str, Any] = {
        "kpts": None, "fermi_kpts": None, "smearing": ("fermi-dirac", float(kB * 300.0)), "method": "auto",
        "nbands": None, "sigma": None, "symmetry": True, "project_overlap_below": None,
    }

    def __init__(self, hamiltonians: list[BlockMatrix] | BlockMatrix | None = None, overlap: BlockMatrix | None = None,
                 basis: BasisSet | None = None, n_electrons: float | None = None, atoms: Atoms | None = None,
                 spin: str = "none", reference_energy: float | None = None, **kwargs):
        super().__init__(**kwargs)
        if isinstance(hamiltonians, BlockMatrix):
            hamiltonians = [hamiltonians]
        self._hamiltonians, self._overlap = hamiltonians, overlap
        self.basis, self.n_electrons, self.spin = basis, n_electrons, spin
        self.reference_energy = reference_energy
        self._fixed_atoms = atoms.copy() if atoms is not None else None
        self.atoms = atoms.copy() if atoms is not None else None
        self._mesh_cache: dict | None = None
        self.first_band: np.ndarray | None = None
        self._attached: weakref.ref | None = None
        self._overlap_checked: BlockMatrix | None = None

    # ------------------------------------------------------------------ construction helpers
    @classmethod
    def from_data(cls, data: HamiltonianData, **kwargs) -> "HamiltonianCalculator":
        """From a :class:`HamiltonianData` (what ``read_scfout`` and ``read_deeph`` return)."""
        if data.overlap is None:
            raise ValueError(f"{data.source}: no overlap matrix; it is needed for the eigenproblem")
        if data.n_electrons is None:
            raise ValueError(f"{data.source}: the number of electrons is unknown; pass n_electrons=")
        return cls(data.hamiltonians, data.overlap, data.basis, data.n_electrons, atoms=data.atoms, spin=data.spin,
                   reference_energy=data.fermi_level, **kwargs)

    @classmethod
    def from_scfout(cls, path, **kwargs) -> "HamiltonianCalculator":
        from .io import read_scfout
        return cls.from_data(read_scfout(path), **kwargs)

    @classmethod
    def from_deeph(cls, folder, **kwargs) -> "HamiltonianCalculator":
        from .io import read_deeph
        return cls.from_data(read_deeph(folder), **kwargs)

    # ------------------------------------------------------------------ the matrices
    def _matrices(self, atoms: Atoms) -> tuple[list[BlockMatrix], BlockMatrix]:
        """H (one per spin channel) and S for ``atoms``; fixed matrices only fit their own structure."""
        ref = self._fixed_atoms
        if ref is not None and (len(atoms) != len(ref) or atoms.get_chemical_symbols() != ref.get_chemical_symbols()
                                or np.abs(atoms.positions - ref.positions).max() > 1e-6
                                or np.abs(atoms.cell.array - ref.cell.array).max() > 1e-6):
            raise ValueError("HamiltonianCalculator holds the matrices of one fixed structure and these atoms differ; "
                             "use DeepH2Calculator to predict H for new structures")
        return self._hamiltonians, self._overlap

    @property
    def spin_degeneracy(self) -> float:
        return 2.0 if self.spin == "none" else 1.0

    def periodic_directions(self, hamiltonians: list[BlockMatrix]) -> np.ndarray:
        """Directions with hoppings across the cell boundary (vacuum directions have none)."""
        pbc = np.asarray(self.atoms.pbc, dtype=bool)
        return pbc & np.any(hamiltonians[0].translations != 0, axis=0)

    # ------------------------------------------------------------------ k points
    def _effective_atoms(self, hamiltonians) -> Atoms:
        atoms = self.atoms.copy()
        atoms.pbc = self.periodic_directions(hamiltonians)
        return atoms

    def _mesh(self, spec, atoms: Atoms) -> tuple[np.ndarray, np.ndarray]:
        """(k, weights) of a mesh specification (size, dict, or None for the default density)."""
        gamma = False
        if spec is None:  # default: Gamma-centred, so that Gamma (and often K) are on the mesh
            size, gamma = mesh_from_density(atoms, 5.0), True
        elif isinstance(spec, dict) and "density" in spec:
            size, gamma = mesh_from_density(atoms, spec["density"]), bool(spec.get("gamma", True))
        elif isinstance(spec, dict) and "size" in spec:
            size, gamma = spec["size"], bool(spec.get("gamma", False))
        else:
            size = spec
        if self.parameters.symmetry:
            return irreducible_kpoints(atoms, size, gamma_centered=gamma)
        k = monkhorst_pack(atoms, size, gamma_centered=gamma)
        return k, np.full(len(k), 1.0 / len(k))

    def _is_path(self, spec) -> bool:
        return isinstance(spec, BandPath) or (isinstance(spec, dict) and "path" in spec) or \
            (isinstance(spec, np.ndarray) and spec.ndim == 2) or \
            (isinstance(spec, (list, tuple)) and len(spec) and np.ndim(spec[0]) == 1)

    def _path_kpoints(self, spec, atoms: Atoms) -> np.ndarray:
        if isinstance(spec, BandPath):
            return spec.kpts
        if isinstance(spec, dict):
            return atoms.cell.bandpath(spec["path"], npoints=spec.get("npoints", 100), pbc=atoms.pbc).kpts
        return np.asarray(spec, dtype=np.float64).reshape(-1, 3)

    # ------------------------------------------------------------------ solving
    def _solve(self, hamiltonians, overlap, kpts: np.ndarray, eigenvectors: bool = False, sigma: float | None = None):
        """Eigenvalues (n_spin, nk, nb), first band index (n_spin, nk), optional eigenvectors.

        The sparse window is centred on ``sigma``, else the ``sigma`` parameter, else the Fermi
        level found on the mesh, else the reference energy of the source."""
        p = self.parameters
        method = p.method
        if method == "auto":
            method = "dense" if hamiltonians[0].n_orbitals <= DENSE_LIMIT else "sparse"
        if sigma is None:
            sigma = p.sigma if p.sigma is not None else (
                self._mesh_cache["fermi_level"] if self._mesh_cache is not None else self.reference_energy)
        if method == "sparse" and sigma is None:
            raise ValueError("the sparse solver needs a reference energy: set sigma= (eV), e.g. a Fermi level")
        energies, first, vectors = [], [], []
        warned = set()
        for h in hamiltonians:
            row, row_first, row_vec = [], [], []
            for k in kpts:
                with warnings.catch_warnings(record=True) as caught:
                    warnings.simplefilter("always")
                    sol = solve_k(h, overlap, k, nbands=p.nbands if p.nbands is not None else 40, sigma=sigma,
                                  method=method, eigenvectors=eigenvectors, check_overlap=False,
                                  project_overlap_below=p.project_overlap_below)
                for w in caught:  # one warning of each kind, not one per k point
                    if w.category not in warned:
                        warned.add(w.category)
                        warnings.warn(w.message, w.category, stacklevel=3)
                row.append(sol.energies)
                row_first.append(sol.first_band)
                row_vec.append(sol.vectors)
            energies.append(row)
            first.append(row_first)
            vectors.append(row_vec)
        n = min(len(e) for row in energies for e in row)  # sparse windows may differ by a state or two
        eig = np.array([[e[:n] for e in row] for row in energies])
        return eig, np.array(first), (vectors if eigenvectors else None), method

    def _mesh_results(self, hamiltonians, overlap, spec) -> dict:
        """Eigenvalues, Fermi level and band energy on a mesh (cached until the next reset)."""
        if self._mesh_cache is not None and self._mesh_cache["spec"] is spec:
            return self._mesh_cache
        atoms = self._effective_atoms(hamiltonians)
        k, w = self._mesh(spec, atoms)
        self._check_overlap(overlap)
        if self.n_electrons is None:
            raise ValueError("the number of electrons is unknown: pass n_electrons to the calculator")
        smearing = Smearing(*self.parameters.smearing)
        sigma = self.parameters.sigma if self.parameters.sigma is not None else self.reference_energy
        for _ in range(MAX_WINDOW_MOVES):
            eig, first, _, method = self._solve(hamiltonians, overlap, k, sigma=sigma)
            if method == "dense":
                break
            sigma, moved = self._recentre_window(eig, first, w, sigma)
            if not moved:
                break
        fb = first if method == "sparse" else None
        mu = find_fermi_level(eig, w, self.n_electrons, smearing, self.spin_degeneracy, fb)
        energy = band_energy(eig, w, mu, smearing, self.spin_degeneracy) if method == "dense" else None
        self._mesh_cache = {"spec": spec, "kpts": k, "weights": w, "eigenvalues": eig, "first_band": first,
                            "fermi_level": mu, "energy": energy, "method": method}
        return self._mesh_cache

    def _check_overlap(self, overlap: BlockMatrix) -> None:
        """Warn once per structure when S(Γ) is nearly singular (spurious bands are then likely);
        checked at Γ only, in real arithmetic, as a full check at every k would double the cost."""
        if self._overlap_checked is overlap:
            return
        self._overlap_checked = overlap
        smin = smallest_overlap_eigenvalue(overlap.bloch((0.0, 0.0, 0.0), real_if_possible=True))
        if smin < OVERLAP_WARN:
            warnings.warn(f"S(Γ) is nearly singular (smallest eigenvalue {smin:.2e}): some bands may be spurious; "
                          "consider project_overlap_below", SingularOverlapWarning, stacklevel=4)

    def _recentre_window(self, eig: np.ndarray, first: np.ndarray, weights: np.ndarray,
                         sigma: float) -> tuple[float, bool]:
        """Sparse solver: move the window of states towards the Fermi level when it misses it
        (e.g. a structure whose Fermi level differs from the reference energy) or nearly does.

        Returns (new sigma in eV, whether it moved)."""
        deg, n_e = self.spin_degeneracy, self.n_electrons
        below = deg * float(np.sum(first * weights[None, :]))  # electrons in states under the window
        inside = deg * float(np.sum(np.isfinite(eig) * weights[None, :, None]))
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

    def calculate(self, atoms: Atoms | None = None, properties=("energy",), system_changes=all_changes) -> None:
        super().calculate(atoms, properties, system_changes)
        if self.atoms is None:
            raise ValueError("no structure: attach the calculator to atoms or give atoms=")
        hamiltonians, overlap = self._matrices(self.atoms)
        spec = self.parameters.kpts
        mesh = self._mesh_results(hamiltonians, overlap, self._fermi_spec())
        if self._is_path(spec):
            kpts = self._path_kpoints(spec, self._effective_atoms(hamiltonians))
            eig, first, _, _ = self._solve(hamiltonians, overlap, kpts)
            weights = np.full(len(kpts), 1.0 / len(kpts))
        else:
            kpts, weights, eig, first = mesh["kpts"], mesh["weights"], mesh["eigenvalues"], mesh["first_band"]
        self.first_band = first
        self.results = {"eigenvalues": eig, "ibz_kpoints": kpts, "kpoint_weights": weights,
                        "fermi_level": mesh["fermi_level"]}
        if mesh["energy"] is not None:
            self.results["energy"] = self.results["free_energy"] = mesh["energy"]
        elif "energy" in properties:
            raise PropertyNotImplementedError(
                "energy (the band energy) needs every occupied state; with the sparse solver only the states near "
                "the Fermi level are computed: use method='dense' for small systems")

    def reset(self) -> None:
        """Drop results (ASE's reset also forgets the structure; keep it, so that calc.set(kpts=...)
        followed by calc.get_eigenvalues() recalculates the same structure)."""
        atoms = self.atoms
        super().reset()
        self.atoms = atoms
        self._mesh_cache = None

    def set_atoms(self, atoms: Atoms) -> None:
        """Called by ASE on ``atoms.calc = calc``: the calculator follows that structure, so that
        ``atoms.calc.band_structure()`` works without a prior ``atoms.get_potential_energy()``."""
        self._attached = weakref.ref(atoms)
        if self.atoms is None:  # a copy, so that the structure outlives the attached object
            self.atoms = atoms.copy()

    def _follow_attached(self) -> None:
        """Take the attached atoms' current state (dropping results if they moved)."""
        attached = self._attached() if self._attached is not None else None
        if attached is not None and (self.atoms is None or self.check_state(attached)):
            self.reset()
            self.atoms = attached.copy()

    def _current_matrices(self) -> tuple[list[BlockMatrix], BlockMatrix]:
        """H and S of the structure the calculator follows, in its current state."""
        self._follow_attached()
        return self._matrices(self.atoms)

    def _fermi_spec(self):
        """The mesh that fixes the Fermi level: ``kpts``, or ``fermi_kpts`` when ``kpts`` is a path."""
        return self.parameters.fermi_kpts if self._is_path(self.parameters.kpts) else self.parameters.kpts

    def _outputmixin_get_results(self):
        self._follow_attached()
        if "eigenvalues" not in self.results:
            self.calculate(self.atoms, properties=[])
        return self.results

    # ------------------------------------------------------------------ conveniences
    def get_number_of_bands(self) -> int:
        return int(self._outputmixin_get_results()["eigenvalues"].shape[2])

    def band_gap(self, kpts: np.ndarray | None = None) -> BandGap:
        """Band gap (eV; direct or indirect, with the k points of VBM and CBM) relative to the mesh's
        Fermi level, searched on the k mesh plus the special points of the lattice (where band
        extrema usually are), or on the given ``kpts`` (fractional, (nk, 3))."""
        hamiltonians, overlap = self._current_matrices()
        spec = self._fermi_spec()
        mesh = self._mesh_results(hamiltonians, overlap, spec)
        filled = self.n_electrons / self.spin_degeneracy if self.spin != "collinear" else None
        n_filled = int(round(filled)) if filled is not None and abs(filled - round(filled)) < 1e-6 else None
        if kpts is None:
            atoms = self._effective_atoms(hamiltonians)
            special = np.array(list(atoms.cell.bandpath(npoints=0, pbc=atoms.pbc).special_points.values()))
            extra, extra_first, _, _ = self._solve(hamiltonians, overlap, special)
            n = max(extra.shape[2], mesh["eigenvalues"].shape[2])
            pad = lambda e: np.pad(e, ((0, 0), (0, 0), (0, n - e.shape[2])), constant_values=np.nan)
            eig = np.concatenate([pad(mesh["eigenvalues"]), pad(extra)], axis=1)
            first = np.concatenate([mesh["first_band"], extra_first], axis=1)
            return band_gap(eig, np.concatenate([mesh["kpts"], special]), mesh["fermi_level"], n_filled, first)
        kpts = np.asarray(kpts, dtype=np.float64).reshape(-1, 3)
        eig, first, _, _ = self._solve(hamiltonians, overlap, kpts)
        return band_gap(eig, kpts, mesh["fermi_level"], n_filled, first)

    def band_structure(self, path: str | BandPath | None = None, npoints: int = 150):
        """ASE BandStructure along ``path`` (a string such as "GMKG", a BandPath, or the cell's default
        special path) referred to the Fermi level of the k mesh. With ``kpts`` already a path and
        no arguments, this is ASE's own ``Calculator.band_structure``."""
        if path is None and self._is_path(self.parameters.kpts):
            return super().band_structure()
        from ase.spectrum.band_structure import BandStructure
        hamiltonians, overlap = self._current_matrices()
        atoms = self._effective_atoms(hamiltonians)
        if not isinstance(path, BandPath):
            path = atoms.cell.bandpath(path, npoints=npoints, pbc=atoms.pbc)
        mesh = self._mesh_results(hamiltonians, overlap, self.parameters.kpts)
        eig, _, _, _ = self._solve(hamiltonians, overlap, path.kpts)
        return BandStructure(path=path, energies=eig, reference=mesh["fermi_level"])

    def dos(self, energies: np.ndarray | None = None, width: float = 0.1, npts: int = 1001,
            projection: str | None = None) -> tuple[np.ndarray, dict[str, np.ndarray]]:
        """DOS (states / eV / cell) with Gaussian broadening ``width`` (eV) on the k mesh.

        Args:
            energies: grid in eV (default: the eigenvalue range on ``npts`` points).
            projection: None (total), "element", "l" or "element+l": Mulliken PDOS.

        Returns:
            (energies, {"total": dos} or {label: pdos, ..., "total": dos}).
        """
        hamiltonians, overlap = self._current_matrices()
        spec = self._fermi_spec()
        if projection is None:  # the eigenvalues of the Fermi-level mesh serve
            mesh = self._mesh_results(hamiltonians, overlap, spec)
            k, w, eig, vectors = mesh["kpts"], mesh["weights"], mesh["eigenvalues"], None
        else:
            k, w = self._mesh(spec, self._effective_atoms(hamiltonians))
            eig, _, vectors, _ = self._solve(hamiltonians, overlap, k, eigenvectors=True)
        if energies is None:
            energies = np.linspace(np.nanmin(eig) - 5 * width, np.nanmax(eig) + 5 * width, npts)
        out = {"total": gaussian_dos(eig, w, energies, width, self.spin_degeneracy)}
        if projection is not None:
            from .electronic.projections import mulliken_weights
            groups = mulliken_weights(hamiltonians, overlap, self.basis, self.atoms.get_chemical_symbols(), k, vectors,
                                      eig.shape[2], projection)
            for label, weights in groups.items():
                out[label] = gaussian_dos(eig, w, energies, width, self.spin_degeneracy, projections=weights)
        return np.asarray(energies), out
