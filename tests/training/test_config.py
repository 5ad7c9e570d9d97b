"""TOML configuration: defaults, validation messages naming the file and key."""

from dataclasses import asdict
from pathlib import Path

import pytest

from ase_deeph2.calculator import resolve_model
from ase_deeph2.model import ELCTConfig
from ase_deeph2.training.checkpoints import needs_growth
from ase_deeph2.training.config import load_config

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
EXAMPLE_CONFIGS = ["train_graphene.toml", "train_bilayer_graphene.toml", "train_mos2.toml"]


def test_minimal_config_and_relative_paths(tmp_path):
    (tmp_path / "c.toml").write_text('[data]\nsources = ["data"]\n[output]\ndir = "out"\n')
    cfg = load_config(tmp_path / "c.toml")
    assert cfg.source_paths == [tmp_path / "data"] and cfg.out_dir == tmp_path / "out"
    assert cfg.cache_path == tmp_path / "out" / "dataset.h5" and cfg.training.schedule == "cosine"


@pytest.mark.parametrize("text, message", [
    ('[data]\nsources = ["x"]\n[training]\nlearning_rate = 1\n', r"unknown key\(s\) \['learning_rate'\] in \[training\]"),
    ('[data]\nsources = ["x"]\n[training]\nschedule = "step"\n', "schedule must be 'cosine' or 'plateau'"),
    ('[data]\nsources = ["x"]\n[training]\nonsite_weight = 0\n', "onsite_weight must be > 0, got 0"),
    ('[training]\nepochs = 3\n', r"\[data\] sources = \[...\] is required"),
    ('[data]\nsources = ["x"]\n[trainig]\nepochs = 3\n', "unknown section"),
    ('[data\nsources = 1', "not valid TOML"),
])
def test_bad_configs_are_named(tmp_path, text, message):
    (tmp_path / "bad.toml").write_text(text)
    with pytest.raises(ValueError, match=message) as err:
        load_config(tmp_path / "bad.toml")
    assert "bad.toml" in str(err.value)


@pytest.mark.parametrize("name", EXAMPLE_CONFIGS)
def test_example_configurations_are_valid(name):
    cfg = load_config(EXAMPLES / name)
    assert cfg.training.epochs >= 1 and cfg.data.sources
    assert cfg.data.interlayer_step == (name == "train_bilayer_graphene.toml")


@pytest.mark.parametrize("name", EXAMPLE_CONFIGS)
def test_example_fine_tunes_match_the_model_they_start_from(name):
    """An example that fine-tunes a shipped model (training.init_from) must describe that model's
    architecture, or one it grows into (more blocks or radial functions, or channels / hidden / radial_hidden
    times a whole factor)."""
    cfg = load_config(EXAMPLES / name)
    if not cfg.training.init_from:
        pytest.skip(f"{name} trains from random weights")
    shipped = resolve_model(cfg.training.init_from, device="cpu").config
    mine = ELCTConfig(basis=shipped.basis, **asdict(cfg.model))
    needs_growth(mine.to_dict(), shipped.to_dict(), cfg.training.init_from)  # ValueError naming the fields if not
