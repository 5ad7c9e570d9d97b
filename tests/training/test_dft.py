"""``deeph2 dft`` with the real OpenMX: checked DeepH folders, resume, killed and non-converging runs,
and data -> model -> band structure end to end. Marked ``openmx`` (tiny runs: 4 atoms, 80 Ry)."""

from __future__ import annotations

import json
import os
import signal
import stat
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import scipy.linalg as sl
from ase.build import graphene

from ase_deeph2.cli import main as deeph2
from ase_deeph2.io import read_deeph, read_openmx_eigenvalues
from ase_deeph2.overlap import overlap_matrix
from ase_deeph2.training.dft import corpus_structures, make_corpus
from ase_deeph2.training.openmx_runs import OpenMXSettings
from conftest import openmx_binary, openmx_data_path, snap_kpts

pytestmark = pytest.mark.openmx

TINY = ["--supercell", "2", "1", "1", "--kpts", "3", "5", "1", "--set", "scf.energycutoff=80"]


def counting_wrapper(tmp_path: Path) -> tuple[Path, Path]:
    """An `openmx` that logs each call, then runs the real binary."""
    log = tmp_path / "calls.log"
    script = tmp_path / "openmx-counting"
    script.write_text(f"#!/bin/sh\necho run >> {log}\nexec {openmx_binary()} \"$@\"\n")
    script.chmod(script.stat().st_mode | stat.S_IEXEC)
    return script, log


@pytest.fixture(scope="module")
def batch(tmp_path_factory):
    """Three tiny perturbed graphene cells through `deeph2 dft` (about a minute)."""
    tmp = tmp_path_factory.mktemp("dft")
    structure = tmp / "graphene.xyz"
    graphene(a=2.46, vacuum=7.5).write(structure)
    wrapper, log = counting_wrapper(tmp)
    code = deeph2(["dft", str(structure), "-o", str(tmp / "out"), "--count", "3", "--openmx", str(wrapper),
                   "--data-path", str(openmx_data_path()), "--no-progress", *TINY])
    return {"code": code, "out": tmp / "out", "structure": structure, "wrapper": wrapper, "log": log}


def test_runs_become_deeph_folders_whose_eigenvalues_are_openmxs(batch):
    assert batch["code"] == 0
    summary = json.loads((batch["out"] / "summary.json").read_text())
    assert summary["counts"] == {"converted": 3}
    for name in ("s0000", "s0001", "s0002"):
        data = read_deeph(batch["out"] / "deeph" / name, orbital_order="check")
        ref = read_openmx_eigenvalues(batch["out"] / "runs" / name / "openmx.out")
        assert len(data.atoms) == 4 and (batch["out"] / "deeph" / name / "openmx.dat").is_file()
        for k, theirs in zip(snap_kpts(ref["kpts"], (3, 5, 1)), ref["eigenvalues"][0]):
            ours = sl.eigvalsh(data.hamiltonian.to_dense(k), data.overlap.to_dense(k))[:len(theirs)]
            near = np.abs(theirs - ref["chemical_potential"]) < 10
            assert np.abs(ours[near] - theirs[near]).max() < 1e-4
        assert not list((batch["out"] / "runs" / name).glob("*.cube"))  # bulky outputs removed


def test_exact_overlap_from_pao_equals_openmxs(batch):
    data = read_deeph(batch["out"] / "deeph" / "s0001")
    ours = overlap_matrix(data.atoms, data.basis, [openmx_data_path() / "PAO"])
    assert ours.aligned_to(data.overlap).error_stats(data.overlap)["max_abs"] < 1e-10


def test_a_second_call_resumes_without_running_openmx(batch):
    calls = batch["log"].read_text().count("run")
    code = deeph2(["dft", str(batch["structure"]), "-o", str(batch["out"]), "--count", "3", "--openmx",
                   str(batch["wrapper"]), "--data-path", str(openmx_data_path()), "--no-progress", *TINY])
    assert code == 0 and batch["log"].read_text().count("run") == calls


def test_another_input_in_the_same_folder_is_refused(batch, capsys):
    code = deeph2(["dft", str(batch["structure"]), "-o", str(batch["out"]), "--count", "3", "--seed", "5",
                   "--openmx", str(batch["wrapper"]), "--data-path", str(openmx_data_path()), "--no-progress", *TINY])
    assert code == 1 and "holds a run of another input" in capsys.readouterr().err


def test_only_runs_the_chosen_structures_under_their_own_names_and_seeds(batch, tmp_path, capsys):
    out = tmp_path / "subset"
    args = ["dft", str(batch["structure"]), "-o", str(out), "--count", "3", "--openmx", str(batch["wrapper"]),
            "--data-path", str(openmx_data_path()), "--no-progress", *TINY]
    assert deeph2([*args, "--only", "2"]) == 0
    assert sorted(p.name for p in (out / "runs").iterdir()) == ["s0002"]
    # the same structure and the same H as s0002 of the full corpus
    ours, full = read_deeph(out / "deeph" / "s0002"), read_deeph(batch["out"] / "deeph" / "s0002")
    assert np.abs(ours.atoms.positions - full.atoms.positions).max() < 1e-6
    assert ours.hamiltonian.error_stats(full.hamiltonian)["max_abs"] < 1e-6
    assert deeph2([*args, "--only", "1-5"]) == 1
    assert "structure index 3 is outside the corpus of 3 structures" in capsys.readouterr().err
    assert deeph2([*args, "--only", "2-a"]) == 1
    assert "--only expects numbers and ranges" in capsys.readouterr().err
    assert deeph2([*args, "--only", "0-2,1"]) == 1
    assert "structure index 1 is listed twice" in capsys.readouterr().err
    assert sorted(p.name for p in (out / "runs").iterdir()) == ["s0002"]


def _settings(**keywords) -> OpenMXSettings:
    s = OpenMXSettings.for_elements(["C"], data_path=str(openmx_data_path()), kpts=(3, 5, 1))
    s.keywords.update({"scf.energycutoff": "80", **keywords})
    return s


def test_a_run_killed_mid_scf_is_redone(tmp_path):
    structure = tmp_path / "g.xyz"
    graphene(a=2.46, vacuum=7.5).write(structure)
    frames = corpus_structures(structure, (2, 1, 1), 1, sigma=0.03, seed=2)
    code = ("from ase.io import read\n"
            "from ase_deeph2.training.dft import make_corpus\n"
            "from ase_deeph2.training.openmx_runs import OpenMXSettings\n"
            f"s = OpenMXSettings.for_elements(['C'], data_path={str(openmx_data_path())!r}, kpts=(3, 5, 1))\n"
            "s.keywords['scf.energycutoff'] = '80'\n"
            f"make_corpus([read({str(tmp_path / 'f.xyz')!r})], {str(tmp_path / 'out')!r}, s, "
            f"openmx={str(openmx_binary())!r}, progress=False)\n")
    frames[0].write(tmp_path / "f.xyz")
    proc = subprocess.Popen([sys.executable, "-c", code], start_new_session=True)
    std = tmp_path / "out" / "runs" / "s0000" / "openmx.std"
    deadline = time.time() + 120
    while time.time() < deadline and not (std.is_file() and "SCF=" in std.read_text(errors="replace")):
        time.sleep(0.2)
    os.killpg(proc.pid, signal.SIGKILL)  # the driver and OpenMX die mid-SCF
    proc.wait()
    assert not (tmp_path / "out" / "deeph" / "s0000").exists()
    from ase.io import read
    records = make_corpus([read(tmp_path / "f.xyz")], tmp_path / "out", _settings(), openmx=str(openmx_binary()),
                          progress=False)
    assert records[0].status == "converted" and (tmp_path / "out" / "deeph" / "s0000" / "hamiltonian.h5").is_file()


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_a_stopped_batch_stops_its_runs_and_starts_no_more(tmp_path, sig):
    """`kill` (SIGTERM) or SIGINT to a batch started in the background (where the shell ignores SIGINT)."""
    structure = tmp_path / "g.xyz"
    graphene(a=2.46, vacuum=7.5).write(structure)
    pids = tmp_path / "pids"
    slow = tmp_path / "openmx-slow"
    slow.write_text(f"#!/bin/sh\necho $$ >> {pids}\nexec sleep 120\n")
    slow.chmod(slow.stat().st_mode | stat.S_IEXEC)
    cmd = [sys.executable, "-m", "ase_deeph2.cli", "dft", str(structure), "-o", str(tmp_path / "out"), "--count", "4",
           "--jobs", "2", "--openmx", str(slow), "--data-path", str(openmx_data_path()), "--no-progress", *TINY]
    batch = subprocess.Popen(cmd, stderr=subprocess.PIPE, text=True,
                             preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_IGN))
    try:
        deadline = time.time() + 60
        while (not pids.is_file() or len(pids.read_text().split()) < 2) and time.time() < deadline:
            time.sleep(0.2)
        started = [int(p) for p in pids.read_text().split()]
        assert len(started) == 2
        batch.send_signal(sig)
        assert batch.wait(timeout=30) == 130 and "interrupted" in batch.stderr.read()
        time.sleep(0.5)
        for pid in started:  # both runs stopped, no third one started
            assert not Path(f"/proc/{pid}").exists() or "Z" in Path(f"/proc/{pid}/stat").read_text().split()[2]
        assert len(pids.read_text().split()) == 2
    finally:  # nothing left behind when the test fails
        batch.kill()
        for pid in (int(p) for p in pids.read_text().split()) if pids.is_file() else ():
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass


def test_a_run_that_does_not_converge_is_reported_not_converted(tmp_path):
    atoms = graphene(a=2.46, vacuum=7.5).repeat((2, 1, 1))
    records = make_corpus([atoms], tmp_path / "out", _settings(**{"scf.maxIter": "2"}), openmx=str(openmx_binary()),
                          progress=False)
    assert records[0].status == "not converged" and "after 2 of 2 steps" in records[0].reason
    assert not (tmp_path / "out" / "deeph").exists() or not any((tmp_path / "out" / "deeph").iterdir())
    summary = json.loads((tmp_path / "out" / "summary.json").read_text())
    assert summary["runs"][0]["status"] == "not converged"


def test_missing_binary_and_data_are_named(tmp_path, capsys):
    structure = tmp_path / "g.xyz"
    graphene(a=2.46, vacuum=7.5).write(structure)
    assert deeph2(["dft", str(structure), "-o", str(tmp_path / "o"), "--openmx", "no-such-openmx"]) == 1
    assert "install-runtime.sh" in capsys.readouterr().err
    assert deeph2(["dft", str(structure), "-o", str(tmp_path / "o"), "--openmx", str(openmx_binary()),
                   "--data-path", str(tmp_path)]) == 1
    assert "has no radial basis (PAO) file C6.0.pao for C" in capsys.readouterr().err
    assert deeph2(["dft", str(structure), "-o", str(tmp_path / "o"), "--openmx", str(openmx_binary()),
                   "--basis", "C=C6.0-x9"]) == 1
    assert "C6.0-x9" in capsys.readouterr().err


def test_data_to_model_to_band_structure(batch, tmp_path):
    """The whole loop: the three tiny runs train a tiny model that a calculator then uses."""
    from ase_deeph2 import DeepH2Calculator
    from ase_deeph2.training.config import config_from_dict
    from ase_deeph2.training.loop import Trainer

    raw = {"data": {"sources": [str(batch["out"] / "deeph")], "pao_dirs": [str(openmx_data_path() / "PAO")],
                    "split": [0.34, 0.33, 0.33]},
           "model": {"channels": 4, "hidden": 4, "n_blocks": 1, "n_heads": 1},
           "training": {"epochs": 2, "batch_size": 1, "threads": 1},
           "output": {"dir": str(tmp_path / "model"), "plots": False}}
    metrics = Trainer(config_from_dict(raw), progress=False).train()
    assert np.isfinite(metrics["test_set"]["mae_meV"])
    atoms = read_deeph(batch["out"] / "deeph" / "s0002").atoms
    atoms.calc = DeepH2Calculator(str(tmp_path / "model" / "model.pt"), kpts=(3, 5, 1))
    bands = atoms.calc.band_structure(npoints=20)  # the default path of this (oblique) cell
    assert bands.energies.shape[:2] == (1, 20) and np.isfinite(bands.energies).all()
    assert atoms.calc.loaded.metadata.valence_electrons == {"C": 4.0}
