"""Numerical-atomic-orbital basis per element, and OpenMX <-> Wikipedia real-SH orbital order.

Conventions (``DESIGN.md`` section 3):

* Inside an atom, orbitals come in order of increasing ``l``, then multiplicity (radial index),
  then ``m = -l..l`` in the *Wikipedia real spherical harmonics* order
  (p: y, z, x; d: xy, yz, z², xz, x²-y²). This is the DeepH (new) format's order.
* OpenMX stores the same orbitals with the ``m`` components in its own order; the map between the
  two is a pure permutation with no signs: ``new[k] = old[OPENMX_TO_WIKI[l][k]]``.
* An OpenMX basis string such as ``C6.0-s2p2d1`` names the PAO file (``C6.0``: cutoff radius
  6.0 Bohr) and how many radial functions per ``l`` are used.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cached_property
from typing import Iterable, Mapping, Sequence

import numpy as np
from ase.data import atomic_numbers
from ase.units import Bohr

__all__ = [
    "OPENMX_TO_WIKI",
    "L_LETTERS",
    "ElementBasis",
    "BasisSet",
    "openmx_to_wiki_permutation",
]

L_LETTERS = "spdfg"

#: Per l, ``new[k] = old[OPENMX_TO_WIKI[l][k]]`` maps OpenMX's m order to Wikipedia real SH.
#: OpenMX: p (x, y, z); d (z², x²-y², xy, xz, yz); f (m = 0, +1, -1, +2, -2, +3, -3).
OPENMX_TO_WIKI: dict[int, tuple[int, ...]] = {
    0: (0,),
    1: (1, 2, 0),
    2: (2, 4, 0, 3, 1),
    3: (6, 4, 2, 0, 1, 3, 5),
}

_BASIS_RE = re.compile(r"^(?P<pao>(?P<label>[A-Za-z]+)(?P<radius>\d+(?:\.\d*)?))-(?P<shells>(?:[spdfg]\d+)+)$")


def openmx_to_wiki_permutation(l: int) -> np.ndarray:
    """Permutation ``perm`` (length 2l+1) with ``wiki[k] = openmx[perm[k]]`` for angular momentum l."""
    try:
        return np.asarray(OPENMX_TO_WIKI[l], dtype=np.int64)
    except KeyError:
        raise ValueError(
            f"OpenMX orbitals with l = {l} are not supported; OpenMX bases go up to f (l = 3)"
        ) from None


@dataclass(frozen=True)
class ElementBasis:
    """The orbitals of one element.

    Attributes:
        element: chemical symbol, e.g. ``"Mo"``.
        name: OpenMX basis string, e.g. ``"Mo7.0-s3p2d2"``.
        ls: angular momentum of each radial function (shell) in order, e.g. ``(0, 0, 0, 1, 1, 2, 2)``.
    """

    element: str
    name: str
    ls: tuple[int, ...]

    def __post_init__(self) -> None:
        if self.element not in atomic_numbers:
            raise ValueError(f"unknown chemical element {self.element!r} for basis {self.name!r}")
        if list(self.ls) != sorted(self.ls):
            raise ValueError(f"basis {self.name!r}: shells must be ordered by increasing l, got {self.ls}")
        for l in self.ls:
            openmx_to_wiki_permutation(l)

    @classmethod
    def from_string(cls, basis: str, element: str | None = None) -> "ElementBasis":
        """Parse an OpenMX basis string such as ``"C6.0-s2p2d1"``.

        Args:
            basis: the string as in OpenMX's ``Definition.of.Atomic.Species``.
            element: chemical symbol; by default the letters of the PAO name (``C`` of ``C6.0``).
        """
        match = _BASIS_RE.match(basis.strip())
        if match is None:
            raise ValueError(
                f"unknown basis string {basis!r}: expected OpenMX form like 'C6.0-s2p2d1' "
                "(PAO name, '-', then letter+count per l from s, p, d, f)"
            )
        element = element if element is not None else match["label"]
        counts: dict[int, int] = {}
        for letter, count in re.findall(r"([spdfg])(\d+)", match["shells"]):
            l = L_LETTERS.index(letter)
            if l in counts:
                raise ValueError(f"basis string {basis!r} names '{letter}' twice")
            counts[l] = int(count)
        ls = tuple(l for l in sorted(counts) for _ in range(counts[l]))
        return cls(element=element, name=basis.strip(), ls=ls)

    @classmethod
    def from_l_list(cls, element: str, ls: Sequence[int], name: str | None = None) -> "ElementBasis":
        """Basis from the DeepH ``elements_orbital_map`` form, e.g. ``("C", [0, 0, 1, 1, 2])``."""
        ls = tuple(int(l) for l in ls)
        if name is None:
            counts = {l: ls.count(l) for l in sorted(set(ls))}
            name = f"{element}-" + "".join(f"{L_LETTERS[l]}{n}" for l, n in counts.items())
        return cls(element=element, name=name, ls=ls)

    @property
    def pao_name(self) -> str:
        """PAO file stem, e.g. ``"C6.0"`` (empty if the name is not an OpenMX basis string)."""
        return self.name.split("-", 1)[0] if _BASIS_RE.match(self.name) else ""

    @property
    def cutoff(self) -> float:
        """Cutoff radius of the radial functions in Å, from the PAO name (``C6.0`` -> 6.0 Bohr)."""
        match = _BASIS_RE.match(self.name)
        if match is None:
            raise ValueError(f"basis {self.name!r} does not name a PAO cutoff radius (like 'C6.0-s2p2d1')")
        return float(match["radius"]) * Bohr

    @property
    def l_max(self) -> int:
        return max(self.ls)

    @property
    def shell_counts(self) -> dict[int, int]:
        """Number of radial functions per l, e.g. ``{0: 2, 1: 2, 2: 1}``."""
        return {l: self.ls.count(l) for l in sorted(set(self.ls))}

    @cached_property
    def n_orbitals(self) -> int:
        return sum(2 * l + 1 for l in self.ls)

    @cached_property
    def shell_offsets(self) -> np.ndarray:
        """Start of each shell inside the atom's orbital list, shape (n_shells + 1,)."""
        return np.concatenate([[0], np.cumsum([2 * l + 1 for l in self.ls])]).astype(np.int64)

    @cached_property
    def orbital_l(self) -> np.ndarray:
        """l of every orbital, shape (n_orbitals,)."""
        return np.concatenate([np.full(2 * l + 1, l) for l in self.ls]).astype(np.int64)

    @cached_property
    def orbital_m(self) -> np.ndarray:
        """m of every orbital in Wikipedia order (-l..l), shape (n_orbitals,)."""
        return np.concatenate([np.arange(-l, l + 1) for l in self.ls]).astype(np.int64)

    @cached_property
    def openmx_to_wiki(self) -> np.ndarray:
        """Permutation of the whole atom's orbitals: ``wiki = openmx[perm]``, shape (n_orbitals,)."""
        return np.concatenate(
            [start + openmx_to_wiki_permutation(l) for start, l in zip(self.shell_offsets, self.ls)]
        ).astype(np.int64)

    @cached_property
    def wiki_to_openmx(self) -> np.ndarray:
        """Inverse of :attr:`openmx_to_wiki`: ``openmx = wiki[perm]``."""
        return np.argsort(self.openmx_to_wiki).astype(np.int64)

    def orbital_labels(self) -> list[str]:
        """Human-readable label per orbital, e.g. ``['1s', '2s', '1py', ...]`` (Wikipedia order)."""
        names = {0: ["s"], 1: ["py", "pz", "px"], 2: ["dxy", "dyz", "dz2", "dxz", "dx2-y2"],
                 3: ["fy(3x2-y2)", "fxyz", "fyz2", "fz3", "fxz2", "fz(x2-y2)", "fx(x2-3y2)"]}
        seen: dict[int, int] = {}
        labels = []
        for l in self.ls:
            seen[l] = seen.get(l, 0) + 1
            labels += [f"{seen[l]}{n}" for n in names[l]]
        return labels


class BasisSet(Mapping[str, ElementBasis]):
    """The basis of every element in a calculation: a read-only mapping symbol -> ElementBasis."""

    def __init__(self, elements: Iterable[ElementBasis]):
        self._by_symbol: dict[str, ElementBasis] = {}
        for eb in elements:
            if eb.element in self._by_symbol and self._by_symbol[eb.element] != eb:
                raise ValueError(
                    f"element {eb.element} has two different bases: "
                    f"{self._by_symbol[eb.element].name} and {eb.name}"
                )
            self._by_symbol[eb.element] = eb

    @classmethod
    def from_strings(cls, bases: Mapping[str, str]) -> "BasisSet":
        """``BasisSet.from_strings({"Mo": "Mo7.0-s3p2d2", "S": "S7.0-s2p2d1"})``."""
        return cls(ElementBasis.from_string(b, element=el) for el, b in bases.items())

    @classmethod
    def from_orbital_map(cls, orbital_map: Mapping[str, Sequence[int]],
                         names: Mapping[str, str] | None = None) -> "BasisSet":
        """From the DeepH ``elements_orbital_map`` ``{"C": [0, 0, 1, 1, 2]}`` (names optional)."""
        names = names or {}
        return cls(ElementBasis.from_l_list(el, ls, names.get(el)) for el, ls in orbital_map.items())

    def __getitem__(self, element: str) -> ElementBasis:
        try:
            return self._by_symbol[element]
        except KeyError:
            raise KeyError(
                f"element {element!r} has no basis here; known elements: {sorted(self._by_symbol)}"
            ) from None

    def __iter__(self):
        return iter(self._by_symbol)

    def __len__(self) -> int:
        return len(self._by_symbol)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, BasisSet) and self._by_symbol == other._by_symbol

    def __hash__(self) -> int:
        return hash(tuple(sorted(self._by_symbol.items(), key=lambda kv: kv[0])))

    def __repr__(self) -> str:
        return "BasisSet(" + ", ".join(eb.name for eb in self._by_symbol.values()) + ")"

    @property
    def elements(self) -> list[str]:
        """Symbols sorted by atomic number."""
        return sorted(self._by_symbol, key=lambda s: atomic_numbers[s])

    def to_strings(self) -> dict[str, str]:
        return {el: self[el].name for el in self.elements}

    def orbital_map(self) -> dict[str, list[int]]:
        """DeepH ``elements_orbital_map``: ``{"C": [0, 0, 1, 1, 2]}``."""
        return {el: list(self[el].ls) for el in self.elements}

    def check_symbols(self, symbols: Sequence[str], where: str = "structure") -> None:
        """Raise a ValueError naming the first atom whose element has no basis."""
        missing = sorted(set(symbols) - set(self._by_symbol))
        if missing:
            first = next(i for i, s in enumerate(symbols) if s in missing)
            raise ValueError(
                f"{where}: element(s) {missing} (first at atom {first}) have no basis; "
                f"this basis set covers {self.elements}"
            )

    def species_index(self, symbols: Sequence[str], where: str = "structure") -> np.ndarray:
        """(n_atoms,) int64 position of each atom's element in :attr:`elements` (the species index
        of every array and model in the package); a ValueError names the first unknown atom."""
        self.check_symbols(symbols, where)
        lookup = {el: k for k, el in enumerate(self.elements)}
        return np.fromiter((lookup[s] for s in symbols), dtype=np.int64, count=len(symbols))

    def orbital_counts(self, symbols: Sequence[str]) -> np.ndarray:
        """Orbitals per atom, shape (n_atoms,) int64."""
        self.check_symbols(symbols)
        table = {el: eb.n_orbitals for el, eb in self._by_symbol.items()}
        return np.fromiter((table[s] for s in symbols), dtype=np.int64, count=len(symbols))

    def cutoffs(self, symbols: Sequence[str]) -> np.ndarray:
        """Cutoff radius (Å) of each atom's radial functions, shape (n_atoms,)."""
        self.check_symbols(symbols)
        table = {el: eb.cutoff for el, eb in self._by_symbol.items()}
        return np.fromiter((table[s] for s in symbols), dtype=np.float64, count=len(symbols))

    def atom_permutation(self, symbols: Sequence[str], to: str = "wiki") -> list[np.ndarray]:
        """Per-atom orbital permutations OpenMX -> Wikipedia (``to="wiki"``) or back (``"openmx"``)."""
        if to not in ("wiki", "openmx"):
            raise ValueError(f"to must be 'wiki' or 'openmx', got {to!r}")
        self.check_symbols(symbols)
        attr = "openmx_to_wiki" if to == "wiki" else "wiki_to_openmx"
        return [getattr(self[s], attr) for s in symbols]
