"""Training data: OpenMX runs or DeepH folders -> one preprocessed HDF5 cache -> lazy samples.

The cache is built once (progress bar) and holds contiguous arrays for all structures:

==================  =================  ===========================================
dataset             shape / dtype      meaning
==================  =================  ===========================================
``numbers``         (ΣN,) int16        atomic numbers
``positions``       (ΣN, 3) float64    Å
``cells``           (S, 3, 3) float64  Å, rows are lattice vectors
``pbc``             (S, 3) bool
``atom_offsets``    (S+1,) int64       atoms of structure s: ``atom_offsets[s]:atom_offsets[s+1]``
``pairs``           (ΣP, 5) int32      (R1, R2, R3, i, j), i/j local to the structure
``pair_offsets``    (S+1,) int64
``h_entries``       (ΣE,) float32      H blocks (eV), Wikipedia orbital order, BlockMatrix layout
``entry_offsets``   (S+1,) int64
``fermi_level``     (S,) float64       eV (NaN if unknown)
``n_electrons``     (S,) float64
``names``           (S,) str           source folder, relative to the source root
``layer_step``      (S,) float64       bilayers: DFT's interlayer step V (eV), NaN for others
``layer_transfer``  (S,) float64       bilayers: electrons DFT moves to the upper layer, per cell
``layer_area``      (S,) float64       bilayers: the cell's area (Å^2)
==================  =================  ===========================================

Attributes: ``basis`` (JSON {element: basis string}), ``orbital_map``, ``format_version``,
``interlayer_step_removed`` (the bilayers' ``h_entries`` are H - V M, see :mod:`.interlayer`).
The split into train/validation/test is by structure with a fixed seed, saved beside the cache
(``<cache>.split.json``) so that it is reproducible and survives re-runs.
"""

from __future__ import annotations

import json
import os
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import h5py
import numpy as np
from ase import Atoms
from tqdm.auto import tqdm

from ase_deeph2.basis import BasisSet
from ase_deeph2.blocks import BlockMatrix
from ase_deeph2.files import atomic_path, atomic_write_text
from ase_deeph2.io import HamiltonianData, SourceError, find_sources, read_source
from ase_deeph2.model.metadata import FermiLevels

from .interlayer import remove_layer_step

__all__ = ["find_structures", "read_structure", "build_cache", "CachedStructures", "Split", "make_split",
           "load_or_make_split", "SkippedStructure"]

CACHE_FORMAT_VERSION = 1


class SkippedStructure(ValueError):
    """A structure that cannot be used (unfinished run, other basis, NaN); the message names it."""


def find_structures(root: str | os.PathLike) -> list[Path]:
    """Every structure under ``root`` (:func:`ase_deeph2.io.find_sources`); a missing root is an error
    that says where the example configurations expect their data."""
    root = Path(root)
    if not root.exists():
        raise FileNotFoundError(f"dataset source {root} does not exist (the configurations in examples/ read the "
                                "project's OpenMX data in ../shared/data beside the checkout; point data.sources at "
                                "your own runs or DeepH folders, e.g. OUT/deeph made by `deeph2 dft`)")
    return find_sources(root)


def read_structure(path: str | os.PathLike) -> HamiltonianData:
    """Read one structure (:func:`ase_deeph2.io.read_source`); unusable ones raise SkippedStructure."""
    try:
        return read_source(path)
    except SourceError as err:
        raise SkippedStructure(str(err)) from None


def _check(data: HamiltonianData, basis: BasisSet, where: str) -> None:
    if data.spin != "none":
        raise SkippedStructure(f"{where}: spin mode {data.spin!r}; training supports spinless data only")
    for el in sorted(set(data.symbols)):
        if el not in basis:
            raise SkippedStructure(f"{where}: element {el} is not in the training basis {basis!r}")
        if basis[el].ls != data.basis[el].ls:
            raise SkippedStructure(f"{where}: {el} has basis {data.basis[el].name}, the dataset uses {basis[el].name}")
    if not np.all(np.isfinite(data.hamiltonian.data)):
        raise SkippedStructure(f"{where}: the Hamiltonian contains NaN or inf")


def build_cache(sources: Sequence[str | os.PathLike] | str | os.PathLike, cache_path: str | os.PathLike,
                basis: BasisSet | None = None, overwrite: bool = False, progress: bool = True,
                interlayer_step: bool = False) -> dict:
    """Read every structure under ``sources`` and write one HDF5 cache (atomically).

    Args:
        sources: root folder(s) or files (see :func:`find_structures`).
        cache_path: the ``.h5`` to write.
        basis: the basis every structure must use; default the first structure's.
        overwrite: rebuild even if the cache exists.
        interlayer_step: remove each bilayer's interlayer step from its H (and record it).

    Returns:
        ``{"path", "n_structures", "skipped": [(source, reason), ...]}``. Structures that cannot be
        used are skipped with a message naming them; it is an error if none is left.
    """
    cache_path = Path(cache_path)
    roots = [Path(sources)] if isinstance(sources, (str, os.PathLike)) else [Path(s) for s in sources]
    if cache_path.exists() and not overwrite:
        with h5py.File(cache_path, "r") as f:
            removed = bool(f.attrs.get("interlayer_step_removed", False))
        if removed != interlayer_step:
            raise ValueError(f"{cache_path} was built {'with' if removed else 'without'} data.interlayer_step and the "
                             f"configuration asks {'for' if interlayer_step else 'against'} it; delete the cache to rebuild")
        if not valence_path(cache_path).exists():  # a cache made before the valence was recorded
            _write_valence(cache_path, [_read_quietly(p).info.get("valence_electrons", {})
                                        for root in roots for p in find_structures(root)])
        with h5py.File(cache_path, "r") as f:
            return {"path": cache_path, "n_structures": len(f["names"]), "skipped": []}
    items = [(root, p) for root in roots for p in find_structures(root)]
    if not items:
        raise FileNotFoundError(f"no OpenMX runs (*.scfout) or DeepH folders found under {[str(r) for r in roots]}")
    parts: dict[str, list] = {k: [] for k in ("numbers", "positions", "cells", "pbc", "pairs", "h", "ef", "ne", "names",
                                              "valence", "layers")}
    skipped, repaired = [], []
    for root, path in tqdm(items, desc="reading structures", unit="structure", disable=not progress):
        try:
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always")
                data = read_structure(path)
            repaired += [str(w.message) for w in caught if "reordered to Wikipedia order" in str(w.message)]
            basis = basis if basis is not None else data.basis
            _check(data, basis, str(path))
            h, layers = remove_layer_step(data) if interlayer_step else (data.hamiltonian, None)
        except (SkippedStructure, ValueError, OSError) as err:
            skipped.append((str(path), str(err)))
            continue
        parts["numbers"].append(data.atoms.numbers.astype(np.int16))
        parts["positions"].append(data.atoms.positions)
        parts["cells"].append(data.atoms.cell.array)
        parts["pbc"].append(np.asarray(data.atoms.pbc))
        parts["pairs"].append(data.hamiltonian.pairs.astype(np.int32))
        parts["h"].append(h.data.astype(np.float32))
        parts["layers"].append((np.nan,) * 3 if layers is None else (layers.step, layers.transfer, layers.area))
        parts["ef"].append(np.nan if data.fermi_level is None else data.fermi_level)
        parts["ne"].append(np.nan if data.n_electrons is None else data.n_electrons)
        parts["valence"].append(data.info.get("valence_electrons", {}))
        name = path.relative_to(root) if path != root else Path(path.name)
        parts["names"].append(str(root.name / name))
    if repaired:
        warnings.warn(f"{len(repaired)} structure(s) stored their orbitals in another m order and were reordered "
                      f"to Wikipedia order, e.g. {repaired[0]}", stacklevel=2)
    if not parts["names"]:
        raise SkippedStructure("no usable structure: " + "; ".join(f"{p}: {r}" for p, r in skipped[:5]))
    offsets = lambda arrs: np.concatenate([[0], np.cumsum([len(a) for a in arrs])]).astype(np.int64)
    with atomic_path(cache_path, suffix=".h5") as tmp, h5py.File(tmp, "w") as f:
        f["numbers"] = np.concatenate(parts["numbers"])
        f["positions"] = np.concatenate(parts["positions"])
        f["cells"] = np.stack(parts["cells"])
        f["pbc"] = np.stack(parts["pbc"])
        f["atom_offsets"] = offsets(parts["numbers"])
        f["pairs"] = np.concatenate(parts["pairs"])
        f["pair_offsets"] = offsets(parts["pairs"])
        f["h_entries"] = np.concatenate(parts["h"])
        f["entry_offsets"] = offsets(parts["h"])
        f["fermi_level"] = np.array(parts["ef"], dtype=np.float64)
        f["n_electrons"] = np.array(parts["ne"], dtype=np.float64)
        f["names"] = np.array(parts["names"], dtype=h5py.string_dtype())
        for name, column in zip(("layer_step", "layer_transfer", "layer_area"), np.array(parts["layers"]).T):
            f[name] = column
        f.attrs["interlayer_step_removed"] = interlayer_step
        f.attrs["basis"] = json.dumps(basis.to_strings())
        f.attrs["orbital_map"] = json.dumps(basis.orbital_map())
        f.attrs["format_version"] = CACHE_FORMAT_VERSION
        f.attrs["skipped"] = json.dumps(skipped)
    _write_valence(cache_path, parts["valence"])
    return {"path": cache_path, "n_structures": len(parts["names"]), "skipped": skipped, "reordered": len(repaired)}


def valence_path(cache_path: Path) -> Path:
    """The side file of a cache with the valence electrons per element its inputs state."""
    return Path(f"{cache_path}.valence.json")


def _read_quietly(path: Path):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # orbital-order repairs were reported when the cache was built
        return read_structure(path)


def _write_valence(cache_path: Path, per_structure: list[dict[str, float]]) -> None:
    """Valence per element agreed by every structure that states it (an element on which two inputs
    disagree, i.e. two pseudopotentials, is left out and left to the electron counts)."""
    seen: dict[str, set[float]] = {}
    for valence in per_structure:
        for el, v in valence.items():
            seen.setdefault(el, set()).add(float(v))
    agreed = {el: next(iter(v)) for el, v in seen.items() if len(v) == 1}
    atomic_write_text(valence_path(cache_path), json.dumps(agreed))


@dataclass
class StructureRecord:
    """One cached structure: atoms and its target H as a BlockMatrix (eV, float32 entries)."""

    name: str
    atoms: Atoms
    hamiltonian: BlockMatrix
    fermi_level: float
    n_electrons: float


class CachedStructures:
    """Lazy, random access to the structures of a cache built by :func:`build_cache`.

    The HDF5 file is opened on first access in each process (safe with DataLoader workers and DDP).
    """

    def __init__(self, cache_path: str | os.PathLike):
        self.path = Path(cache_path)
        if not self.path.is_file():
            raise FileNotFoundError(f"dataset cache {self.path} does not exist; build it with build_cache()")
        with h5py.File(self.path, "r") as f:
            version = int(f.attrs.get("format_version", -1))
            if version != CACHE_FORMAT_VERSION:
                raise ValueError(f"{self.path}: cache format {version}, this version reads {CACHE_FORMAT_VERSION}; rebuild it")
            self.basis = BasisSet.from_strings(json.loads(f.attrs["basis"]))
            self.names = [n.decode() if isinstance(n, bytes) else str(n) for n in f["names"][()]]
            self._index = {k: f[k][()] for k in ("atom_offsets", "pair_offsets", "entry_offsets", "cells", "pbc",
                                                 "fermi_level", "n_electrons")}
            self.interlayer_step_removed = bool(f.attrs.get("interlayer_step_removed", False))
            nan = np.full(len(self.names), np.nan)
            self.layers = {k: f[k][()] if k in f else nan for k in ("layer_step", "layer_transfer", "layer_area")}
        side = valence_path(self.path)
        self.valence: dict[str, float] = json.loads(side.read_text()) if side.is_file() else {}
        self._file: h5py.File | None = None
        self._pid: int | None = None

    def __len__(self) -> int:
        return len(self.names)

    def _h5(self) -> h5py.File:
        if self._file is None or self._pid != os.getpid():
            self._file = h5py.File(self.path, "r")
            self._pid = os.getpid()
        return self._file

    def __getitem__(self, s: int) -> StructureRecord:
        if not 0 <= s < len(self):
            raise IndexError(f"structure {s} out of range 0..{len(self) - 1}")
        f, ix = self._h5(), self._index
        a0, a1 = ix["atom_offsets"][s:s + 2]
        p0, p1 = ix["pair_offsets"][s:s + 2]
        e0, e1 = ix["entry_offsets"][s:s + 2]
        atoms = Atoms(numbers=f["numbers"][a0:a1], positions=f["positions"][a0:a1], cell=ix["cells"][s],
                      pbc=ix["pbc"][s])
        counts = self.basis.orbital_counts(atoms.get_chemical_symbols())
        h = BlockMatrix(f["pairs"][p0:p1].astype(np.int64), f["h_entries"][e0:e1], counts)
        return StructureRecord(self.names[s], atoms, h, float(ix["fermi_level"][s]), float(ix["n_electrons"][s]))

    def n_atoms(self) -> np.ndarray:
        """(S,) atoms per structure."""
        return np.diff(self._index["atom_offsets"])

    def electron_statistics(self, indices: Sequence[int]) -> tuple[FermiLevels | None, dict[str, float]]:
        """What a calculator needs to fill bands for new structures, from the given structures.

        Returns (the Fermi levels' range, or None if unknown; valence electrons per element: as the
        OpenMX inputs state them (checked against every electron count), else when the element
        counts determine them, least squares of the electron counts; empty when neither can tell,
        e.g. DeepH folders without their input and always the MoS2 stoichiometry).
        """
        f, ix = self._h5(), self._index
        elements = self.basis.elements
        counts, electrons, fermi = [], [], []
        for s in indices:
            a0, a1 = ix["atom_offsets"][s:s + 2]
            numbers = f["numbers"][a0:a1]
            symbols = Atoms(numbers=numbers).get_chemical_symbols()
            counts.append([symbols.count(el) for el in elements])
            electrons.append(ix["n_electrons"][s])
            fermi.append(ix["fermi_level"][s])
        fermi_known = np.array(fermi)[np.isfinite(fermi)]
        levels = (FermiLevels(float(fermi_known.min()), float(fermi_known.mean()), float(fermi_known.max()))
                  if len(fermi_known) else None)
        a, y = np.array(counts, dtype=np.float64), np.array(electrons)
        known = np.isfinite(y)
        stated = np.array([self.valence.get(el, np.nan) for el in elements])
        if np.all(np.isfinite(stated)) and (not known.any() or np.abs(a[known] @ stated - y[known]).max() < 1e-6):
            return levels, {el: float(v) for el, v in zip(elements, stated)}  # as the inputs state, checked
        valence: dict[str, float] = {}
        if known.any() and np.linalg.matrix_rank(a[known]) == len(elements):
            fit, *_ = np.linalg.lstsq(a[known], y[known], rcond=None)
            if np.abs(a[known] @ fit - y[known]).max() < 1e-6:
                valence = {el: round(float(v), 6) for el, v in zip(elements, fit)}
        return levels, valence


@dataclass
class Split:
    """Structure indices of each part, and the seed that made them."""

    train: list[int]
    validation: list[int]
    test: list[int]
    seed: int
    names: list[str]

    def to_json(self) -> str:
        return json.dumps({"train": self.train, "validation": self.validation, "test": self.test,
                           "seed": self.seed, "names": self.names}, indent=1)


def make_split(names: Sequence[str], fractions: tuple[float, float, float] = (0.8, 0.1, 0.1), seed: int = 0) -> Split:
    """Random split by structure; every part gets at least one structure when there are three or more."""
    if len(fractions) != 3 or abs(sum(fractions) - 1) > 1e-9 or min(fractions) < 0 or fractions[0] <= 0:
        raise ValueError(f"split fractions must be three non-negative numbers summing to 1 with a non-zero "
                         f"training part, got {fractions}")
    n = len(names)
    order = np.random.default_rng(seed).permutation(n)
    n_val = int(round(fractions[1] * n))
    n_test = int(round(fractions[2] * n))
    if n >= 3:
        n_val, n_test = max(n_val, 1 if fractions[1] > 0 else 0), max(n_test, 1 if fractions[2] > 0 else 0)
    n_train = n - n_val - n_test
    if n_train < 1:
        raise ValueError(f"{n} structures are too few for the split {fractions}")
    parts = np.split(order, [n_train, n_train + n_val])
    return Split(*(sorted(int(i) for i in p) for p in parts), seed=seed, names=list(names))


def load_or_make_split(cache: CachedStructures, fractions=(0.8, 0.1, 0.1), seed: int = 0) -> Split:
    """The split saved beside the cache (``<cache>.split.json``), or a new one saved there.

    A saved split is reused only if it was made for the same structures and seed; otherwise it is
    an error (delete the file to re-split) so that a test set never silently changes.
    """
    path = cache.path.with_name(cache.path.name + ".split.json")
    if path.exists():
        saved = json.loads(path.read_text())
        if saved["names"] != cache.names or saved["seed"] != seed:
            raise ValueError(f"{path} was made for other structures or another seed; delete it to re-split")
        return Split(saved["train"], saved["validation"], saved["test"], saved["seed"], saved["names"])
    split = make_split(cache.names, fractions, seed)
    atomic_write_text(path, split.to_json())
    return split
