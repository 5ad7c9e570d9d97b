"""`deeph2 convert` over a tree of OpenMX runs."""

import shutil

import numpy as np

from ase_deeph2.cli import main
from ase_deeph2.io import read_deeph, read_scfout
from conftest import run_dir


def test_convert_tree_mirrors_runs_and_reports_failures(tmp_path, capsys):
    src = tmp_path / "runs"
    for name in ("graphene_1x1", "mos2_1x1"):
        shutil.copytree(run_dir(name), src / "batch" / name)
    (src / "broken").mkdir()
    (src / "broken" / "openmx.scfout").write_bytes(b"\0" * 100)
    code = main(["convert", str(src), str(tmp_path / "out")])
    out, err = capsys.readouterr()
    assert code == 1 and "failed 1" in out and "broken/openmx.scfout" in err
    converted = read_deeph(tmp_path / "out" / "batch" / "mos2_1x1")
    ref = read_scfout(run_dir("mos2_1x1") / "openmx.scfout")
    assert np.array_equal(converted.hamiltonian.data, ref.hamiltonian.data)
    assert main(["convert", str(src / "batch"), str(tmp_path / "out2"), "--legacy"]) == 0
    assert (tmp_path / "out2" / "graphene_1x1" / "hamiltonians.h5").is_file()
    assert main(["convert", str(src / "batch"), str(tmp_path / "out2"), "--legacy"]) == 0
    assert "skipped 2 existing" in capsys.readouterr().out


def test_convert_missing_source_is_one_line(tmp_path, capsys):
    assert main(["convert", str(tmp_path / "nope"), str(tmp_path / "out")]) == 1
    assert capsys.readouterr().err.strip() == f"deeph2 convert: error: {tmp_path / 'nope'} does not exist"
