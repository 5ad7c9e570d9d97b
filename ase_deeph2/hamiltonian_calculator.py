"""HamiltonianCalculator: an ASE calculator over H(R), S(R) in a NAO basis.

A thin adapter: the physics is :class:`~ase_deeph2.electronic.ElectronicStructure`; this class
turns ASE's parameters into it and its results into ASE's electronic-structure interface
(``get_eigenvalues``, ``get_fermi_level``, ``get_ibz_k_points``, ``get_k_point_weights``,
``get_number_of_spins``), so that ASE's own ``calc.band_structure()`` and ``ase.dft.dos.DOS(calc)``
work unchanged::

    calc = HamiltonianCalculator.from_scfout("openmx.scfout")     # or from_deeph(folder)
    atoms = calc.atoms
    atoms.calc = calc
    calc.get_fermi_level(); print(calc.band_gap())
    calc.band_structure().plot()                                   # E - E_F along the cell's path

``energy`` is the band energy sum_n f_n e_n per cell (eV) on the k mesh: there is no total energy
without the density. The Fermi level always comes from the k mesh (``kpts``, or
``fermi_kpts`` when ``kpts`` is a band path). Subclasses provide the matrices for any structure
by overriding :meth:`_matrices`.
"""

from __future__ import annotations

import weakref
from typing import Any

import numpy as np
from ase import Atoms
from ase.calculators.abc import GetOutputsMixin
from ase.calculators.calculator import Calculator, PropertyNotImplementedError, all_changes, compare_atoms
from ase.dft.kpoints import BandPath
from ase.units import kB

from .basis import BasisSet
from .blocks import BlockMatrix
from .electronic import BandGap, ElectronicStructure, Smearing, SolverPolicy, is_path, path_kpoints
from .electronic.solvers import DEFAULT_NBANDS
from .io.data import HamiltonianData

__all__ = ["HamiltonianCalculator"]

class HamiltonianCalculator(GetOutputsMixin, Calculator):
    """ASE calculator for fixed (or, in subclasses, predicted) H(R) and S(R).

    Parameters (``calc.set(...)`` triggers a recalculation):
        kpts: Monkhorst-Pack size ``(n1, n2, n3)``, ``{"size": ..., "gamma": bool}``,
            ``{"density": k points per Å^-1}``, a ``BandPath``, ``{"path": "GMKG", "npoints": 100}``,
            or an explicit (nk, 3) array of fractional k. Default: Γ-centred, density 5 Å^-1.
        fermi_kpts: the mesh that fixes the Fermi level when ``kpts`` is a path (default density 5).
        smearing: ``("fermi-dirac" | "gaussian", width_eV)``; default Fermi-Dirac at 300 K.
        method: eigensolver "auto" (dense up to 3000 orbitals), "dense" or "sparse".
        nbands: sparse: states per k nearest the Fermi level (default 40).
        sigma: sparse: reference energy in eV (default: the Fermi level, found automatically).
        symmetry: reduce meshes with spglib.
        project_overlap_below: drop S(k) directions below this eigenvalue (dense; see solvers).
        progress: progress bars over k points (None: for long loops only).
    """

    implemented_properties = ["energy", "free_energy"]
    discard_results_on_any_change = True  # every parameter (k points, smearing, solver) changes the results
    default_parameters: dict[str, Any] = {
        "kpts": None, "fermi_kpts": None, "smearing": ("fermi-dirac", float(kB * 300.0)), "method": "auto",
        "nbands": None, "sigma": None, "symmetry": True, "project_overlap_below": None, "progress": None,
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
        self._attached: weakref.ref | None = None
        self._electronic: ElectronicStructure | None = None

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
        if ref is not None and (len(atoms) != len(ref) or
                                compare_atoms(atoms, ref, tol=1e-6, excluded_properties=_NOT_STRUCTURE)):
            raise ValueError("HamiltonianCalculator holds the matrices of one fixed structure and these atoms differ; "
                             "use DeepH2Calculator to predict H for new structures")
        return self._hamiltonians, self._overlap

    def electronic_structure(self) -> ElectronicStructure:
        """The k-driver on the current structure's H and S with the current parameters (cached until
        the structure or a parameter changes)."""
        self._follow_attached()
        if self.atoms is None:
            raise ValueError("no structure: attach the calculator (atoms.calc = calc) or give atoms=")
        if len(self.atoms) == 0:
            raise ValueError("the structure has no atoms")
        if self._electronic is None:
            hamiltonians, overlap = self._matrices(self.atoms)
            p = self.parameters
            policy = SolverPolicy(method=p.method, nbands=DEFAULT_NBANDS if p.nbands is None else int(p.nbands),
                                  sigma=p.sigma, project_overlap_below=p.project_overlap_below)
            self._electronic = ElectronicStructure(
                hamiltonians, overlap, self.n_electrons, self.atoms, spin=self.spin, smearing=Smearing(*p.smearing),
                policy=policy, symmetry=p.symmetry, reference_energy=self.reference_energy, progress=p.progress,
                basis=self.basis)
        return self._electronic

    @property
    def spin_degeneracy(self) -> float:
        return 2.0 if self.spin == "none" else 1.0

    def fermi_spec(self):
        """The mesh that fixes the Fermi level: ``kpts``, or ``fermi_kpts`` when ``kpts`` is a path."""
        return self.parameters.fermi_kpts if is_path(self.parameters.kpts) else self.parameters.kpts

    # ------------------------------------------------------------------ ASE's calculator interface
    def calculate(self, atoms: Atoms | None = None, properties=("energy",), system_changes=all_changes) -> None:
        super().calculate(atoms, properties, system_changes)
        es = self.electronic_structure()
        spec = self.parameters.kpts
        mesh = es.on_mesh(self.fermi_spec())
        states = es.solve(path_kpoints(es.atoms, spec), what="k points") if is_path(spec) else mesh
        self.first_band = states.first_band
        self.results = {"eigenvalues": states.eigenvalues, "ibz_kpoints": states.kpts,
                        "kpoint_weights": states.weights, "fermi_level": mesh.fermi_level}
        if mesh.band_energy is not None:
            self.results["energy"] = self.results["free_energy"] = mesh.band_energy
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
        self._electronic = None

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

    def _outputmixin_get_results(self):
        self._follow_attached()
        if "eigenvalues" not in self.results:
            self.calculate(self.atoms, properties=[])
        return self.results

    # ------------------------------------------------------------------ conveniences
    def get_number_of_bands(self) -> int:
        return int(self._outputmixin_get_results()["eigenvalues"].shape[2])

    def band_gap(self, kpts: np.ndarray | None = None) -> BandGap:
        """Band gap (eV; direct or indirect, with the k points of VBM and CBM; ``metal`` when bands
        cross E_F) relative to the mesh's Fermi level, searched on the k mesh plus the special points
        of the lattice, or on the given ``kpts`` (fractional, (nk, 3))."""
        return self.electronic_structure().band_gap(self.fermi_spec(), kpts)

    def band_structure(self, path: str | BandPath | None = None, npoints: int = 150):
        """ASE BandStructure along ``path`` (a string such as "GMKG", a BandPath, or the cell's default
        special path; with ``kpts`` a path and no argument, that path) with energies E - E_F in eV
        (``reference`` 0; the Fermi level of the k mesh is :meth:`get_fermi_level`)."""
        es = self.electronic_structure()
        spec = self.parameters.kpts
        if path is None and is_path(spec):
            path = spec if isinstance(spec, BandPath) else BandPath(es.atoms.cell, kpts=path_kpoints(es.atoms, spec))
        return es.band_structure(path, npoints, fermi_spec=self.fermi_spec())

    def dos(self, emin: float | None = None, emax: float | None = None, npts: int = 1001, width: float = 0.1,
            projection: str | None = None) -> tuple[np.ndarray, dict[str, np.ndarray]]:
        """DOS (states / eV / cell) with Gaussian broadening ``width`` (eV) on the Fermi-level k mesh.

        Args:
            emin, emax: energies in eV (absolute; default: the range of the computed states).
            projection: None (total), "element", "l" or "element+l": Mulliken PDOS.

        Returns:
            (energies (npts,), {"total": dos} or {label: pdos, ..., "total": dos}).
        """
        return self.electronic_structure().dos(self.fermi_spec(), emin, emax, npts, width, projection)


#: ``compare_atoms`` names of what H does not depend on.
_NOT_STRUCTURE = {"initial_charges", "initial_magmoms"}
