"""Writing OpenMX inputs from ase.Atoms and driving OpenMX (with a stand-in binary: OpenMX is not installed here)."""

from __future__ import annotations

import stat
import sys
from pathlib import Path

import numpy as np
import pytest
from ase import Atoms
from ase.build import graphene

from ase_deeph2.io import parse_openmx_input
from ase_deeph2.training.openmx_runs import (OpenMXError, OpenMXSettings, is_finished, perturbed_supercells,
                                             prepare_runs, run_openmx, run_openmx_all, trajectory_frames,
                                             write_openmx_input)
from conftest import run_dir


@pytest.fixture
def settings() -> OpenMXSettings:
    return OpenMXSettings.from_dat(run_dir("graphene_1x1") / "openmx.dat")


def test_settings_from_dat_reproduce_the_reference_input(settings, tmp_path):
    ref = run_dir("graphene_1x1") / "openmx.dat"
    assert settings.basis == {"C": "C6.0-s2p2d1"} and settings.vps == {"C": "C_PBE19"}
    assert settings.valence("C") == 4.0 and settings.kpts == (9, 9, 1)
    ref_text = ref.read_text()
    parsed = parse_openmx_input(ref_text)
    cell = np.array([[2.46, 0, 0], [-1.23, 2.1304224933, 0], [0, 0, 15.0]])
    atoms = Atoms("C2", positions=[[0, 0, 7.5], [0, 1.4202816622, 7.5]], cell=cell, pbc=True)
    path = write_openmx_input(atoms, tmp_path, settings)
    mine = parse_openmx_input(path.read_text())
    assert mine["species"] == parsed["species"] and mine["atom_species"] == parsed["atom_species"]
    for key, value in parsed["keywords"].items():
        if key not in ("system.name", "band.dispersion", "band.nkpath"):
            assert mine["keywords"][key].split() == value.split(), key
    assert "hs.fileout" in mine["keywords"] and mine["keywords"]["hs.fileout"] == "on"


def test_kpoint_density_mesh_and_bad_basis(tmp_path):
    s = OpenMXSettings(basis={"C": "C6.0-s2p2d1"}, valence_electrons={"C": 4}, kpoint_density=4.0)
    g = graphene(vacuum=7.5)
    g.pbc = (True, True, False)
    assert s.mesh_for(g)[2] == 1 and s.mesh_for(g)[0] == s.mesh_for(g)[1] >= 9
    with pytest.raises(ValueError, match="basis"):
        OpenMXSettings(basis={"C": "C6.0-x2"})
    with pytest.raises(ValueError, match=r"no basis for element\(s\) \['N'\]"):
        g2 = g.copy(); g2[0].symbol = "N"
        write_openmx_input(g2, tmp_path, s)
    with pytest.raises(OpenMXError, match="valence electrons of C unknown"):
        OpenMXSettings(basis={"C": "C6.0-s2p2d1"}).valence("C")


def test_perturbed_supercells_are_reproducible_and_strained():
    g = graphene(vacuum=7.5)
    g.pbc = (True, True, False)
    a = perturbed_supercells(g, (3, 3, 1), n=3, sigma=0.05, strain=0.02, seed=7)
    b = perturbed_supercells(g, (3, 3, 1), n=3, sigma=0.05, strain=0.02, seed=7)
    assert len(a) == 3 and len(a[0]) == 18
    assert all(np.array_equal(x.positions, y.positions) for x, y in zip(a, b))
    ideal = g.repeat((3, 3, 1))
    assert not np.allclose(a[0].cell.array, ideal.cell.array)
    assert np.allclose(a[0].cell.array[2], ideal.cell.array[2])  # vacuum direction untouched
    strain = np.linalg.solve(ideal.cell.array[:2, :2], a[0].cell.array[:2, :2]) - np.eye(2)
    assert np.abs(strain).max() <= 0.02 + 1e-12


def _fake_openmx(tmp_path: Path, source_run: Path) -> Path:
    """A stand-in `openmx` that 'computes' by copying a real run's outputs (tests the driver only)."""
    script = tmp_path / "bin" / "openmx"
    script.parent.mkdir()
    script.write_text(f"""#!{sys.executable}
import shutil, sys
stem = sys.argv[1].rsplit('.', 1)[0]
for ext in ('scfout', 'out'):
    shutil.copy('{source_run}/openmx.' + ext, stem + '.' + ext)
print('fake OpenMX done')
""")
    script.chmod(script.stat().st_mode | stat.S_IEXEC)
    return script


def test_prepare_and_run_with_a_stand_in_binary(tmp_path, settings, monkeypatch):
    data = tmp_path / "DFT_DATA19"
    (data / "PAO").mkdir(parents=True)
    (data / "VPS").mkdir()
    settings.data_path = str(data)
    g = graphene(a=2.46, vacuum=7.5)
    frames = perturbed_supercells(g, (1, 1, 1), n=2, sigma=0.01, seed=1)
    folders = prepare_runs(frames, tmp_path / "runs", settings)
    assert [f.name for f in folders] == ["s0000", "s0001"]
    assert not any(is_finished(f) for f in folders)
    with pytest.raises(OpenMXError, match="not found: install OpenMX 3.9"):
        run_openmx(folders[0], openmx="definitely-not-openmx")
    fake = _fake_openmx(tmp_path, run_dir("graphene_1x1"))
    result = run_openmx_all(folders, openmx=str(fake))
    assert len(result["done"]) == 2 and not result["failed"]
    assert all(is_finished(f) for f in folders)
    # a second call resumes: nothing to run, finished inputs are not rewritten
    before = (folders[0] / "openmx.dat").stat().st_mtime_ns
    prepare_runs(frames, tmp_path / "runs", settings)
    assert (folders[0] / "openmx.dat").stat().st_mtime_ns == before


def test_missing_data_path_is_named(tmp_path, settings):
    settings.data_path = str(tmp_path / "nowhere")
    g = graphene(a=2.46, vacuum=7.5)
    folder = prepare_runs([g], tmp_path / "runs", settings)[0]
    fake = _fake_openmx(tmp_path, run_dir("graphene_1x1"))
    with pytest.raises(OpenMXError, match="has no PAO/ and VPS/"):
        run_openmx(folder, openmx=str(fake))


def test_trajectory_frames(tmp_path):
    from ase.io import write
    g = graphene(vacuum=7.5)
    frames = perturbed_supercells(g, (2, 2, 1), n=5, sigma=0.02)
    write(tmp_path / "md.traj", frames)
    got = trajectory_frames(tmp_path / "md.traj", every=2)
    assert len(got) == 3 and np.allclose(got[1].positions, frames[2].positions)
