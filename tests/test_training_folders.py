"""examples/link_training_folders.py and benchmarks/held_out.toml: one list of held-out runs decides both
what the benchmarks measure and what the training folders leave out."""

import importlib.util
import json
import tomllib
from pathlib import Path

import pytest

from ase_deeph2.pretrained import HERE as PRETRAINED, available

REPO = Path(__file__).resolve().parents[1]


def load_script(path: Path):
    spec = importlib.util.spec_from_file_location(path.stem, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def linker():
    return load_script(REPO / "examples" / "link_training_folders.py")


@pytest.fixture(scope="module")
def held_out():
    return load_script(REPO / "benchmarks" / "held_out.py")


def test_expand_spells_out_a_corpus_range(held_out):
    assert held_out.expand("@mos2_3x3 9-11,24") == [f"@mos2_3x3/deeph/s{k:04d}" for k in (9, 10, 11, 24)]
    assert held_out.expand("openmx/runs/mos2_1x1") == ["openmx/runs/mos2_1x1"]
    with pytest.raises(ValueError, match="only '@CORPUS INDICES'"):
        held_out.expand("openmx/runs 1-2")
    with pytest.raises(ValueError, match=r"held_out.toml: '@mos2_3x3 9-x'"):
        held_out.expand("@mos2_3x3 9-x")


def test_every_shipped_model_has_held_out_runs_and_its_card_was_measured_on_them(held_out):
    held_out = held_out.HELD_OUT
    for name in available():
        assert name in held_out, f"{name}: no entry in benchmarks/held_out.toml"
        card = json.loads((PRETRAINED / f"{name}.json").read_text())
        for group, figures in card["held_out"].items():
            measured = set(figures["structures"])
            assert measured <= set(held_out[name][group]), f"{name} {group}: card measured {measured - set(held_out[name][group])}"


def make_corpus(root: Path, name: str, n: int) -> None:
    for k in range(n):
        (root / name / "deeph" / f"s{k:04d}").mkdir(parents=True)


def test_training_folder_leaves_out_exactly_the_held_out_cells(linker, tmp_path):
    make_corpus(tmp_path, "mos2_3x3", 30)
    make_corpus(tmp_path, "mos2_1x1", 2)
    folder = tmp_path / "mos2_training"
    folder.mkdir()
    (folder / "3x3_s0010").symlink_to(tmp_path / "mos2_3x3" / "deeph" / "s0010")  # held out since: must go
    spec = {"model": "mos2-openmx", "corpora": {"3x3_": "@mos2_3x3", "1x1_": "@mos2_1x1", "2x2_": "@mos2_2x2"}}
    made = linker.link_training_folder("mos2_training", spec, tmp_path)
    names = sorted(p.name for p in folder.iterdir())
    held = {9, 10, 11, 24, 25, 26}
    assert names == ["1x1_s0000", "1x1_s0001"] + [f"3x3_s{k:04d}" for k in range(30) if k not in held]
    assert made == len(names) == 26
    assert (folder / "3x3_s0000").resolve() == (tmp_path / "mos2_3x3" / "deeph" / "s0000").resolve()


def test_training_folder_with_a_real_file_in_it_is_refused(linker, tmp_path):
    make_corpus(tmp_path, "mos2_1x1", 1)
    (tmp_path / "mos2_training").mkdir()
    (tmp_path / "mos2_training" / "notes.txt").write_text("mine")
    with pytest.raises(SystemExit, match="notes.txt.*links only"):
        linker.link_training_folder("mos2_training", {"model": "mos2-openmx", "corpora": {"1x1_": "@mos2_1x1"}}, tmp_path)
    assert (tmp_path / "mos2_training" / "notes.txt").read_text() == "mine"


def test_every_training_folder_names_a_model_with_held_out_runs(held_out):
    folders = tomllib.loads((REPO / "examples" / "training_folders.toml").read_text())
    assert {spec["model"] for spec in folders.values()} == set(available()) <= set(held_out.HELD_OUT)
