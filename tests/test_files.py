"""Atomic writes: readers never see a half-written file or folder; failures leave the old one intact."""

import os

import pytest

from ase_deeph2.files import atomic_folder, atomic_path, atomic_write_text


def test_a_failed_write_leaves_the_old_file_and_no_temporary(tmp_path):
    path = atomic_write_text(tmp_path / "a.txt", "old")
    with pytest.raises(RuntimeError):
        with atomic_path(path) as tmp:
            tmp.write_text("half")
            raise RuntimeError("killed")
    assert path.read_text() == "old" and sorted(p.name for p in tmp_path.iterdir()) == ["a.txt"]
    atomic_write_text(path, "new")
    assert path.read_text() == "new"
    assert oct(path.stat().st_mode & 0o777) == oct(0o666 & ~_umask())


def test_folders_are_replaced_whole(tmp_path):
    with atomic_folder(tmp_path / "f") as tmp:
        (tmp / "x").write_text("1")
    with pytest.raises(ValueError):
        with atomic_folder(tmp_path / "f") as tmp:
            (tmp / "y").write_text("2")
            raise ValueError("interrupted")
    assert sorted(p.name for p in (tmp_path / "f").iterdir()) == ["x"]
    with atomic_folder(tmp_path / "f") as tmp:
        (tmp / "z").write_text("3")
    assert sorted(p.name for p in (tmp_path / "f").iterdir()) == ["z"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["f"]


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask
