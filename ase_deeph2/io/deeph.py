"""DeepH dataset folders: the new format (DeepH-dock) and the legacy one (DeepH-pack / DeepH-E3).

New format (one folder per structure; maps 1:1 onto BlockMatrix):
    ``POSCAR`` (Å, Cartesian), ``info.json`` (``atoms_quantity``, ``orbits_quantity``,
    ``orthogonal_basis``, ``spinful``, ``fermi_energy_eV``, ``elements_orbital_map``, ``occupation``;
    we add ``basis``: {element: OpenMX basis string}, and ``valence_electrons``), ``hamiltonian.h5``
    and ``overlap.h5`` with ``atom_pairs`` (P, 5) int64 = (R1, R2, R3, i, j) 0-based, ``chunk_shapes`` (P, 2),
    ``chunk_boundaries`` (P+1,), ``entries`` (gzip; float64, complex128 when spinful).
    Blocks in Wikipedia real-SH order, H in eV.

Legacy format (import/export only: dict-of-keys is slow):
    ``hamiltonians.h5`` / ``overlaps.h5`` with one dataset per block named ``"[R1, R2, R3, i, j]"``
    (atoms 1-based), each (n_i, n_j) in OpenMX's orbital order, H in eV; ``element.dat`` (atomic
    numbers), ``lat.dat`` (lattice vectors as columns, Å), ``site_positions.dat`` (positions as
    columns, Å), ``orbital_types.dat`` (the l of each shell, one line per atom), ``info.json``
    (``isorthogonal``, ``isspinful``, ``fermi_level`` in eV; we add ``basis``, ``n_electrons`` and ``valence_electrons``).
"""

from __future__ import annotations

import json
import re
from os import PathLike
from pathlib import Path

import h5py
import numpy as np
from ase import Atoms
from ase.io import read as ase_read
from ase.io import write as ase_write

from ..basis import BasisSet
from ..blocks import BlockMatrix
from ..files import atomic_folder
from .data import HamiltonianData
from .openmx import parse_openmx_input, valence_from_input
from .orbital_order import repair_orbital_order

__all__ = ["read_deeph", "write_deeph", "DeepHFormatError"]

NEW_FILES = ("POSCAR", "info.json", "hamiltonian.h5")
LEGACY_FILES = ("hamiltonians.h5", "element.dat", "lat.dat", "site_positions.dat", "orbital_types.dat", "info.json")


class DeepHFormatError(ValueError):
    """A DeepH folder that is incomplete or inconsistent; the message names the file."""


def _require(folder: Path, names: tuple[str, ...], fmt: str) -> None:
    missing = [n for n in names if not (folder / n).is_file()]
    if missing:
        raise DeepHFormatError(f"{folder}: DeepH {fmt}-format folder is missing {', '.join(missing)} "
                               f"(expected {', '.join(names)})")


def _input_beside(folder: Path) -> tuple[dict | None, ValueError | None]:
    """The OpenMX input beside the data (``openmx.dat``, as ``deeph2 dft`` keeps it), parsed once per
    read: ``(parsed, None)``, ``(None, the parse error)``, or ``(None, None)`` when there is none."""
    dat = folder / "openmx.dat"
    if not dat.is_file():
        return None, None
    try:
        return parse_openmx_input(dat.read_text(errors="replace"), str(dat)), None
    except ValueError as err:
        return None, err


def _valence_for(info: dict, n_electrons: float | None, beside: dict | None) -> dict[str, float]:
    """Valence electrons per element: info.json "valence_electrons", else the OpenMX input beside the data."""
    if isinstance(info.get("valence_electrons"), dict):
        return {el: float(v) for el, v in info["valence_electrons"].items()}
    if beside is not None:
        try:
            return valence_from_input(beside, n_electrons)
        except ValueError:
            return {}
    return {}


def _basis_for(folder: Path, info: dict, orbital_map: dict[str, list[int]],
               beside: tuple[dict | None, ValueError | None]) -> tuple[BasisSet, str]:
    """Basis with PAO names when known: info.json "basis", else the OpenMX input beside the data
    (``beside``: what :func:`_input_beside` returned)."""
    names = info.get("basis")
    origin = "info.json"
    if names is None:
        parsed, error = beside
        if error is not None:
            raise error
        if parsed is not None:
            names = {el: b for el, b in parsed["species"].values()}
            origin = "openmx.dat"
    if names is None:
        return BasisSet.from_orbital_map(orbital_map), "orbital map only (cutoff radii unknown)"
    basis = BasisSet.from_strings({el: names[el] for el in orbital_map if el in names})
    for el, ls in orbital_map.items():
        if el not in basis or list(basis[el].ls) != list(ls):
            raise DeepHFormatError(f"{folder}: {origin} gives {el} basis "
                                   f"{basis[el].name if el in basis else 'none'}, but the data has shells {ls}")
    return basis, origin


def _read_info(fmt: str, origin: str, info: dict, n_electrons: float | None, beside: dict | None) -> dict:
    """HamiltonianData.info of a DeepH folder; the OpenMX keywords (e.g. scf.kgrid) when its input is beside it."""
    out = {"format": fmt, "basis_from": origin, "valence_electrons": _valence_for(info, n_electrons, beside)}
    if beside is not None:
        out["keywords"] = beside["keywords"]
    return out


def _read_blocks_new(path: Path, counts: np.ndarray, spinful: bool) -> BlockMatrix:
    try:
        with h5py.File(path, "r") as f:
            pairs, shapes, bounds, entries = (f[k][()] for k in ("atom_pairs", "chunk_shapes", "chunk_boundaries", "entries"))
    except KeyError as err:
        raise DeepHFormatError(f"{path}: missing dataset {err}; expected atom_pairs, chunk_shapes, "
                               "chunk_boundaries, entries") from None
    except OSError as err:
        raise DeepHFormatError(f"{path}: not a readable HDF5 file ({err})") from None
    try:
        matrix = BlockMatrix(pairs, entries, counts, offsets=bounds, spinful=spinful)
    except ValueError as err:
        raise DeepHFormatError(f"{path}: {err}") from None
    if not np.array_equal(matrix.block_shapes, shapes):
        raise DeepHFormatError(f"{path}: chunk_shapes disagree with the orbital counts of the atoms")
    return matrix


def _read_new(folder: Path) -> HamiltonianData:
    _require(folder, NEW_FILES, "new")
    info = json.loads((folder / "info.json").read_text())
    try:
        atoms = ase_read(folder / "POSCAR", format="vasp")
        orbital_map = {el: list(ls) for el, ls in info["elements_orbital_map"].items()}
    except KeyError as err:
        raise DeepHFormatError(f"{folder / 'info.json'}: missing key {err}") from None
    except Exception as err:  # ASE raises many kinds on a broken POSCAR
        raise DeepHFormatError(f"{folder / 'POSCAR'}: cannot read ({err})") from None
    beside = _input_beside(folder)
    basis, origin = _basis_for(folder, info, orbital_map, beside)
    counts = basis.orbital_counts(atoms.get_chemical_symbols())
    spinful = bool(info.get("spinful", False))
    h = _read_blocks_new(folder / "hamiltonian.h5", counts, spinful)
    s = _read_blocks_new(folder / "overlap.h5", counts, False) if (folder / "overlap.h5").is_file() else None
    return HamiltonianData(atoms=atoms, basis=basis, hamiltonians=[h], overlap=s,
                           fermi_level=info.get("fermi_energy_eV"), n_electrons=info.get("occupation"),
                           spin="noncollinear" if spinful else "none", source=str(folder),
                           info=_read_info("deeph-new", origin, info, info.get("occupation"), beside[0]))


_KEY = re.compile(r"^\[\s*(-?\d+)\s*,\s*(-?\d+)\s*,\s*(-?\d+)\s*,\s*(\d+)\s*,\s*(\d+)\s*\]$")


def _read_blocks_legacy(path: Path, counts: np.ndarray, kinds: np.ndarray, to_wiki: dict, spinful: bool) -> BlockMatrix:
    with h5py.File(path, "r") as f:
        keys = list(f.keys())
        parsed = [_KEY.match(k) for k in keys]
        if not all(parsed):
            bad = keys[parsed.index(None)]
            raise DeepHFormatError(f"{path}: dataset name {bad!r} is not of the form '[R1, R2, R3, i, j]'")
        pairs = np.array([[int(g) for g in m.groups()] for m in parsed], dtype=np.int64).reshape(-1, 5)
        pairs[:, 3:] -= 1  # 1-based atoms in the legacy format
        blocks = [f[k][()] for k in keys]
    try:
        matrix = BlockMatrix.from_blocks(pairs, blocks, counts, spinful=spinful)
    except ValueError as err:
        raise DeepHFormatError(f"{path}: {err}") from None
    return matrix.permute_orbitals(kinds, to_wiki)


def _read_legacy(folder: Path) -> HamiltonianData:
    _require(folder, LEGACY_FILES, "legacy")
    info = json.loads((folder / "info.json").read_text())
    numbers = np.loadtxt(folder / "element.dat", dtype=np.int64, ndmin=1)
    cell = np.loadtxt(folder / "lat.dat", ndmin=2).T
    positions = np.loadtxt(folder / "site_positions.dat", ndmin=2).T
    shells = [[int(x) for x in ln.split()] for ln in (folder / "orbital_types.dat").read_text().splitlines() if ln.strip()]
    if not (len(numbers) == len(positions) == len(shells)) or cell.shape != (3, 3):
        raise DeepHFormatError(f"{folder}: element.dat ({len(numbers)} atoms), site_positions.dat "
                               f"({len(positions)}), orbital_types.dat ({len(shells)}) and lat.dat {cell.shape} disagree")
    atoms = Atoms(numbers=numbers, positions=positions, cell=cell, pbc=True)
    symbols = atoms.get_chemical_symbols()
    orbital_map = {}
    for atom, (el, ls) in enumerate(zip(symbols, shells)):
        if orbital_map.setdefault(el, ls) != ls:
            raise DeepHFormatError(f"{folder / 'orbital_types.dat'}: atom {atom} ({el}) has shells {ls}, "
                                   f"another {el} has {orbital_map[el]}")
    beside = _input_beside(folder)
    basis, origin = _basis_for(folder, info, orbital_map, beside)
    counts = basis.orbital_counts(symbols)
    kinds = basis.species_index(symbols, where=str(folder))
    to_wiki = {k: basis[el].openmx_to_wiki for k, el in enumerate(basis.elements)}
    spinful = bool(info.get("isspinful", False))
    h = _read_blocks_legacy(folder / "hamiltonians.h5", counts, kinds, to_wiki, spinful)
    s = (_read_blocks_legacy(folder / "overlaps.h5", counts, kinds, to_wiki, False)
         if (folder / "overlaps.h5").is_file() else None)
    return HamiltonianData(atoms=atoms, basis=basis, hamiltonians=[h], overlap=s,
                           fermi_level=info.get("fermi_level"), n_electrons=info.get("n_electrons"),
                           spin="noncollinear" if spinful else "none", source=str(folder),
                           info=_read_info("deeph-legacy", origin, info, info.get("n_electrons"), beside[0]))


def read_deeph(folder: str | PathLike, orbital_order: str = "auto") -> HamiltonianData:
    """Read a DeepH folder (new or legacy format, detected from its files) into HamiltonianData.

    H in eV, blocks in Wikipedia real-SH order, structure in Å.

    Args:
        orbital_order: datasets converted by other tools do not always hold the orbital order they
            claim, and eigenvalues cannot reveal it. The stored order is checked against the
            overlap's geometry (:mod:`ase_deeph2.io.orbital_order`): ``"auto"`` reorders with a
            warning, ``"check"`` raises, ``"trust"`` skips the check.
    """
    folder = Path(folder)
    if not folder.is_dir():
        raise DeepHFormatError(f"{folder}: not a folder (a DeepH dataset is one folder per structure)")
    if (folder / "hamiltonian.h5").exists():
        return repair_orbital_order(_read_new(folder), orbital_order)
    if (folder / "hamiltonians.h5").exists():
        return repair_orbital_order(_read_legacy(folder), orbital_order)
    raise DeepHFormatError(f"{folder}: neither hamiltonian.h5 (new DeepH format) nor hamiltonians.h5 (legacy) found")


def _write_blocks_new(path: Path, matrix: BlockMatrix) -> None:
    with h5py.File(path, "w") as f:
        f["atom_pairs"] = matrix.pairs
        f["chunk_shapes"] = matrix.block_shapes
        f["chunk_boundaries"] = matrix.offsets
        f.create_dataset("entries", data=matrix.data, compression="gzip")


def _write_blocks_legacy(path: Path, matrix: BlockMatrix, kinds: np.ndarray, to_openmx: dict) -> None:
    openmx = matrix.permute_orbitals(kinds, to_openmx)
    with h5py.File(path, "w") as f:
        for p, (r1, r2, r3, i, j) in enumerate(openmx.pairs):
            f[f"[{r1}, {r2}, {r3}, {i + 1}, {j + 1}]"] = openmx.block_at(p)


def write_deeph(folder: str | PathLike, data: HamiltonianData, legacy: bool = False,
                extra_files: dict[str, str] | None = None) -> Path:
    """Write ``data`` as a DeepH folder (new format, or ``legacy=True``); returns the folder.

    The folder is assembled in a temporary sibling and moved into place, so an interrupted write
    never leaves a half-written dataset. Only single-channel data (spinless or non-collinear) can be
    written: DeepH has no collinear two-channel layout. A structure without a full cell (a
    molecule) gets a box in the POSCAR wide enough that no orbital reaches a periodic image.
    ``extra_files``: name -> text of further files (e.g. the OpenMX input) written with the rest.
    """
    folder = Path(folder)
    if data.atoms.cell.rank < 3:
        data = _boxed(data)
    if data.spin == "collinear":
        raise ValueError(f"{data.source}: DeepH formats hold one Hamiltonian; write each spin channel separately")
    with atomic_folder(folder) as tmp:
        h, s = data.hamiltonian, data.overlap
        spinful = h.spinful
        basis_names = {el: data.basis[el].name for el in data.basis.elements}
        if legacy:
            kinds = data.kinds
            to_openmx = {k: data.basis[el].wiki_to_openmx for k, el in enumerate(data.basis.elements)}
            np.savetxt(tmp / "element.dat", data.atoms.numbers, fmt="%d")
            np.savetxt(tmp / "lat.dat", data.atoms.cell.array.T, fmt="%.17g")
            np.savetxt(tmp / "site_positions.dat", data.atoms.positions.T, fmt="%.17g")
            (tmp / "orbital_types.dat").write_text(
                "".join(" ".join(map(str, data.basis[s_].ls)) + "\n" for s_ in data.symbols))
            info = {"isorthogonal": False, "isspinful": spinful, "fermi_level": data.fermi_level,
                    "n_electrons": data.n_electrons, "basis": basis_names}
            _write_blocks_legacy(tmp / "hamiltonians.h5", h, kinds, to_openmx)
            if s is not None:
                _write_blocks_legacy(tmp / "overlaps.h5", s, kinds, to_openmx)
        else:
            ase_write(tmp / "POSCAR", data.atoms, format="vasp", direct=False, sort=False)
            info = {"atoms_quantity": len(data.atoms), "orbits_quantity": int(h.orbital_counts.sum()),
                    "orthogonal_basis": False, "spinful": spinful, "fermi_energy_eV": data.fermi_level,
                    "elements_orbital_map": data.basis.orbital_map(), "occupation": data.n_electrons,
                    "basis": basis_names}
            _write_blocks_new(tmp / "hamiltonian.h5", h)
            if s is not None:
                _write_blocks_new(tmp / "overlap.h5", s)
        if data.info.get("valence_electrons"):
            info["valence_electrons"] = data.info["valence_electrons"]
        (tmp / "info.json").write_text(json.dumps(info, indent=1))
        for name, text in (extra_files or {}).items():
            (tmp / name).write_text(text)
    return folder


def _boxed(data: HamiltonianData) -> HamiltonianData:
    """A copy of molecular data in a box: extent plus twice the largest orbital reach on each side."""
    atoms = data.atoms.copy()
    reach = 2 * float(data.basis.cutoffs(atoms.get_chemical_symbols()).max()) + 1.0
    atoms.cell = np.diag(np.ptp(atoms.positions, axis=0) + 2 * reach) if len(atoms) else np.eye(3)
    atoms.positions += reach - atoms.positions.min(axis=0)
    atoms.pbc = False
    return HamiltonianData(atoms, data.basis, data.hamiltonians, data.overlap, data.fermi_level, data.n_electrons,
                           data.spin, data.source, data.info)
