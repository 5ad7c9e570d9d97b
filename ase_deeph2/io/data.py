"""HamiltonianData: what every reader returns and every writer takes."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
from ase import Atoms

from ..basis import BasisSet
from ..blocks import BlockMatrix

__all__ = ["HamiltonianData", "SPIN_MODES"]

#: ``"none"``: spinless; ``"collinear"``: two independent spin channels;
#: ``"noncollinear"``: one complex spinful Hamiltonian (spinor blocks, SOC allowed).
SPIN_MODES = ("none", "collinear", "noncollinear")


@dataclass
class HamiltonianData:
    """A structure with its Hamiltonian and overlap in a NAO basis (Å, eV).

    Attributes:
        atoms: the structure (Å); ``pbc`` as in the calculation.
        basis: orbital basis per element.
        hamiltonians: one BlockMatrix (eV) per independent spin channel: one for ``spin="none"``
            and ``"noncollinear"`` (complex spinor blocks), two for ``"collinear"`` (up, down).
        overlap: spatial overlap S(R) (dimensionless, real), same pairs as the Hamiltonian.
        fermi_level: chemical potential in eV, if known.
        n_electrons: number of valence electrons, if known.
        spin: one of :data:`SPIN_MODES`.
        source: where the data came from (a path), for messages.
        info: extra metadata (e.g. electronic temperature in K, the OpenMX input text).
    """

    atoms: Atoms
    basis: BasisSet
    hamiltonians: list[BlockMatrix]
    overlap: BlockMatrix | None
    fermi_level: float | None = None
    n_electrons: float | None = None
    spin: str = "none"
    source: str = ""
    info: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.spin not in SPIN_MODES:
            raise ValueError(f"spin must be one of {SPIN_MODES}, got {self.spin!r}")
        expected = 2 if self.spin == "collinear" else 1
        if len(self.hamiltonians) != expected:
            raise ValueError(f"spin={self.spin!r} needs {expected} Hamiltonian(s), got {len(self.hamiltonians)}")
        self.basis.check_symbols(self.atoms.get_chemical_symbols(), where=self.source or "structure")
        counts = self.basis.orbital_counts(self.atoms.get_chemical_symbols())
        for m in [*self.hamiltonians, *([self.overlap] if self.overlap is not None else [])]:
            if not np.array_equal(m.orbital_counts, counts):
                raise ValueError(f"{self.source or 'data'}: matrix orbital counts do not match the basis of the atoms")

    @property
    def hamiltonian(self) -> BlockMatrix:
        """The Hamiltonian (eV) when there is a single spin channel."""
        if len(self.hamiltonians) != 1:
            raise ValueError(
                f"{self.source or 'this data'} is spin-polarised (collinear): use .hamiltonians[0] (up) "
                "and .hamiltonians[1] (down)"
            )
        return self.hamiltonians[0]

    @property
    def symbols(self) -> list[str]:
        return self.atoms.get_chemical_symbols()

    @property
    def kinds(self) -> np.ndarray:
        """Index of each atom's element in ``basis.elements`` (sorted by Z), shape (n_atoms,)."""
        return self.basis.species_index(self.symbols, where=self.source or "structure")

    def __repr__(self) -> str:
        ef = f"{self.fermi_level:.4f} eV" if self.fermi_level is not None else "unknown"
        return (f"HamiltonianData({self.atoms.get_chemical_formula()}, {self.basis!r}, spin={self.spin}, "
                f"{self.hamiltonians[0].n_pairs} blocks, E_F={ef}, source={self.source!r})")
