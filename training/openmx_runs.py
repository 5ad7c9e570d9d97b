"""Make training data with OpenMX: structures -> OpenMX inputs -> runs -> a folder tree of runs.

Typical use::

    from ase_deeph2.training.openmx_runs import (OpenMXSettings, perturbed_supercells,
                                                 prepare_runs, run_openmx_all)
    settings = OpenMXSettings.from_dat("reference_run/openmx.dat")   # same basis, k-density, ...
    frames = perturbed_supercells(graphene, (3, 3, 1), n=50, sigma=0.05, strain=0.02, seed=0)
    folders = prepare_runs(frames, "runs/", settings)                 # runs/s0000/openmx.dat, ...
    run_openmx_all(folders, nprocs=2)                                 # needs OpenMX 3.9 installed

Each folder then holds ``openmx.scfout`` (``HS.fileout on``), the input the dataset builder reads.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Iterable, Sequence

import numpy as np
from ase import Atoms
from tqdm.auto import tqdm

from ase_deeph2.basis import ElementBasis
from ase_deeph2.files import atomic_write_text
from ase_deeph2.io import parse_openmx_input, read_structures

__all__ = [
    "OpenMXSettings",
    "OpenMXError",
    "write_openmx_input",
    "perturbed_supercells",
    "trajectory_frames",
    "prepare_runs",
    "run_openmx",
    "run_openmx_all",
    "is_finished",
]


class OpenMXError(RuntimeError):
    """OpenMX is missing, misconfigured, or a run failed (the message names the folder)."""


@dataclass
class OpenMXSettings:
    """Everything of an OpenMX input except the structure.

    Attributes:
        basis: element -> OpenMX basis string, e.g. ``{"C": "C6.0-s2p2d1"}``.
        vps: element -> pseudopotential name; default ``"<El>_PBE19"`` (DFT_DATA19).
        data_path: the DFT_DATA19 folder (with ``PAO/`` and ``VPS/``); needed to run, and to read
            valence electrons from the VPS files when ``valence_electrons`` is not given.
        valence_electrons: element -> electrons of its pseudopotential (initial spin densities).
        kpts: Monkhorst-Pack mesh; ``None`` chooses one from ``kpoint_density`` (k-points per Å⁻¹).
        kpoint_density: used when ``kpts`` is None; non-periodic directions get 1 k-point.
        keywords: further OpenMX keywords written verbatim (defaults are those of the shared runs).
    """

    basis: dict[str, str]
    vps: dict[str, str] = field(default_factory=dict)
    data_path: str | None = None
    valence_electrons: dict[str, float] = field(default_factory=dict)
    kpts: tuple[int, int, int] | None = None
    kpoint_density: float = 4.0
    keywords: dict[str, str] = field(default_factory=lambda: {
        "scf.XcType": "GGA-PBE",
        "scf.SpinPolarization": "off",
        "scf.ElectronicTemperature": "300.0",
        "scf.energycutoff": "200",
        "scf.maxIter": "200",
        "scf.EigenvalueSolver": "Band",
        "scf.Mixing.Type": "rmm-diisk",
        "scf.Init.Mixing.Weight": "0.1",
        "scf.Min.Mixing.Weight": "0.001",
        "scf.Max.Mixing.Weight": "0.4",
        "scf.Mixing.History": "30",
        "scf.Mixing.StartPulay": "6",
        "scf.criterion": "1.0e-8",
        "MD.Type": "Nomd",
    })

    def __post_init__(self) -> None:
        for el, b in self.basis.items():
            ElementBasis.from_string(b, element=el)  # raises a clear error on a bad basis string

    @classmethod
    def from_dat(cls, path: str | os.PathLike, **overrides) -> "OpenMXSettings":
        """Settings of an existing OpenMX input (basis, VPS, k-mesh, SCF keywords), for more runs alike."""
        path = Path(path)
        text = path.read_text(errors="replace")
        parsed = parse_openmx_input(text, source=str(path))
        vps_names = {}
        for row in _block_rows(text, "Definition.of.Atomic.Species"):
            vps_names[row[0]] = row[2]
        basis = {el: b for el, b in parsed["species"].values()}
        vps = {parsed["species"][label][0]: name for label, name in vps_names.items()}
        counts = {}
        for row in _block_rows(text, "Atoms.SpeciesAndCoordinates"):
            el = parsed["species"][row[1]][0]
            counts[el] = float(row[5]) + float(row[6]) if len(row) >= 7 else counts.get(el)
        kw = parsed["keywords"]
        skip = {"system.currrentdirectory", "system.name", "data.path", "species.number", "atoms.number",
                "atoms.speciesandcoordinates.unit", "atoms.unitvectors.unit", "scf.kgrid", "hs.fileout"}
        original_case = {ln.split()[0].lower(): ln.split()[0] for ln in text.splitlines() if ln.split()}
        keywords = {original_case[k]: v for k, v in kw.items() if k not in skip}
        kpts = tuple(int(x) for x in kw["scf.kgrid"].split()[:3]) if "scf.kgrid" in kw else None
        settings = cls(basis=basis, vps=vps, valence_electrons={k: v for k, v in counts.items() if v is not None},
                       kpts=kpts, keywords=keywords)
        return replace(settings, **overrides)

    def vps_name(self, element: str) -> str:
        return self.vps.get(element, f"{element}_PBE19")

    def valence(self, element: str) -> float:
        """Valence electrons of ``element``'s pseudopotential (from settings or its VPS file)."""
        if element in self.valence_electrons:
            return float(self.valence_electrons[element])
        if self.data_path is None:
            raise OpenMXError(f"valence electrons of {element} unknown: give valence_electrons={{'{element}': ...}} "
                              "or data_path (the DFT_DATA19 folder with VPS/)")
        vps = Path(self.data_path) / "VPS" / f"{self.vps_name(element)}.vps"
        if not vps.is_file():
            raise OpenMXError(f"pseudopotential file {vps} not found (element {element}); check data_path / vps")
        for line in vps.read_text(errors="replace").splitlines():
            if line.strip().startswith("valence.electron"):
                return float(line.split()[1])
        raise OpenMXError(f"{vps}: no 'valence.electron' line")

    def mesh_for(self, atoms: Atoms) -> tuple[int, int, int]:
        """The k-mesh for ``atoms``: ``kpts`` if set, else from ``kpoint_density`` (1 along non-periodic axes)."""
        if self.kpts is not None:
            return tuple(int(k) for k in self.kpts)
        recip = np.linalg.norm(atoms.cell.reciprocal(), axis=1)  # 1/Å, without 2 pi
        mesh = np.maximum(1, np.ceil(2 * np.pi * recip * self.kpoint_density)).astype(int)
        return tuple(int(m) if p else 1 for m, p in zip(mesh, atoms.pbc))


def _block_rows(text: str, name: str) -> list[list[str]]:
    lines = text.splitlines()
    start = next(k for k, ln in enumerate(lines) if ln.strip().lower() == f"<{name}".lower())
    rows = []
    for ln in lines[start + 1:]:
        if ln.strip().lower() == f"{name}>".lower():
            break
        if ln.strip():
            rows.append(ln.split())
    return rows


def write_openmx_input(atoms: Atoms, folder: str | os.PathLike, settings: OpenMXSettings,
                       system_name: str = "openmx") -> Path:
    """Write ``folder/<system_name>.dat`` for ``atoms`` (Å) with ``HS.fileout on``; returns its path.

    The file is written atomically. Atoms without a basis in ``settings`` raise a ValueError naming them.
    """
    symbols = atoms.get_chemical_symbols()
    missing = sorted(set(symbols) - set(settings.basis))
    if missing:
        raise ValueError(f"no basis for element(s) {missing} in the OpenMX settings (have {sorted(settings.basis)})")
    if atoms.cell.rank < 3:
        raise ValueError("OpenMX needs a full 3D cell: add vacuum along non-periodic directions (atoms.center(vacuum=...))")
    elements = list(dict.fromkeys(symbols))
    mesh = settings.mesh_for(atoms)
    lines = [
        "System.CurrrentDirectory ./",
        f"System.Name {system_name}",
        f"DATA.PATH {settings.data_path or './DFT_DATA19'}",
        "level.of.stdout 1",
        "level.of.fileout 1",
        "HS.fileout on",
        "",
        f"Species.Number {len(elements)}",
        "<Definition.of.Atomic.Species",
        *[f" {el} {settings.basis[el]} {settings.vps_name(el)}" for el in elements],
        "Definition.of.Atomic.Species>",
        "",
        f"Atoms.Number {len(atoms)}",
        "Atoms.SpeciesAndCoordinates.Unit Ang",
        "<Atoms.SpeciesAndCoordinates",
    ]
    half = {el: settings.valence(el) / 2 for el in elements}
    for k, (el, pos) in enumerate(zip(symbols, atoms.positions), start=1):
        lines.append(f" {k} {el} {pos[0]:.10f} {pos[1]:.10f} {pos[2]:.10f} {half[el]:.1f} {half[el]:.1f}")
    lines += ["Atoms.SpeciesAndCoordinates>", "Atoms.UnitVectors.Unit Ang", "<Atoms.UnitVectors"]
    lines += [f" {v[0]:.10f} {v[1]:.10f} {v[2]:.10f}" for v in atoms.cell.array]
    lines += ["Atoms.UnitVectors>", ""]
    lines += [f"{k} {v}" for k, v in settings.keywords.items() if k.lower() != "scf.kgrid"]
    lines.append(f"scf.Kgrid {mesh[0]} {mesh[1]} {mesh[2]}")
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{system_name}.dat"
    atomic_write_text(path, "\n".join(lines) + "\n")
    return path


def perturbed_supercells(atoms: Atoms, reps: Sequence[int], n: int, sigma: float = 0.05,
                         strain: float = 0.0, seed: int = 0) -> list[Atoms]:
    """``n`` copies of ``atoms.repeat(reps)`` with Gaussian displacements and random strain.

    Args:
        sigma: standard deviation of each Cartesian displacement, Å (periodic directions and z alike).
        strain: each in-plane/periodic strain component uniform in [-strain, strain] (0.02 = 2 %);
            non-periodic cell vectors are not strained.
        seed: frames are reproducible: frame k uses ``numpy.random.default_rng([seed, k])``.
    """
    base = atoms.repeat(tuple(reps))
    pbc = np.asarray(base.pbc)
    frames = []
    for k in range(n):
        rng = np.random.default_rng([seed, k])
        frame = base.copy()
        eps = rng.uniform(-strain, strain, size=(3, 3)) if strain > 0 else np.zeros((3, 3))
        eps = 0.5 * (eps + eps.T) * np.outer(pbc, pbc)
        frame.set_cell(base.cell.array @ (np.eye(3) + eps), scale_atoms=True)
        frame.positions += rng.normal(0.0, sigma, size=frame.positions.shape)
        frames.append(frame)
    return frames


def trajectory_frames(trajectory: str | os.PathLike, every: int = 1, start: int = 0,
                      stop: int | None = None) -> list[Atoms]:
    """Frames ``start:stop:every`` of any trajectory ASE reads (``.traj``, ``.xyz``, XDATCAR, ...)."""
    return read_structures(trajectory, slice(start, stop, every))


def prepare_runs(structures: Iterable[Atoms], root: str | os.PathLike, settings: OpenMXSettings,
                 names: Sequence[str] | None = None, system_name: str = "openmx") -> list[Path]:
    """One folder per structure under ``root`` with its OpenMX input; returns the folders.

    Folders default to ``s0000``, ``s0001``, ...; existing finished runs are left untouched.
    """
    root = Path(root)
    folders = []
    for k, atoms in enumerate(structures):
        folder = root / (names[k] if names is not None else f"s{k:04d}")
        if not is_finished(folder, system_name):
            write_openmx_input(atoms, folder, settings, system_name)
        folders.append(folder)
    return folders


def is_finished(folder: str | os.PathLike, system_name: str = "openmx") -> bool:
    """True when ``folder`` holds a complete run: the .scfout and an .out log with its chemical potential."""
    folder = Path(folder)
    out, scfout = folder / f"{system_name}.out", folder / f"{system_name}.scfout"
    return scfout.is_file() and out.is_file() and "Chemical potential" in out.read_text(errors="replace")


def _openmx_command(openmx: str, nprocs: int, mpirun: str | None) -> list[str]:
    exe = shutil.which(openmx)
    if exe is None:
        raise OpenMXError(f"OpenMX binary {openmx!r} not found on PATH; install OpenMX 3.9 or pass openmx='/path/to/openmx'")
    if nprocs > 1:
        launcher = shutil.which(mpirun or "mpirun")
        if launcher is None:
            raise OpenMXError(f"{mpirun or 'mpirun'} not found on PATH; install MPI or use nprocs=1")
        return [launcher, "-np", str(nprocs), exe]
    return [exe]


def run_openmx(folder: str | os.PathLike, nprocs: int = 1, openmx: str = "openmx", mpirun: str | None = None,
               system_name: str = "openmx", threads: int = 1, timeout: float | None = None) -> Path:
    """Run OpenMX in ``folder`` (input ``<system_name>.dat``); returns the ``.scfout`` path.

    Raises OpenMXError naming the folder if the binary, DATA.PATH or the result is missing.
    """
    folder = Path(folder).resolve()
    dat = folder / f"{system_name}.dat"
    if not dat.is_file():
        raise OpenMXError(f"{folder}: no input {dat.name}")
    cmd = _openmx_command(openmx, nprocs, mpirun) + [dat.name]
    data_path = parse_openmx_input(dat.read_text(), str(dat))["keywords"].get("data.path", "./DFT_DATA19")
    data_dir = (folder / data_path) if not os.path.isabs(data_path) else Path(data_path)
    if not (data_dir / "PAO").is_dir() or not (data_dir / "VPS").is_dir():
        raise OpenMXError(f"{dat}: DATA.PATH {data_path} has no PAO/ and VPS/ folders (resolved to {data_dir}); "
                          "set OpenMXSettings(data_path=...) to your DFT_DATA19")
    env = dict(os.environ, OMP_NUM_THREADS=str(threads))
    with open(folder / f"{system_name}.std", "w") as log:
        proc = subprocess.run(cmd, cwd=folder, stdout=log, stderr=subprocess.STDOUT, env=env, timeout=timeout)
    if proc.returncode != 0 or not is_finished(folder, system_name):
        raise OpenMXError(f"{folder}: OpenMX failed (exit code {proc.returncode}); see {system_name}.std")
    return folder / f"{system_name}.scfout"


def run_openmx_all(folders: Sequence[str | os.PathLike], stop_on_error: bool = False, **kwargs) -> dict[str, list]:
    """Run every folder that is not finished yet (so an interrupted batch resumes), with a progress bar.

    Returns ``{"done": [...], "failed": [(folder, message), ...]}``; keyword arguments go to
    :func:`run_openmx`.
    """
    system_name = kwargs.get("system_name", "openmx")
    done, failed = [], []
    for folder in tqdm(list(folders), desc="OpenMX runs", unit="run"):
        if is_finished(folder, system_name):
            done.append(Path(folder))
            continue
        try:
            run_openmx(folder, **kwargs)
            done.append(Path(folder))
        except OpenMXError as err:
            if stop_on_error:
                raise
            failed.append((Path(folder), str(err)))
    return {"done": done, "failed": failed}
