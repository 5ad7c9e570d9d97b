"""Finding the structures under a folder tree: runs and DeepH folders, symlinks followed once."""

import os

from ase_deeph2.io.sources import DEEPH_MARKERS, find_sources


def test_symlink_loops_and_duplicate_links_give_each_structure_once(tmp_path):
    """A link inside a folder back to that folder (what `ln -sf` does when its target already exists)
    once made one structure count 36 times in a training set."""
    data = tmp_path / "data"
    for name in ("a", "b"):
        (data / name).mkdir(parents=True)
        (data / name / sorted(DEEPH_MARKERS)[0]).write_text("{}")
    (data / "a" / "a").symlink_to(data / "a")           # a loop
    (tmp_path / "tree").mkdir()
    (tmp_path / "tree" / "data").symlink_to(data)
    (tmp_path / "tree" / "again").symlink_to(data / "b")  # a second link to b
    (tmp_path / "tree" / "run").mkdir()
    (tmp_path / "tree" / "run" / "openmx.scfout").write_bytes(b"")
    found = find_sources(tmp_path / "tree")
    assert len(found) == 3 and len({os.path.realpath(p) for p in found}) == 3
    assert {os.path.realpath(p) for p in found} == {str(data / "a"), str(data / "b"), str(tmp_path / "tree" / "run")}
