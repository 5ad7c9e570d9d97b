"""Electronic structure along a trajectory: rows that agree with a fresh calculator per frame, DOS
consistent with the state count, resume without recomputation, frame selection."""

import csv

import numpy as np
import pytest
from ase.build import graphene
from ase.io import read, write

from ase_deeph2 import DeepH2Calculator
from ase_deeph2.cli import main as deeph2
from ase_deeph2.trajectory import analyse_trajectory, frame_selection


@pytest.fixture(scope="module")
def trajectory(tmp_path_factory):
    sheet = graphene(a=2.46, vacuum=7.5).repeat((3, 3, 1))
    sheet.pbc = (True, True, False)
    frames = []
    for k in range(3):
        f = sheet.copy()
        f.positions += np.random.default_rng(k).normal(0, 0.03, f.positions.shape)
        f.info["time"] = 10.0 * k
        frames.append(f)
    path = tmp_path_factory.mktemp("md") / "md.extxyz"
    write(path, frames)
    return path, frames


def test_rows_agree_with_a_fresh_calculator_and_resume(trajectory, tiny_model_file, tmp_path):
    path, frames = trajectory
    rows = analyse_trajectory(path, tiny_model_file, tmp_path, window=1.0, kpts=(3, 3, 1), progress=False)
    assert [r.frame for r in rows] == [0, 1, 2] and [r.time for r in rows] == [0.0, 10.0, 20.0]
    for r, atoms in zip(rows, read(path, ":")):  # the frames as stored
        atoms.calc = DeepH2Calculator(tiny_model_file, kpts=(3, 3, 1))
        assert r.fermi_level == pytest.approx(atoms.calc.get_fermi_level(), abs=1e-9)
        assert r.atoms == 18 and r.dos_valid_from == -1.0 and r.dos_valid_to == 1.0
    saved = np.load(tmp_path / "dos.npz")
    assert saved["dos"].shape == (3, 201) and np.array_equal(saved["frames"], [0, 1, 2])
    inside = np.trapezoid(saved["dos"][0], saved["energies"])
    assert inside == pytest.approx(rows[0].states_in_window, abs=0.15 * rows[0].states_in_window + 0.5)
    with open(tmp_path / "frames.csv") as fh:
        assert len(list(csv.DictReader(fh))) == 3
    for name in ("gap_vs_frame.png", "dos_vs_frame.png"):
        assert (tmp_path / name).stat().st_size > 1000
    again = analyse_trajectory(path, tiny_model_file, tmp_path, window=1.0, kpts=(3, 3, 1), progress=False)
    assert [r.seconds for r in again] == [r.seconds for r in rows]  # nothing recomputed


def test_frame_selection():
    assert frame_selection(10, None, 3) == [0, 3, 6, 9]
    assert frame_selection(10, "2:5", 1) == [2, 3, 4] and frame_selection(10, "7:", 2) == [7, 9]
    assert frame_selection(10, "-1", 1) == [9]


def test_command_line(trajectory, tiny_model_file, tmp_path, capsys):
    path, _ = trajectory
    assert deeph2(["md", str(path), "--model", str(tiny_model_file), "-o", str(tmp_path), "--frames", "1:",
                   "--kpts", "3", "3", "1", "--no-progress"]) == 0
    out = capsys.readouterr().out
    assert "2 frames of 18 atoms" in out and (tmp_path / "frames.csv").is_file()
    assert deeph2(["md", str(tmp_path / "missing.traj"), "-o", str(tmp_path)]) == 1
    assert "does not exist" in capsys.readouterr().err


def test_local_clusters_count_the_electrons_of_each_frame(trajectory, tiny_model_file, tmp_path):
    path, _ = trajectory
    rows = analyse_trajectory(path, tiny_model_file, tmp_path, frames="0", window=30.0, method="local",
                              local={"core_size": 6, "buffer": 4.0}, progress=False)
    r = rows[0]
    assert np.isnan(r.gap) and np.isfinite(r.fermi_level)
    # with a window wider than the spectrum below E_F + 30 eV, the window holds the 72 electrons' states and more
    assert r.states_in_window > 72
