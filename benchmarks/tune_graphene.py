"""Hyperparameter comparison on the shared graphene 3x3 corpus: same data, split and epochs.

    python benchmarks/tune_graphene.py OUT_DIR [--epochs 40] [--threads 1] [--only NAME ...]

Each variant trains with ase_deeph2.training for a fixed number of epochs (so that CPU load from
other work does not bias the comparison), then reports the validation MAE (meV) and the time per
epoch. The last line is JSON.
"""

from __future__ import annotations

import argparse
import json
import time
import warnings
from pathlib import Path

from ase_deeph2.training.config import config_from_dict
from ase_deeph2.training.loop import Trainer

CORPUS = Path(__file__).resolve().parents[2] / "shared" / "data" / "graphene3x3"
BASE = {"model": {"channels": 16, "hidden": 16, "n_blocks": 2},
        "training": {"batch_size": 4, "lr": 3e-3, "warmup_epochs": 2, "loss": "mse"}}
VARIANTS = {
    "base_C16_B2": {},
    "C32_B2": {"model": {"channels": 32, "hidden": 32}},
    "C16_B3": {"model": {"n_blocks": 3}},
    "batch2": {"training": {"batch_size": 2}},
    "lr1e-2": {"training": {"lr": 1e-2}},
    "mse+mae": {"training": {"loss": "mse+mae"}},
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
        raw["data"] = {"sources": [str(CORPUS)], "cache": str(cache)}
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
        results[name] = {"val_mae_meV": metrics["validation_mae_meV"],
                         "test_mae_meV": metrics["test_set"]["mae_meV"],
                         "s_per_epoch": history[-1]["time_s"] / len(history),
                         "parameters": trainer.model.n_parameters(), "wall_s": time.perf_counter() - t0,
                         "val_curve": [round(h["val_mae_meV"], 3) for h in history]}
        print(f"{name:14s} val {results[name]['val_mae_meV']:8.3f} meV  test {results[name]['test_mae_meV']:8.3f} meV  "
              f"{results[name]['s_per_epoch']:6.1f} s/epoch  {results[name]['parameters']} params", flush=True)
    print(json.dumps({"benchmark": "tune_graphene", "epochs": args.epochs, "results": results}))


if __name__ == "__main__":
    main()
