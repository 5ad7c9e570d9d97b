"""The training loop on real shared data: learning, exact resume after an interruption, outputs."""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import torch

from ase_deeph2.model import load_model
from ase_deeph2.training.loop import Trainer
from training_helpers import corpus_subset, make, tiny_config


def _weights(trainer):
    return {k: v.clone() for k, v in trainer.model.state_dict().items()}


def test_training_lowers_the_error_and_writes_its_outputs(tmp_path):
    corpus = corpus_subset(tmp_path)
    raw = tiny_config(tmp_path, [str(corpus)], epochs=6, ema_decay=0.9, schedule="plateau", batch_size=1, onsite_weight=4.0)
    raw["output"]["plots"] = True
    trainer = Trainer(make(raw, tmp_path), resume=False, progress=False)
    metrics = trainer.train()
    history = trainer.state["history"]
    assert history[-1]["train_mae_meV"] < 0.7 * history[0]["train_mae_meV"]
    out = tmp_path / "run"
    for name in ("model.pt", "checkpoint_last.pt", "checkpoint_best.pt", "log.csv", "learning_curves.png",
                 "orbital_mae.png", "metrics.json"):
        assert (out / name).is_file(), name
    assert len((out / "log.csv").read_text().splitlines()) == 7
    saved = json.loads((out / "metrics.json").read_text())
    assert saved["test_set"]["mae_meV"] == pytest.approx(metrics["test_set"]["mae_meV"])
    assert set(saved["shell_mae_meV"]["C-C"]) == {"00", "01", "02", "10", "11", "12", "20", "21", "22"}
    loaded = load_model(out / "model.pt", device="cpu")
    counts = np.asarray(loaded.metadata.domain.pair_counts["C-C"])
    seen = np.flatnonzero(counts) * loaded.metadata.domain.bin_width
    assert 1.2 < seen.min() < 1.6 and 5.5 < seen.max() < 2 * 3.18  # bonds up to the C6.0 + C6.0 cutoff
    assert set(loaded.metadata.domain.feature_mean) == {"C"} and loaded.metadata.valence_electrons == {"C": 4.0}
    assert loaded.metadata.training["validation_mae_meV"] == pytest.approx(trainer.state["best_val"])
    assert loaded.metadata.training["test_set"]["mae_meV"] == pytest.approx(metrics["test_set"]["mae_meV"])


def test_stop_mid_epoch_and_resume_reproduce_the_uninterrupted_run(tmp_path):
    corpus = corpus_subset(tmp_path)
    full = Trainer(make(tiny_config(tmp_path, [str(corpus)], out="full"), tmp_path), resume=False, progress=False)
    full.train()
    stopped = Trainer(make(tiny_config(tmp_path, [str(corpus)], out="cut", max_time_minutes=1e-9), tmp_path),
                      resume=False, progress=False)
    stopped.train()
    assert stopped.state["epoch"] == 0 and stopped.state["batch_in_epoch"] == 1  # stopped after one step
    resumed = Trainer(make(tiny_config(tmp_path, [str(corpus)], out="cut"), tmp_path), resume=True, progress=False)
    assert resumed.state["step"] == 1
    resumed.train()
    a, b = _weights(full), _weights(resumed)
    assert all(torch.equal(a[k], b[k]) for k in a)
    assert [h["val_mae_meV"] for h in full.state["history"]] == [h["val_mae_meV"] for h in resumed.state["history"]]


def test_killed_process_resumes_exactly(tmp_path):
    """SIGKILL a real `deeph2 train` after its first checkpoint; the resumed run equals an uninterrupted one."""
    import tomllib  # noqa: F401  (the CLI reads TOML)
    corpus = corpus_subset(tmp_path)

    def write(name, epochs):
        raw = tiny_config(tmp_path, [str(corpus)], out=name, epochs=epochs)
        lines = []
        for section, values in raw.items():
            lines.append(f"[{section}]")
            lines += [f"{k} = {json.dumps(v)}" for k, v in values.items()]
        path = tmp_path / f"{name}.toml"
        path.write_text("\n".join(lines) + "\n")
        return path

    cmd = [sys.executable, "-m", "ase_deeph2.cli", "train", "--no-progress"]
    ref_cfg, cut_cfg = write("ref", 6), write("killed", 6)
    subprocess.run(cmd + [str(ref_cfg)], check=True, capture_output=True)
    proc = subprocess.Popen(cmd + [str(cut_cfg)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    checkpoint = tmp_path / "killed" / "checkpoint_last.pt"
    deadline = time.time() + 120
    while not checkpoint.exists() and time.time() < deadline and proc.poll() is None:
        time.sleep(0.05)
    if proc.poll() is not None:
        pytest.skip("the run finished before it could be killed (machine too fast for this test)")
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    state = torch.load(checkpoint, weights_only=True)["state"]
    assert not state["finished"]
    subprocess.run(cmd + [str(cut_cfg)], check=True, capture_output=True)
    a = torch.load(tmp_path / "ref" / "checkpoint_last.pt", weights_only=True)
    b = torch.load(checkpoint, weights_only=True)
    assert b["state"]["finished"] and b["state"]["epoch"] == 6
    assert all(torch.equal(a["model"][k], b["model"][k]) for k in a["model"])


def test_resume_refuses_another_model(tmp_path):
    corpus = corpus_subset(tmp_path)
    Trainer(make(tiny_config(tmp_path, [str(corpus)], epochs=1), tmp_path), resume=False, progress=False).train()
    raw = tiny_config(tmp_path, [str(corpus)], epochs=2)
    raw["model"]["channels"] = 16
    with pytest.raises(ValueError, match="another model configuration"):
        Trainer(make(raw, tmp_path), resume=True, progress=False)


def test_fine_tuning_starts_from_the_given_model_and_refuses_another_architecture(tmp_path):
    corpus = corpus_subset(tmp_path, n=4)
    Trainer(make(tiny_config(tmp_path, [str(corpus)], out="first", epochs=1), tmp_path), resume=False,
            progress=False).train()
    first = load_model(tmp_path / "first" / "model.pt", device="cpu")
    raw = tiny_config(tmp_path, [str(corpus)], out="tuned", epochs=1, init_from="first/model.pt")
    tuned = Trainer(make(raw, tmp_path), resume=False, progress=False)
    for name, value in first.model.state_dict().items():
        assert torch.equal(tuned.model.state_dict()[name], value), name
    assert tuned.model.config.avg_neighbors == first.config.avg_neighbors  # fitted on the first run's data
    raw = tiny_config(tmp_path, [str(corpus)], out="averaged", epochs=1, init_from="first/model.pt", ema_decay=0.99)
    averaged = Trainer(make(raw, tmp_path), resume=False, progress=False)
    for name, value in first.model.state_dict().items():  # the average starts from the given model too
        assert torch.equal(averaged.ema.module.state_dict()[name], value), name
    raw = tiny_config(tmp_path, [str(corpus)], out="other", epochs=1, init_from=str(tmp_path / "first" / "model.pt"))
    raw["model"]["channels"] = 4
    with pytest.raises(ValueError, match=r"init_from .*channels \(8 vs 4\)"):
        Trainer(make(raw, tmp_path), resume=False, progress=False)
    # a deeper, wider or radially finer model grows from it (model.grow): it starts with the first one's blocks
    for out, changes, tol in (("deeper", {"n_blocks": 2}, 1e-9),  # the same float32 weights
                              ("wider", {"n_blocks": 2, "channels": 16, "hidden": 16}, 1e-5),  # split in float32
                              ("finer", {"n_rbf": 32, "radial_hidden": 128}, 1e-4)):  # the radial basis refitted
        raw = tiny_config(tmp_path, [str(corpus)], out=out, epochs=1, init_from="first/model.pt")
        raw["model"].update(changes)
        grown = Trainer(make(raw, tmp_path), resume=False, progress=False)
        graph, _ = grown.samples[grown.split.train[0]]
        with torch.no_grad():
            expected, got = first.model.double()(graph), grown.model.double()(graph)
        assert float((got - expected).abs().max()) <= tol * float(expected.abs().max()), out


def test_dataset_loss_average_weighs_every_entry_the_same_across_cell_sizes(tmp_path):
    corpus = corpus_subset(tmp_path, n=3)  # 18-atom cells
    (corpus / "graphene_1x1").symlink_to(Path(__file__).parents[1] / "data" / "graphene_1x1")  # a 2-atom cell
    raw = tiny_config(tmp_path, [str(corpus)], epochs=1, batch_size=1, loss_average="dataset")
    raw["data"]["split"] = [1.0, 0.0, 0.0]
    trainer = Trainer(make(raw, tmp_path), resume=False, progress=False)
    entries = {}  # real block entries of each structure, counted from the DFT matrices themselves
    for i in range(len(trainer.structures)):
        record = trainer.structures[i]
        n = record.hamiltonian.orbital_counts  # orbitals per atom
        entries[i] = int(sum(n[a] * n[b] for a, b in record.hamiltonian.pairs[:, 3:5]))
    assert sorted(entries.values())[0] < sorted(entries.values())[-1] / 5
    mean = np.mean([entries[int(i)] for i in trainer.split.train])
    assert trainer.mean_train_entries == pytest.approx(mean)
    for i in trainer.split.train:  # one structure per batch: the same divisor for every cell size
        assert trainer._loss_normaliser(torch.tensor(float(entries[int(i)]))) == pytest.approx(mean)
    trainer.cfg.training.loss_average = "batch"  # the mean over each batch's own entries
    for i in trainer.split.train:
        assert trainer._loss_normaliser(torch.tensor(float(entries[int(i)]))) == entries[int(i)]
    trainer.cfg.training.loss_average = "dataset"
    trainer.train()  # end to end with the constant divisor
    assert np.isfinite(trainer.state["history"][-1]["train_mae_meV"])


def test_unknown_loss_average_is_refused(tmp_path):
    raw = tiny_config(tmp_path, ["corpus"], loss_average="atoms")
    with pytest.raises(ValueError, match="loss_average must be 'batch' or 'dataset', got 'atoms'"):
        make(raw, tmp_path)
