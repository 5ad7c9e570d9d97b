"""Hyperparameter comparison on one corpus (default: the shared graphene 3x3): same data, split and epochs.

    python benchmarks/tune_model.py OUT_DIR [--epochs 40] [--threads 1] [--only NAME ...]
                                    [--corpus FOLDER ...] [--lr 1e-2]

Each variant trains from random weights with ase_deeph2.training for a fixed number of epochs (so
that CPU load from other work does not bias the comparison), then reports the training, validation
and test MAE (meV), the time per epoch, and the smoothness/precision figures of ``smoothness.py`` on
a flat 8x8 sheet (graphene models only). The last line is JSON.

Width on MoS2 (the data of mos2-openmx), e.g.::

    python benchmarks/tune_model.py /tmp/tune_mos2 --epochs 40 --only base C32 \
        --corpus ../shared/data/mos2_3x3 ~/deeph2-data/mos2_3x3/deeph

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

SHARED_DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
CORPUS = SHARED_DATA / "graphene3x3"
PAO = SHARED_DATA / "openmx" / "PAO"
#: The first-stage recipe of the shipped graphene model (examples/train_graphene.toml), for a fixed number of epochs.
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
    "rbf32": {"model": {"n_rbf": 32, "radial_hidden": 128}},  # finer radial basis, wider radial MLP
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
    parser.add_argument("--corpus", nargs="+", type=Path, default=[CORPUS], help="folders of OpenMX runs or DeepH folders")
    parser.add_argument("--lr", type=float, default=BASE["training"]["lr"])
    args = parser.parse_args()
    missing = [str(c) for c in args.corpus if not c.exists()]
    if missing:
        parser.error(f"corpus folder not found: {', '.join(missing)}")
    cache = args.out / "dataset.h5"
    results = {}
    for name, variant in VARIANTS.items():
        if args.only and name not in args.only:
            continue
        raw = merged(variant)
        raw["data"] = {"sources": [str(c.expanduser().resolve()) for c in args.corpus], "cache": str(cache),
                       "pao_dirs": [str(PAO)]}
        raw["training"].update({"epochs": args.epochs, "threads": args.threads, "lr": args.lr})
        raw["output"] = {"dir": str(args.out / name), "plots": False}
        cfg = config_from_dict(raw, base_dir=args.out)
        t0 = time.perf_counter()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            trainer = Trainer(cfg, resume=False, progress=False)
            trainer.log_epochs = False
            metrics = trainer.train()
        history = trainer.state["history"]
        carbon_only = set(trainer.model_config.elements) == {"C"}
        flat = measure(str(args.out / name / "model.pt"), 8) if carbon_only else None
        results[name] = {"smoothness": flat, "train_mae_meV": history[-1]["train_mae_meV"],
                         "val_mae_meV": metrics["validation_mae_meV"],
                         "test_mae_meV": metrics["test_set"]["mae_meV"],
                         "s_per_epoch": history[-1]["time_s"] / len(history),
                         "parameters": trainer.model.n_parameters(), "wall_s": time.perf_counter() - t0,
                         "val_curve": [round(h["val_mae_meV"], 3) for h in history]}
        r = results[name]
        print(f"{name:14s} train {r['train_mae_meV']:8.3f}  val {r['val_mae_meV']:8.3f} meV  test {r['test_mae_meV']:8.3f} meV  "
              f"{r['s_per_epoch']:6.1f} s/epoch  {r['parameters']} params", flush=True)
        if flat is not None:
            report(name, flat)
    print(json.dumps({"benchmark": "tune_model", "corpus": [str(c) for c in args.corpus], "epochs": args.epochs,
                      "results": results}))


if __name__ == "__main__":
    main()
