"""Electronic structure along an MD trajectory: per frame E_F, gap, DOS near E_F (``deeph2 md``).

::

    from ase_deeph2.trajectory import analyse_trajectory
    rows = analyse_trajectory("md.traj", "graphene-openmx", "md_out/", every=10)

Writes, as it goes (so an interrupted run resumes where it stopped, skipping finished frames):

* ``frames.csv``: one row per frame: index, time (if the trajectory has it), atoms, E_F (eV),
  gap (eV, 0 for a metal), metal (0/1), DOS at E_F (states/eV/cell), states within ±window of
  E_F (per cell), the energy range the DOS is valid in, out-of-domain findings, seconds;
* ``dos.npz``: ``energies`` (E - E_F grid, eV), ``dos`` (frames x grid, states/eV/cell; NaN where
  the computed states do not reach: a sparse window), ``frames`` (indices);
* ``gap_vs_frame.png`` and ``dos_vs_frame.png`` (a heat map of the DOS near E_F).

Each frame's structure check and out-of-domain warnings are collected, not repeated: the CSV
names what was found and the end of the run summarises it.
"""

from __future__ import annotations

import csv
import io
import time
import warnings
from dataclasses import asdict, dataclass, fields
from os import PathLike
from pathlib import Path

import numpy as np
from tqdm.auto import tqdm

from .files import atomic_path, atomic_write_text
from .io import read_structures

__all__ = ["FrameResult", "analyse_trajectory", "frame_selection"]


@dataclass
class FrameResult:
    """The electronic structure of one frame (energies in eV; DOS in states/eV/cell)."""

    frame: int
    time: float | None
    atoms: int
    fermi_level: float
    gap: float
    metal: int
    dos_at_fermi: float
    states_in_window: float
    dos_valid_from: float
    dos_valid_to: float
    domain: str
    seconds: float


def frame_selection(n_frames: int, frames: str | None, every: int) -> list[int]:
    """Frame indices of ``frames`` ("a:b" or "a:" or ":b", Python slice syntax; a single "k" is one
    frame), every ``every``-th."""
    if not frames:
        chosen = range(n_frames)
    elif ":" in frames:
        a, b = frames.split(":", 1)
        chosen = range(n_frames)[slice(int(a) if a.strip() else None, int(b) if b.strip() else None)]
    else:
        chosen = [range(n_frames)[int(frames)]]
    return list(chosen)[::max(1, int(every))]


def _done_rows(path: Path) -> list[FrameResult]:
    if not path.is_file():
        return []
    rows = []
    types = {f.name: f.type for f in fields(FrameResult)}
    with path.open() as fh:
        for row in csv.DictReader(fh):
            values = {}
            for key, text in row.items():
                t = types[key]
                values[key] = (None if text == "" else float(text)) if t == "float | None" else \
                    (int(float(text)) if t == "int" else (text if t == "str" else float(text)))
            rows.append(FrameResult(**values))
    return rows


def _write_rows(path: Path, rows: list[FrameResult]) -> None:
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=[f.name for f in fields(FrameResult)])
    writer.writeheader()
    for r in sorted(rows, key=lambda r: r.frame):
        writer.writerow({k: ("" if v is None else v) for k, v in asdict(r).items()})
    atomic_write_text(path, buf.getvalue())


def analyse_trajectory(trajectory: str | PathLike, model, out: str | PathLike, every: int = 1,
                       frames: str | None = None, window: float = 0.5, width: float = 0.05, kpts=None,
                       method: str = "auto", nbands: int | None = None, progress: bool = True,
                       local: dict | None = None, **calculator_kwargs) -> list[FrameResult]:
    """Per-frame electronic structure of a trajectory (any format ASE reads); see the module docstring.

    Args:
        model: a shipped model's name, a model file, or a loaded model.
        window: half-width (eV) of the energy window around E_F for the DOS and the state count.
        width: Gaussian broadening of the DOS (eV).
        kpts, method, nbands: as for :class:`~ase_deeph2.calculator.DeepH2Calculator` (large
            supercells get Γ only from the default density); ``method="local"`` takes E_F and the
            DOS from local clusters (:mod:`ase_deeph2.electronic.local`: linear scaling, for cells
            too large to factorise; no gap is reported then).
        local: ``{"core_size": ..., "buffer": Å}`` for ``method="local"``.
    Returns: the rows of every selected frame (done now or before).
    """
    from .calculator import DeepH2Calculator, OutOfDomainWarning
    from .plotting import new_axes, save_figure

    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    all_frames = read_structures(trajectory)
    selected = frame_selection(len(all_frames), frames, every)
    if not selected:
        raise ValueError(f"{trajectory}: no frames selected (it has {len(all_frames)}; frames={frames!r}, every={every})")
    rows = {r.frame: r for r in _done_rows(out / "frames.csv") if r.frame in selected}
    grid = np.linspace(-window, window, 201)
    stored = np.load(out / "dos.npz") if (out / "dos.npz").is_file() else None
    curves = {int(f): d for f, d in zip(stored["frames"], stored["dos"])} if stored is not None and \
        np.array_equal(stored["energies"], grid) else {}
    todo = [i for i in selected if i not in rows or i not in curves]
    kw = dict(calculator_kwargs, method="auto" if method == "local" else method, kpts=kpts)
    if nbands is not None:
        kw["nbands"] = nbands
    calc = DeepH2Calculator(model, **kw) if todo else None
    findings = []
    for index in tqdm(todo, desc="frames", unit="frame", disable=not progress):
        t0 = time.perf_counter()
        atoms = all_frames[index]
        atoms.calc = calc
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always", OutOfDomainWarning)
            if method == "local":
                ef, gap_value, metal, curve, states, lo, hi = _local_frame(calc, atoms, grid, window, width, local or {})
            else:
                ef, gap_value, metal, curve, states, lo, hi = _mesh_frame(calc, grid, window, width)
        report = calc.domain_report
        domain = "; ".join(report.messages()) if report else "inside"
        if report:
            findings.append((index, domain))
        time_value = atoms.info.get("time")
        rows[index] = FrameResult(index, None if time_value is None else float(time_value), len(atoms), ef,
                                  gap_value, metal, float(np.interp(0.0, grid, curve)), states,
                                  max(lo - ef, -window), min(hi - ef, window), domain,
                                  time.perf_counter() - t0)
        curves[index] = curve
        _write_rows(out / "frames.csv", list(rows.values()))
        order = sorted(curves)
        with atomic_path(out / "dos.npz", suffix=".npz") as tmp:
            np.savez(tmp, energies=grid, dos=np.array([curves[i] for i in order]), frames=np.array(order))
        for w in caught:
            if not issubclass(w.category, OutOfDomainWarning):
                warnings.warn(w.message, w.category, stacklevel=2)
    done = [rows[i] for i in selected]
    _plots(done, grid, curves, out, new_axes, save_figure)
    if findings:
        warnings.warn(f"{len(findings)} of {len(todo)} frames left the model's training domain (first: frame "
                      f"{findings[0][0]}: {findings[0][1]}); see the 'domain' column of {out / 'frames.csv'}",
                      OutOfDomainWarning, stacklevel=2)
    return done


def _mesh_frame(calc, grid: np.ndarray, window: float, width: float) -> tuple:
    """E_F, gap, metal, DOS on ``grid`` (E - E_F; NaN beyond a sparse window), states in the window,
    and the range of the computed states, from the calculator's k mesh."""
    es = calc.electronic_structure()
    mesh = es.on_mesh(calc.fermi_spec())
    ef = mesh.fermi_level
    gap = es.band_gap(calc.fermi_spec(), special_points=False)
    energies, dos = es.dos(calc.fermi_spec(), ef - window, ef + window, len(grid), width)
    eig = mesh.eigenvalues
    lo = float(np.nanmax(eig[..., 0])) if mesh.method == "sparse" else -np.inf
    hi = float(np.nanmin(np.nanmax(eig, axis=2))) if mesh.method == "sparse" else np.inf
    curve = np.where((energies >= lo + 3 * width) & (energies <= hi - 3 * width), dos["total"], np.nan)
    inside = (np.abs(eig - ef) <= window) & np.isfinite(eig)
    states = float(es.spin_degeneracy * np.sum(inside * mesh.weights[None, :, None]))
    return ef, gap.gap, int(gap.metal), curve, states, lo, hi


def _local_frame(calc, atoms, grid: np.ndarray, window: float, width: float, options: dict) -> tuple:
    """The same from local clusters (no gap: NaN)."""
    from .electronic.local import local_spectrum

    h, s = calc.get_hamiltonian(), calc.get_overlap()
    spectrum = local_spectrum(h, s, atoms, calc.n_electrons, progress=False, **options)
    ef = spectrum.fermi_level
    _, curve = spectrum.dos(ef - window, ef + window, len(grid), width)
    states = float(spectrum.spin_degeneracy * spectrum.weights[np.abs(spectrum.energies - ef) <= window].sum())
    return ef, float("nan"), 0, curve, states, -np.inf, np.inf


def _plots(rows: list[FrameResult], grid: np.ndarray, curves: dict, out: Path, new_axes, save_figure) -> None:
    x = [r.time if r.time is not None else r.frame for r in rows]
    label = "time" if rows[0].time is not None else "frame"
    ax = new_axes((6, 3.6))
    ax.plot(x, [r.gap for r in rows], "o-", ms=3)
    ax.set_xlabel(label)
    ax.set_ylabel("band gap (eV)")
    ax.set_title("gap per frame (0: metal)")
    save_figure(ax.figure, out / "gap_vs_frame.png")
    ax = new_axes((6, 3.6))
    image = np.array([curves[r.frame] for r in rows])
    extent = [grid[0], grid[-1], -0.5, len(rows) - 0.5]
    im = ax.imshow(image, aspect="auto", origin="lower", extent=extent, cmap="magma")
    ax.figure.colorbar(im, ax=ax, label="DOS (states/eV/cell)")
    ax.set_xlabel(r"$E - E_F$ (eV)")
    ax.set_ylabel(f"{label} (row)")
    ax.set_title("DOS near the Fermi level per frame")
    save_figure(ax.figure, out / "dos_vs_frame.png")
