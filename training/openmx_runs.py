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
import threading
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Iterable, Sequence

import numpy as np
from ase import Atoms
from ase.calculators.calculator import kptdensity2monkhorstpack
from tqdm.auto import tqdm

from ase_deeph2.basis import ElementBasis
from ase_deeph2.files import atomic_write_text
from ase_deeph2.io import parse_openmx_input, read_structures

__all__ = [
    "DEFAULT_BASIS",
    "OpenMXSettings",
    "perturb",
    "vacuum_directions",
    "OpenMXError",
    "openmx_input",
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


#: OpenMX's standard DFT_DATA19 bases of the elements in ``../shared/tools/openmx`` (others: pass one).
DEFAULT_BASIS = {"H": "H6.0-s2p1", "B": "B7.0-s2p2d1", "C": "C6.0-s2p2d1", "N": "N6.0-s2p2d1", "O": "O6.0-s2p2d1",
                 "Si": "Si7.0-s2p2d1", "S": "S7.0-s2p2d1", "Se": "Se7.0-s3p2d2", "Mo": "Mo7.0-s3p2d2",
                 "W": "W7.0-s3p2d2", "Te": "Te7.0-s3p2d2"}

#: Files of a finished run that training does not need (charge densities, potentials, restart data).
BULKY_OUTPUTS = ("*.cube", "*_rst", "*.bulk.xyz", "*.md", "*.md2", "*.dat#", "*.UCell", "*.cif", "*.ene")


@dataclass
class OpenMXSettings:
    """Everything of an OpenMX input except the structure.

    Attributes:
        basis: element -> OpenMX basis string, e.g. ``{"C": "C6.0-s2p2d1"}``.
        vps: element -> pseudopotential name; default ``"<El>_PBE19"`` (DFT_DATA19).
        data_path: the DFT_DATA19 folder (with ``PAO/`` and ``VPS/``); needed to run, and to read
            valence electrons from the VPS files when ``valence_electrons`` is not given.
        valence_electrons: element -> electrons of its pseudopotential (initial spin densities).
        kpts: Monkhorst-Pack mesh; ``None`` chooses one from ``kpoint_density`` (k-points per Å⁻¹,
            2π included, ASE's rule); non-periodic and vacuum directions get 1 k-point. The default
            3.0 gives the shared data's meshes: 9x9 for graphene 1x1, 3x3 for 3x3 supercells.
        keywords: further OpenMX keywords written verbatim (defaults are those of the shared runs).
    """

    basis: dict[str, str]
    vps: dict[str, str] = field(default_factory=dict)
    data_path: str | None = None
    valence_electrons: dict[str, float] = field(default_factory=dict)
    kpts: tuple[int, int, int] | None = None
    kpoint_density: float = 3.0
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
        "orbitalOpt.Force.Skip": "on",
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

    @classmethod
    def for_elements(cls, elements, basis: dict[str, str] | None = None, **kwargs) -> "OpenMXSettings":
        """Settings for these elements: ``basis`` where given, else :data:`DEFAULT_BASIS`; further
        fields as keyword arguments. An element with no basis raises a ValueError that says so."""
        basis = dict(basis or {})
        missing = sorted(set(elements) - set(basis) - set(DEFAULT_BASIS))
        if missing:
            raise ValueError(f"no default OpenMX basis for {missing}: pass one per element, e.g. --basis "
                             f"{missing[0]}={missing[0]}7.0-s2p2d1")
        return cls(basis={el: basis.get(el, DEFAULT_BASIS.get(el)) for el in sorted(set(elements))}, **kwargs)

    def check_data(self, elements) -> None:
        """Raise OpenMXError if ``data_path`` lacks the PAO or VPS file of an element."""
        if self.data_path is None:
            raise OpenMXError("no DATA.PATH: set data_path to the DFT_DATA19 folder (with PAO/ and VPS/)")
        root = Path(self.data_path)
        for el in sorted(set(elements)):
            pao = root / "PAO" / f"{ElementBasis.from_string(self.basis[el], element=el).pao_name}.pao"
            vps = root / "VPS" / f"{self.vps_name(el)}.vps"
            for path, what in ((pao, "radial basis (PAO)"), (vps, "pseudopotential (VPS)")):
                if not path.is_file():
                    raise OpenMXError(f"DATA.PATH {root} has no {what} file {path.name} for {el}")

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
        """The k-mesh for ``atoms``: ``kpts`` if set, else from ``kpoint_density`` (1 along vacuum axes)."""
        if self.kpts is not None:
            return tuple(int(k) for k in self.kpts)
        periodic = atoms.copy()
        periodic.pbc = np.asarray(atoms.pbc, dtype=bool) & ~vacuum_directions(atoms)
        return tuple(int(m) for m in kptdensity2monkhorstpack(periodic, self.kpoint_density, even=False))


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


def openmx_input(atoms: Atoms, settings: OpenMXSettings, system_name: str = "openmx") -> str:
    """The OpenMX input text for ``atoms`` (Å) with ``HS.fileout on``.

    Atoms without a basis in ``settings`` raise a ValueError naming them.
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
    return "\n".join(lines) + "\n"


def write_openmx_input(atoms: Atoms, folder: str | os.PathLike, settings: OpenMXSettings,
                       system_name: str = "openmx") -> Path:
    """Write ``folder/<system_name>.dat`` (:func:`openmx_input`) atomically; returns its path."""
    return atomic_write_text(Path(folder) / f"{system_name}.dat", openmx_input(atoms, settings, system_name))


def vacuum_directions(atoms: Atoms, gap: float = 5.0) -> np.ndarray:
    """(3,) bool: cell directions that are not periodic, or along which the atoms leave an empty
    slab at least ``gap`` Å thick (the vacuum of a 2D sheet written with pbc all True)."""
    out = ~np.asarray(atoms.pbc, dtype=bool)
    if len(atoms) == 0 or atoms.cell.rank < 3:
        return np.ones(3, dtype=bool)
    frac = np.sort(atoms.get_scaled_positions(wrap=True), axis=0)
    volume = abs(np.linalg.det(atoms.cell.array))
    for i in range(3):
        gaps = np.diff(np.concatenate([frac[:, i], frac[:1, i] + 1.0]))
        spacing = volume / np.linalg.norm(np.cross(*np.delete(atoms.cell.array, i, axis=0)))  # between lattice planes
        out[i] |= gaps.max() * spacing >= gap
    return out


def perturb(atoms: Atoms, rng: np.random.Generator, sigma: float = 0.05, strain: float = 0.0) -> Atoms:
    """A copy of ``atoms`` with a random strain, then Gaussian displacements.

    Args:
        sigma: standard deviation of each Cartesian displacement, Å.
        strain: each strain component uniform in [-strain, strain] (0.02 = 2 %), symmetrised, along
            the periodic directions that are not vacuum (:func:`vacuum_directions`).
    """
    frame = atoms.copy()
    periodic = ~vacuum_directions(atoms)
    eps = rng.uniform(-strain, strain, size=(3, 3)) if strain > 0 else np.zeros((3, 3))
    eps = 0.5 * (eps + eps.T) * np.outer(periodic, periodic)
    frame.set_cell(atoms.cell.array @ (np.eye(3) + eps), scale_atoms=True)
    frame.positions += rng.normal(0.0, sigma, size=frame.positions.shape)
    return frame


def perturbed_supercells(atoms: Atoms, reps: Sequence[int], n: int, sigma: float = 0.05,
                         strain: float = 0.0, seed: int = 0) -> list[Atoms]:
    """``n`` copies of ``atoms.repeat(reps)`` perturbed by :func:`perturb`; frame k uses
    ``numpy.random.default_rng([seed, k])``, so frames are reproducible one by one."""
    base = atoms.repeat(tuple(reps))
    return [perturb(base, np.random.default_rng([seed, k]), sigma, strain) for k in range(n)]


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


#: How to get OpenMX, for error messages.
INSTALL_HINT = ("install OpenMX 3.9 (source and DFT_DATA19 at https://www.openmx-square.org), or on this project's "
                "machines run ../shared/tools/openmx/install-runtime.sh and pass ../shared/tools/openmx/bin/openmx")


def find_openmx(openmx: str | None = None) -> str:
    """The OpenMX binary: ``openmx`` (a path or a name on PATH), else ``$DEEPH2_OPENMX``, else
    ``openmx`` on PATH; an OpenMXError says how to install it."""
    name = openmx or os.environ.get("DEEPH2_OPENMX") or "openmx"
    exe = shutil.which(name)
    if exe is None:
        raise OpenMXError(f"OpenMX binary {name!r} not found: {INSTALL_HINT}")
    return exe


def default_data_path(openmx: str | None = None) -> Path | None:
    """DFT_DATA19 beside the binary's folder (``bin/../DFT_DATA19``, as in ../shared/tools/openmx), or
    ``$OPENMX_DATA_PATH``; None if neither exists."""
    candidates = [os.environ.get("OPENMX_DATA_PATH")]
    try:
        candidates.append(str(Path(find_openmx(openmx)).resolve().parent.parent / "DFT_DATA19"))
    except OpenMXError:
        pass
    for c in candidates:
        if c and (Path(c) / "PAO").is_dir() and (Path(c) / "VPS").is_dir():
            return Path(c)
    return None


def _openmx_command(openmx: str | None, nprocs: int, mpirun: str | None) -> list[str]:
    exe = find_openmx(openmx)
    if nprocs > 1:
        launcher = shutil.which(mpirun or "mpirun")
        if launcher is None:
            raise OpenMXError(f"{mpirun or 'mpirun'} not found on PATH; install MPI or use one process (np 1)")
        return [launcher, "-np", str(nprocs), exe]
    return [exe]


def clean_outputs(folder: str | os.PathLike, system_name: str = "openmx", keep_results: bool = False) -> None:
    """Remove OpenMX's outputs from ``folder``: all of them but the input (a run to redo), or with
    ``keep_results`` only the bulky ones (:data:`BULKY_OUTPUTS`) of a finished run."""
    folder = Path(folder)
    patterns = BULKY_OUTPUTS if keep_results else (f"{system_name}*", "*.cube", "*_rst")
    for pattern in patterns:
        for path in folder.glob(pattern):
            if path.name == f"{system_name}.dat":
                continue
            shutil.rmtree(path) if path.is_dir() else path.unlink()


#: the OpenMX processes started by run_openmx that still run (any thread)
_RUNNING: set[subprocess.Popen] = set()
_RUNNING_LOCK = threading.Lock()
_STOPPING = threading.Event()


def _stop(proc: subprocess.Popen, grace: float = 10.0) -> None:
    """Terminate ``proc`` (mpirun passes the signal on to its ranks), killing it after ``grace`` s."""
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=grace)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def stop_openmx_runs() -> int:
    """Terminate every OpenMX run started by :func:`run_openmx` in this process that is still running
    (a batch being stopped; their folders are redone by the next call), and start no new one until
    :func:`allow_openmx_runs`. Returns how many were stopped."""
    with _RUNNING_LOCK:
        _STOPPING.set()
        running = [p for p in _RUNNING if p.poll() is None]
    for proc in running:
        _stop(proc)
    return len(running)


def allow_openmx_runs() -> None:
    """Let :func:`run_openmx` start runs again after :func:`stop_openmx_runs`."""
    _STOPPING.clear()


def run_openmx(folder: str | os.PathLike, nprocs: int = 1, openmx: str | None = None, mpirun: str | None = None,
               system_name: str = "openmx", threads: int = 1, timeout: float | None = None) -> Path:
    """Run OpenMX in ``folder`` (input ``<system_name>.dat``) from a clean folder; returns the ``.scfout``.

    Outputs of an earlier, interrupted run are removed first. MPI runs as root are allowed (as in
    containers) and may use more processes than cores. Raises OpenMXError naming the folder if the
    binary, its libraries, DATA.PATH or the result is missing.
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
    clean_outputs(folder, system_name)
    env = dict(os.environ, OMP_NUM_THREADS=str(threads), OPENBLAS_NUM_THREADS=str(threads),
               OMPI_ALLOW_RUN_AS_ROOT="1", OMPI_ALLOW_RUN_AS_ROOT_CONFIRM="1", OMPI_MCA_rmaps_base_oversubscribe="1")
    with open(folder / f"{system_name}.std", "w") as log:
        with _RUNNING_LOCK:  # no new run once a batch is being stopped
            if _STOPPING.is_set():
                raise OpenMXError(f"{folder}: not started, the batch is being stopped")
            proc = subprocess.Popen(cmd, cwd=folder, stdout=log, stderr=subprocess.STDOUT, env=env)
            _RUNNING.add(proc)
        try:
            proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            _stop(proc)
            raise OpenMXError(f"{folder}: OpenMX stopped after the time limit of {timeout:g} s") from None
        finally:
            with _RUNNING_LOCK:
                _RUNNING.discard(proc)
    if proc.returncode != 0 or not is_finished(folder, system_name):
        tail = (folder / f"{system_name}.std").read_text(errors="replace")[-2000:]
        if "error while loading shared libraries" in tail:
            raise OpenMXError(f"{folder}: OpenMX cannot load its libraries: {INSTALL_HINT}")
        last = next((ln.strip() for ln in reversed(tail.splitlines()) if ln.strip()), "")
        raise OpenMXError(f"{folder}: OpenMX failed (exit code {proc.returncode}): {last[:200]}")
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
