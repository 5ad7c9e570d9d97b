"""Hyperparameter comparison on the shared graphene 3x3 corpus: same data, split and epochs.

    python benchmarks/tune_graphene.py OUT_DIR [--epochs 40] [--threads 1] [--only NAME ...]

Each variant trains with ase_deeph2.training for a fixed number of epochs (so that CPU load from
other work does not bias the comparison), then reports the validation and test MAE (meV), the
time per epoch, and the smoothness/precision figures of ``smoothness.py`` on a flat 8x8 sheet.
The last line is JSON.
"""

from __future__ import annotations

import argparse
import json
import time
import warnings
from pathlib import Path

from smoothness import measure, report

from ase_deeph2.training.config import config_from_dict
from ase_deeph2.training.loop import Trainer

CORPUS = Path(__file__).resolve().parents[2] / "shared" / "data" / "graphene3x3"
PAO = CORPUS.parent / "openmx" / "PAO"
#: The recipe of the shipped graphene model (examples/train_graphene.toml), for a fixed number of epochs.
BASE = {"model": {"channels": 16, "hidden": 16, "n_blocks": 2},
        "training": {"batch_size": 2, "lr": 1e-2, "warmup_epochs": 2, "loss": "mse+mae"}}
VARIANTS = {
    "base": {},  # norm "degree", eps 1e-2 (the default since this comparison)
    "norm_degree_eps1e-6": {"model": {"norm": "degree", "norm_eps": 1e-6}},  # before the smoothness fix
    "norm_joint_eps1e-4": {"model": {"norm": "joint", "norm_eps": 1e-4}},
    "norm_joint_eps1e-2": {"model": {"norm": "joint", "norm_eps": 1e-2}},
    "C32": {"model": {"channels": 32, "hidden": 32}},
    "B3": {"model": {"n_blocks": 3}},
    "mmax2": {"model": {"mmax": 2}},
    "ema": {"training": {"ema_decay": 0.99}},
}


def merged(variant: dict) -> dict:
    out = {k: dict(v) for k, v in BASE.items()}
    for section, values in variant.items():
        out.setdefault(section, {}).update(values)
    return out


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("out", type=Path)
    parser.add_argument("--epochs", type=int, default=40)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--only", nargs="*", default=None)
    args = parser.parse_args()
    cache = args.out / "dataset.h5"
    results = {}
    for name, variant in VARIANTS.items():
        if args.only and name not in args.only:
            continue
        raw = merged(variant)
        raw["data"] = {"sources": [str(CORPUS)], "cache": str(cache), "pao_dirs": [str(PAO)]}
        raw["training"].update({"epochs": args.epochs, "threads": args.threads})
        raw["output"] = {"dir": str(args.out / name), "plots": False}
        cfg = config_from_dict(raw, base_dir=args.out)
        t0 = time.perf_counter()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            trainer = Trainer(cfg, resume=False, progress=False)
            trainer.log_epochs = False
            metrics = trainer.train()
        history = trainer.state["history"]
        flat = measure(str(args.out / name / "model.pt"), 8)
        results[name] = {"smoothness": flat,"val_mae_meV": metrics["validation_mae_meV"],
                         "test_mae_meV": metrics["test_set"]["mae_meV"],
                         "s_per_epoch": history[-1]["time_s"] / len(history),
                         "parameters": trainer.model.n_parameters(), "wall_s": time.perf_counter() - t0,
                         "val_curve": [round(h["val_mae_meV"], 3) for h in history]}
        print(f"{name:14s} val {results[name]['val_mae_meV']:8.3f} meV  test {results[name]['test_mae_meV']:8.3f} meV  "
              f"{results[name]['s_per_epoch']:6.1f} s/epoch  {results[name]['parameters']} params", flush=True)
        report(name, flat)
    print(json.dumps({"benchmark": "tune_graphene", "epochs": args.epochs, "results": results}))


if __name__ == "__main__":
    main()
