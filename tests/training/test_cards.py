"""Model cards written from a finished run: the figures are the run's, stale benchmark figures go."""

import csv
import json

import pytest

from ase_deeph2.training import cards
from ase_deeph2.training.loop import Trainer
from training_helpers import corpus_subset, make, tiny_config


def test_card_is_written_from_the_run_and_drops_figures_of_another_model(tmp_path, monkeypatch):
    corpus = corpus_subset(tmp_path, n=4)
    Trainer(make(tiny_config(tmp_path, [str(corpus)], epochs=2), tmp_path), resume=False, progress=False).train()
    run = tmp_path / "run"
    zoo = tmp_path / "zoo"
    zoo.mkdir()
    monkeypatch.setattr(cards, "HERE", zoo)

    path = cards.write_card(run, "tiny", "a test model", data="4 shared runs")
    card = json.loads(path.read_text())
    metrics = json.loads((run / "metrics.json").read_text())
    rows = list(csv.DictReader((run / "log.csv").open()))
    assert (zoo / "tiny.pt").read_bytes() == (run / "model.pt").read_bytes()
    assert card["validation_mae_meV"] == pytest.approx(metrics["validation_mae_meV"])
    assert card["training"]["epochs"] == 2 and card["training"]["threads"] == 1
    assert card["training"]["cpu_hours"] == pytest.approx(metrics["elapsed_s"] / 3600, abs=0.006)
    assert card["learning_curve_validation_mae_meV"]["end"] == pytest.approx(
        min(float(r["val_mae_meV"]) for r in rows), abs=1e-3)
    assert card["elements"] == ["C"] and card["trained_on"] + card["validation_on"] + card["test_on"] == 4

    card["held_out"] = {"3x3": {"mae_meV": 1.0}}  # what benchmarks/pretrained_accuracy.py --card adds
    path.write_text(json.dumps(card))
    assert json.loads(cards.write_card(run, "tiny", "again").read_text())["held_out"] == card["held_out"]

    Trainer(make(tiny_config(tmp_path, [str(corpus)], out="run2", epochs=1), tmp_path),
            resume=False, progress=False).train()
    assert "held_out" not in json.loads(cards.write_card(tmp_path / "run2", "tiny", "new model").read_text())
