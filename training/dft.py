"""Checked training data from structures: OpenMX runs -> DeepH folders, resumable (``deeph2 dft``).

::

    from ase_deeph2.training.dft import corpus_structures, make_corpus
    from ase_deeph2.training.openmx_runs import OpenMXSettings

    frames = corpus_structures("graphene.xyz", supercell=(4, 4, 1), count=10, sigma=0.05, strain=0.02)
    settings = OpenMXSettings.for_elements({"C"}, data_path="DFT_DATA19")
    records = make_corpus(frames, "out/", settings, openmx="openmx", nprocs=2)

Layout of ``out/``:

* ``runs/sNNNN/``: the OpenMX input and results of structure NNNN (bulky cube and restart files
  removed once the run is converted);
* ``deeph/sNNNN/``: the DeepH folder (new format, with ``openmx.dat``), written only after the
  eigenvalues of the read H(k), S(k) equal OpenMX's own at its SCF k points to ``tolerance`` eV
  within E_F ± 10 eV, and only for a converged SCF;
* ``summary.json``: per run its status (``converted``, ``not converged``, ``mismatch``, ``failed``),
  SCF iterations, seconds, the eigenvalue deviation and the reason of any failure.

Running it again resumes: converted runs are skipped, finished runs are checked and converted, a
run that was interrupted is redone from a clean folder. Every file is written atomically, so an
interrupted batch (Ctrl-C) leaves nothing half-written in ``deeph/`` or ``summary.json``.
"""

from __future__ import annotations

import json
import os
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Callable, Sequence

import numpy as np
from ase import Atoms
from tqdm.auto import tqdm

from ase_deeph2.files import atomic_write_text
from ase_deeph2.io import eigenvalue_deviation, read_scf_history, read_scfout, read_structures, write_deeph

from .openmx_runs import (OpenMXError, OpenMXSettings, allow_openmx_runs, clean_outputs, is_finished, openmx_input,
                          perturb, run_openmx, stop_openmx_runs, write_openmx_input)

__all__ = ["RunRecord", "corpus_structures", "make_corpus", "parse_indices", "same_input", "EIGENVALUE_TOLERANCE"]

#: Largest |E_ours - E_openmx| (eV) within E_F ± 10 eV for a run to be converted.
EIGENVALUE_TOLERANCE = 1e-4


@dataclass
class RunRecord:
    """What happened to one structure.

    Attributes:
        name: ``sNNNN``.
        status: ``converted``, ``not converged``, ``mismatch`` (eigenvalues differ from OpenMX's),
            or ``failed`` (OpenMX did not finish).
        atoms: number of atoms.
        seconds: wall time of the OpenMX run (None if it ran in an earlier session and was not timed).
        scf_iterations: SCF steps.
        eigenvalue_deviation_eV: max |E_ours - E_openmx| within E_F ± 10 eV.
        reason: why a run was not converted.
    """

    name: str
    status: str
    atoms: int
    seconds: float | None = None
    scf_iterations: int | None = None
    eigenvalue_deviation_eV: float | None = None
    reason: str = ""


def corpus_structures(path: str | os.PathLike, supercell: Sequence[int] = (1, 1, 1), count: int | None = None,
                      sigma: float = 0.0, strain: float = 0.0, seed: int = 0, every: int = 1) -> list[Atoms]:
    """The structures of a corpus, reproducibly.

    A file with one structure gives ``count`` (default 1) copies of it repeated by ``supercell``; a
    trajectory (several frames) gives every ``every``-th frame, the first ``count`` of them (default
    all), repeated by ``supercell``. Each structure k is then perturbed by
    :func:`~ase_deeph2.training.openmx_runs.perturb` with ``numpy.random.default_rng([seed, k])``
    when ``sigma`` or ``strain`` is nonzero.
    """
    frames = read_structures(path)
    if not frames or len(frames[0]) == 0:
        raise ValueError(f"{path}: no atoms")
    if len(frames) == 1:
        frames = frames * int(count or 1)
    else:
        frames = frames[::int(every)][:count]
    out = []
    for k, frame in enumerate(frames):
        frame = frame.repeat(tuple(int(n) for n in supercell))
        if sigma > 0 or strain > 0:
            frame = perturb(frame, np.random.default_rng([seed, k]), sigma, strain)
        out.append(frame)
    return out


class _Summary:
    """summary.json, rewritten atomically after every run (thread-safe enough: one writer at a time)."""

    def __init__(self, path: Path):
        self.path = path
        self.records: dict[str, RunRecord] = {}
        if path.is_file():
            for item in json.loads(path.read_text()).get("runs", []):
                self.records[item["name"]] = RunRecord(**item)

    def put(self, record: RunRecord) -> None:
        self.records[record.name] = record
        counts: dict[str, int] = {}
        for r in self.records.values():
            counts[r.status] = counts.get(r.status, 0) + 1
        atomic_write_text(self.path, json.dumps({"counts": counts, "runs": [asdict(r) for r in sorted(
            self.records.values(), key=lambda r: r.name)]}, indent=1))


def parse_indices(spec: str) -> list[int]:
    """Structure indices from a list of numbers and ranges: ``"13-15,0-12"`` -> 13, 14, 15, 0, ..., 12."""
    out: list[int] = []
    for part in spec.split(","):
        first, dash, last = part.strip().partition("-")
        try:
            lo = int(first)
            hi = int(last) if dash else lo
        except ValueError:
            raise ValueError(f"--only expects numbers and ranges like 13-15,0-12, got {part!r}") from None
        if hi < lo:
            raise ValueError(f"--only: range {part!r} runs backwards")
        out.extend(range(lo, hi + 1))
    return out


def same_input(a: str, b: str, tolerance: float = 1e-6) -> bool:
    """Two OpenMX inputs are the same run: equal line by line, numbers equal within ``tolerance``
    (structure files store coordinates to a finite number of digits)."""
    lines_a, lines_b = a.strip().splitlines(), b.strip().splitlines()
    if len(lines_a) != len(lines_b):
        return False
    for la, lb in zip(lines_a, lines_b):
        ta, tb = la.split(), lb.split()
        if len(ta) != len(tb):
            return False
        for x, y in zip(ta, tb):
            if x == y:
                continue
            try:
                if abs(float(x) - float(y)) > tolerance:
                    return False
            except ValueError:
                return False
    return True


def _process(name: str, atoms: Atoms, out: Path, settings: OpenMXSettings, run: Callable[[Path], None],
             tolerance: float, previous: RunRecord | None) -> RunRecord:
    """Run (if needed), check and convert one structure."""
    folder, deeph = out / "runs" / name, out / "deeph" / name
    dat = folder / "openmx.dat"
    if dat.is_file() and not same_input(dat.read_text(), openmx_input(atoms, settings)):
        raise OpenMXError(f"{folder} holds a run of another input (another structure or settings); "
                          "use another output folder or delete it")
    if deeph.is_dir() and previous is not None and previous.status == "converted":
        return previous
    seconds = previous.seconds if previous is not None else None
    if not is_finished(folder):
        write_openmx_input(atoms, folder, settings)
        start = time.perf_counter()
        try:
            run(folder)
        except OpenMXError as err:
            return RunRecord(name, "failed", len(atoms), time.perf_counter() - start, None, None, str(err))
        seconds = time.perf_counter() - start
    history = read_scf_history(folder / "openmx.out")
    if not history.converged:
        return RunRecord(name, "not converged", len(atoms), seconds, history.iterations, None,
                         f"SCF stopped at NormRD {history.norm_rd:.3g} after {history.iterations} of "
                         f"{history.max_iterations} steps (criterion {history.criterion:g})")
    data = read_scfout(folder / "openmx.scfout")
    deviation = eigenvalue_deviation(data, folder / "openmx.out")
    if not deviation <= tolerance:
        return RunRecord(name, "mismatch", len(atoms), seconds, history.iterations, deviation,
                         f"eigenvalues differ from openmx.out by {deviation:.2e} eV (> {tolerance:g})")
    write_deeph(deeph, data, extra_files={"openmx.dat": dat.read_text()})
    clean_outputs(folder, keep_results=True)
    return RunRecord(name, "converted", len(atoms), seconds, history.iterations, deviation)


def make_corpus(structures: Sequence[Atoms], out: str | os.PathLike, settings: OpenMXSettings,
                openmx: str | None = None, nprocs: int = 1, jobs: int = 1, threads: int = 1,
                tolerance: float = EIGENVALUE_TOLERANCE, progress: bool = True,
                timeout: float | None = None, indices: Sequence[int] | None = None) -> list[RunRecord]:
    """Run OpenMX on every structure, check and convert each run (see the module docstring).

    Args:
        structures: the structures, in order (structure k goes to ``sNNNN`` with NNNN = k).
        out: the corpus folder.
        settings: the OpenMX settings (basis, pseudopotentials, DATA.PATH, keywords, k mesh).
        openmx: the OpenMX binary (default ``$DEEPH2_OPENMX`` or ``openmx`` on PATH).
        nprocs: MPI processes per run; threads: OpenMP/BLAS threads per process.
        jobs: runs at the same time.
        tolerance: eigenvalue agreement required for conversion (eV).
        timeout: seconds after which a run is abandoned (reported as failed).
        indices: only these structures, started in this order (default: all, in order), e.g. the
            held-out ones first.
    Returns: one record per structure run (also in ``out/summary.json``).
    """
    order = list(range(len(structures))) if indices is None else [int(k) for k in indices]
    bad = [k for k in order if not 0 <= k < len(structures)]
    if bad:
        raise ValueError(f"structure index {bad[0]} is outside the corpus of {len(structures)} structures")
    repeated = next((k for n, k in enumerate(order) if k in order[:n]), None)
    if repeated is not None:
        raise ValueError(f"structure index {repeated} is listed twice")
    out = Path(out)
    (out / "runs").mkdir(parents=True, exist_ok=True)
    summary = _Summary(out / "summary.json")

    def run(folder: Path) -> None:
        run_openmx(folder, nprocs=nprocs, openmx=openmx, threads=threads, timeout=timeout)

    def one(k: int) -> RunRecord:
        name = f"s{k:04d}"
        return _process(name, structures[k], out, settings, run, tolerance, summary.records.get(name))

    records: list[RunRecord] = []
    with tqdm(total=len(order), desc="OpenMX runs", unit="run", disable=not progress) as bar:
        def done(record: RunRecord) -> None:
            records.append(record)
            summary.put(record)
            bar.set_postfix_str(f"{record.name} {record.status}" +
                                (f" in {record.seconds:.0f} s" if record.seconds is not None else ""))
            bar.update()

        pool = ThreadPoolExecutor(max_workers=max(int(jobs), 1))
        try:
            for future in [pool.submit(one, k) for k in order]:
                done(future.result())
        except BaseException:  # Ctrl-C or SIGTERM: start no further run and stop the running ones
            pool.shutdown(wait=False, cancel_futures=True)
            stop_openmx_runs()
            raise
        finally:
            pool.shutdown(wait=True, cancel_futures=True)
            allow_openmx_runs()
    return sorted(records, key=lambda r: r.name)
