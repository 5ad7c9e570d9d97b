"""OpenMX 3.9 files: the binary ``.scfout`` (format version 3) and the text ``.out`` log.

The ``.scfout`` embeds its own input file, so species, basis strings and atom order come from
the file itself. Units are converted at read time: Hartree -> eV, Bohr -> Å. Orbitals are
permuted from OpenMX's m order to the Wikipedia real-SH order (``ase_deeph2.basis``).
"""

from __future__ import annotations

import os
import re
from os import PathLike
from pathlib import Path

import numpy as np
from ase import Atoms
from ase.units import Bohr, Hartree

from ..basis import BasisSet, ElementBasis
from ..blocks import BlockMatrix
from .data import HamiltonianData

__all__ = ["read_scfout", "read_openmx_eigenvalues", "parse_openmx_input", "valence_from_input", "ScfoutError"]

SCFOUT_VERSION = 3
_OLD_VERSIONS = {0: "3.7, 3.8 or older", 1: "3.7.x (HWC development)", 2: "3.7.x (HWF development)"}
_LINE = 256  # bytes per embedded input line
_CLUSTER_SOLVERS = {2, 7}  # OpenMX Solver codes of the cluster (non-periodic) solvers


class ScfoutError(ValueError):
    """A file that is not a readable OpenMX 3.9 ``.scfout``; the message names the file."""


class _Cursor:
    """Sequential typed reads from an open file; sections we don't need are skipped, not read.

    Every read is checked against the file size, so a short file gives a clear error.
    """

    def __init__(self, fh, size: int, path: Path, endian: str):
        self.fh, self.size, self.path, self.endian, self.pos = fh, size, path, endian, 0

    def read(self, dtype: str, count: int, what: str) -> np.ndarray:
        dt = np.dtype(self.endian + dtype)
        end = self.pos + dt.itemsize * int(count)
        if count < 0 or end > self.size:
            raise ScfoutError(
                f"{self.path}: file is truncated while reading {what}: needs {end} bytes, "
                f"the file has {self.size}"
            )
        out = np.fromfile(self.fh, dtype=dt, count=int(count))  # aligned, owns its memory
        self.pos = end
        return out

    def skip(self, nbytes: int, what: str) -> None:
        if self.pos + nbytes > self.size:
            raise ScfoutError(f"{self.path}: file is truncated inside {what}")
        self.pos += int(nbytes)
        self.fh.seek(self.pos)


def _header(buf: bytes, path: Path) -> tuple[str, np.ndarray]:
    """Find the byte order and check the format version; returns (endian, first six ints)."""
    if len(buf) < 28:
        raise ScfoutError(f"{path}: only {len(buf)} bytes; not an OpenMX .scfout file")
    buf = buf[:24]
    for endian in "<>":
        head = np.frombuffer(buf, dtype=endian + "i4", count=6)
        if 0 < head[0] < 10**7 and 0 <= head[1] < 64 and head[1] % 4 in (0, 1, 3) and 0 <= head[5] < 10**7:
            break
    else:
        raise ScfoutError(f"{path}: the header does not look like an OpenMX .scfout (atom count {head[0]})")
    version = int(head[1]) // 4
    if version != SCFOUT_VERSION:
        which = _OLD_VERSIONS.get(version, "an unknown OpenMX version")
        raise ScfoutError(
            f"{path}: .scfout format version {version} (OpenMX {which}); only version "
            f"{SCFOUT_VERSION} (OpenMX 3.9) is supported. Re-run with OpenMX 3.9 and HS.fileout on."
        )
    return endian, head


def parse_openmx_input(text: str, source: str = "OpenMX input") -> dict:
    """Species and atoms from OpenMX input text.

    Returns ``{"species": {label: (element, basis_string)}, "atom_species": [label, ...],
    "keywords": {lowercased keyword: value string}}``.
    """

    def block(name: str) -> list[list[str]]:
        m = re.search(rf"<{re.escape(name)}\s*\n(.*?)\n\s*{re.escape(name)}>", text, re.S | re.I)
        if m is None:
            raise ScfoutError(f"{source}: the input has no <{name} ... {name}> block")
        return [ln.split() for ln in m.group(1).splitlines() if ln.strip() and not ln.strip().startswith("#")]

    species = {}
    for row in block("Definition.of.Atomic.Species"):
        if len(row) < 3:
            raise ScfoutError(f"{source}: bad species line {' '.join(row)!r} (expected: label basis vps)")
        label, basis, vps = row[:3]
        element = vps.split("_")[0]
        element = re.match(r"[A-Z][a-z]?", element).group(0) if re.match(r"[A-Z][a-z]?", element) else label
        species[label] = (element, basis)
    atom_rows = block("Atoms.SpeciesAndCoordinates")
    atom_species = [row[1] for row in atom_rows]
    unknown = sorted(set(atom_species) - set(species))
    if unknown:
        raise ScfoutError(f"{source}: atoms use species {unknown} not defined in Definition.of.Atomic.Species")
    keywords = {}
    for ln in text.splitlines():
        parts = ln.split(None, 1)
        if len(parts) == 2 and not parts[0].startswith(("<", "#")) and not parts[0].endswith(">"):
            keywords.setdefault(parts[0].lower(), parts[1].strip())
    try:  # the initial up and down electrons of each atom: their sum is its valence
        atom_electrons = [float(row[5]) + float(row[6]) for row in atom_rows]
    except (IndexError, ValueError):
        atom_electrons = None
    return {"species": species, "atom_species": atom_species, "keywords": keywords, "atom_electrons": atom_electrons}


def valence_from_input(parsed: dict, n_electrons: float | None = None) -> dict[str, float]:
    """Valence electrons per element from a parsed OpenMX input (:func:`parse_openmx_input`): the
    initial up + down electrons of its atoms, which OpenMX's inputs set to the pseudopotential's
    valence. Empty when the atoms of one element disagree, or when the sum over the atoms differs
    from ``n_electrons`` (a charged cell: then the per-element numbers are not the valence)."""
    electrons = parsed.get("atom_electrons")
    if not electrons:
        return {}
    per_element: dict[str, set[float]] = {}
    for label, count in zip(parsed["atom_species"], electrons):
        per_element.setdefault(parsed["species"][label][0], set()).add(round(count, 6))
    if any(len(v) != 1 for v in per_element.values()):
        return {}
    if n_electrons is not None and abs(sum(electrons) - n_electrons) > 1e-6:
        return {}
    return {el: next(iter(v)) for el, v in per_element.items()}


def read_scfout(path: str | PathLike, symmetrize: bool = True) -> HamiltonianData:
    """Read an OpenMX 3.9 ``.scfout`` file (written with ``HS.fileout on``).

    Returns a :class:`HamiltonianData` with H in eV (one BlockMatrix per spin channel, or one
    complex spinful one for non-collinear runs), the real overlap S, the structure in Å, the
    basis parsed from the embedded input, the chemical potential (eV) and the valence-electron
    count.

    OpenMX's stored H(i, j, R) and H(j, i, -R)^T differ by numerical noise (~1e-8 eV); with
    ``symmetrize`` (default) both are replaced by their mean, so H(R) = H(-R)^dagger exactly. The
    noise removed is kept in ``info["hermiticity_error_eV"]`` (and ``"..._overlap"`` for S).
    """
    path = Path(path)
    try:
        with open(path, "rb") as fh:
            return _read_scfout(fh, path, symmetrize)
    except OSError as err:
        raise ScfoutError(f"cannot read {path}: {err.strerror or err}") from None


def _read_scfout(fh, path: Path, symmetrize: bool) -> HamiltonianData:
    size = os.fstat(fh.fileno()).st_size
    endian, head = _header(fh.read(28), path)
    natoms, spin_switch, tcell = int(head[0]), int(head[1]) % 4, int(head[5])
    cur = _Cursor(fh, size, path, endian)
    cur.skip(24, "header")
    order_max = int(cur.read("i4", 1, "order_max")[0])
    if not 0 <= order_max < 100:
        raise ScfoutError(f"{path}: implausible order_max {order_max}; not an OpenMX 3.9 .scfout")
    cur.skip(8 * 4 * (tcell + 1), "atv")
    atv_ijk = cur.read("i4", 4 * (tcell + 1), "atv_ijk").reshape(-1, 4)[:, 1:].astype(np.int64)
    norb = cur.read("i4", natoms, "Total_NumOrbs").astype(np.int64)
    fnan = cur.read("i4", natoms, "FNAN").astype(np.int64)
    if norb.min() < 1 or fnan.min() < 0 or norb.max() > 10**4:
        raise ScfoutError(f"{path}: implausible orbital or neighbour counts; not an OpenMX .scfout")
    n_pairs = int((fnan + 1).sum())
    natn = cur.read("i4", n_pairs, "natn").astype(np.int64) - 1
    ncn = cur.read("i4", n_pairs, "ncn").astype(np.int64)
    if natn.min() < 0 or natn.max() >= natoms or ncn.min() < 0 or ncn.max() > tcell:
        raise ScfoutError(f"{path}: neighbour indices out of range; the file is corrupt")
    tv = cur.read("f8", 12, "cell").reshape(3, 4)[:, 1:] * Bohr
    cur.skip(8 * 12, "reciprocal cell")
    positions = cur.read("f8", 4 * natoms, "atomic positions").reshape(natoms, 4)[:, 1:] * Bohr

    i_atom = np.repeat(np.arange(natoms), fnan + 1)
    pairs = np.concatenate([atv_ijk[ncn], i_atom[:, None], natn[:, None]], axis=1)
    n_entries = int((norb[i_atom] * norb[natn]).sum())
    n_h = spin_switch + 1
    hks = cur.read("f8", n_h * n_entries, "Hamiltonian").reshape(n_h, n_entries)
    ihks = cur.read("f8", 3 * n_entries, "imaginary Hamiltonian").reshape(3, n_entries) if spin_switch == 3 else None
    olp = cur.read("f8", n_entries, "overlap")
    cur.skip(8 * n_entries * (3 * order_max + 3 + n_h + 2), "position, momentum and density matrices")
    solver = int(cur.read("i4", 1, "solver")[0])
    scalars = cur.read("f8", 10, "chemical potential and electron count")
    n_lines = int(cur.read("i4", 1, "number of input lines")[0])
    raw = cur.read("S1", _LINE * n_lines, "embedded input").tobytes()
    text = "\n".join(raw[k * _LINE:(k + 1) * _LINE].split(b"\0", 1)[0].decode("latin-1").rstrip()
                     for k in range(n_lines))

    inp = parse_openmx_input(text, source=str(path))
    if len(inp["atom_species"]) != natoms:
        raise ScfoutError(f"{path}: embedded input lists {len(inp['atom_species'])} atoms, binary has {natoms}")
    try:
        basis = BasisSet(ElementBasis.from_string(b, element=el) for el, b in inp["species"].values()
                         if any(inp["species"][s][0] == el for s in inp["atom_species"]))
    except ValueError as err:
        raise ScfoutError(f"{path}: {err}") from None
    symbols = [inp["species"][s][0] for s in inp["atom_species"]]
    expected = basis.orbital_counts(symbols)
    bad = np.flatnonzero(expected != norb)
    if len(bad):
        a = int(bad[0])
        raise ScfoutError(f"{path}: atom {a} ({symbols[a]}, basis {basis[symbols[a]].name}) has {norb[a]} "
                          f"orbitals in the binary but {expected[a]} by its basis string")

    periodic = solver not in _CLUSTER_SOLVERS
    atoms = Atoms(symbols=symbols, positions=positions, cell=tv, pbc=periodic)
    kinds = basis.species_index(symbols, where=str(path))
    perms = {k: basis[el].openmx_to_wiki for k, el in enumerate(basis.elements)}

    layout = BlockMatrix(pairs, olp, norb)
    to_wiki = layout.permutation_gather(kinds, perms)  # shared by H and S: same pairs, same shapes
    partner = layout.partner()
    if np.any(partner < 0):
        raise ScfoutError(f"{path}: block {tuple(pairs[np.argmin(partner)])} has no (j, i, -R) partner")
    transpose = to_wiki[layout.partner_transpose_gather(partner)]

    def matrix(values: np.ndarray, scale: float = 1.0) -> tuple[BlockMatrix, float]:
        """Wikipedia-order matrix (symmetrised if asked) and its raw hermiticity error."""
        wiki, mirrored = values[to_wiki], values[transpose]
        diff = np.subtract(wiki, mirrored)
        error = scale * float(max(diff.max(initial=0.0), -diff.min(initial=0.0)))
        if symmetrize:
            np.add(wiki, mirrored, out=wiki)
            wiki *= 0.5 * scale
        else:
            wiki *= scale
        return BlockMatrix(pairs, wiki, norb), error

    if spin_switch == 3:
        hamiltonians = [_noncollinear(pairs, norb, hks * Hartree, ihks * Hartree, kinds, perms)]
        h_error = hamiltonians[0].hermiticity_error()
        hamiltonians = [h.symmetrize() for h in hamiltonians] if symmetrize else hamiltonians
        spin = "noncollinear"
    else:
        built = [matrix(hks[s], Hartree) for s in range(n_h)]
        hamiltonians, h_error = [m for m, _ in built], max(e for _, e in built)
        spin = "collinear" if spin_switch == 1 else "none"
    overlap, s_error = matrix(olp)
    info = {"electronic_temperature_K": float(scalars[1]), "solver": solver, "input": text,
            "keywords": inp["keywords"], "hermiticity_error_eV": h_error, "hermiticity_error_overlap": s_error,
            "valence_electrons": valence_from_input(inp, float(scalars[8]))}
    return HamiltonianData(atoms=atoms, basis=basis, hamiltonians=hamiltonians, overlap=overlap,
                           fermi_level=float(scalars[0] * Hartree), n_electrons=float(scalars[8]),
                           spin=spin, source=str(path), info=info)


def _noncollinear(pairs: np.ndarray, norb: np.ndarray, hks: np.ndarray, ihks: np.ndarray,
                  kinds: np.ndarray, perms: dict) -> BlockMatrix:
    """Spinor blocks [[uu, ud], [du, dd]] from OpenMX's non-collinear arrays (eV).

    uu = Hks0 + i iHks0, dd = Hks1 + i iHks1, ud = Hks2 + i (Hks3 + iHks2);
    du(i, j, R) = ud(j, i, -R)^dagger (OpenMX stores only the up-down block).
    """
    parts = [BlockMatrix(pairs, d, norb).permute_orbitals(kinds, perms).data for d in (
        hks[0] + 1j * ihks[0], hks[1] + 1j * ihks[1], hks[2] + 1j * (hks[3] + ihks[2]))]
    ud = BlockMatrix(pairs, parts[2], norb)
    partner = ud.partner()
    if np.any(partner < 0):
        raise ScfoutError("non-collinear Hamiltonian: some (i, j, R) has no (j, i, -R) partner")
    du = ud._partner_dagger(partner)
    out = BlockMatrix(pairs, np.zeros(4 * len(parts[0]), dtype=np.complex128), norb, spinful=True)
    for g_sp, g_out in zip(ud.groups(kinds), out.groups(kinds)):
        r, c = g_sp.shape
        spinor = np.zeros((len(g_sp.pair_index), 2 * r, 2 * c), dtype=np.complex128)
        for (a, b), comp in zip([(0, 0), (1, 1), (0, 1), (1, 0)], [parts[0], parts[1], parts[2], du]):
            spinor[:, a * r:(a + 1) * r, b * c:(b + 1) * c] = comp[g_sp.entry_index].reshape(-1, r, c)
        out.data[g_out.entry_index] = spinor.reshape(len(spinor), -1)
    return out
