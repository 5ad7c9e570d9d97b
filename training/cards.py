"""Ship a trained model: copy ``run/model.pt`` into the package's model zoo with its card.

    python -m ase_deeph2.training.cards RUN_DIR NAME --summary "one line" [--data "..."]
                                        [--dft-cpu-hours H] [--note "..."]

The card (``ase_deeph2/pretrained/NAME.json``) is written from what the run recorded: the model's
configuration and parameter count, the training record in the model file (split, recipe, best
epoch), ``metrics.json`` (held-out errors, per shell), the learning curve of ``log.csv`` and the
training time in CPU-hours (threads x wall time). ``benchmarks/pretrained_accuracy.py --card``
then adds the errors on the held-out OpenMX runs; they are kept when the card is rewritten for the
same model file (same SHA-256) and dropped for a new one.
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import json
import shutil
from dataclasses import asdict
from pathlib import Path

from ase_deeph2.files import atomic_path, atomic_write_text
from ase_deeph2.model import load_model
from ase_deeph2.pretrained import HERE

__all__ = ["write_card", "learning_curve"]


def learning_curve(log: Path, marks_minutes=(5, 10, 20, 30, 45, 60, 90, 120, 150, 180)) -> dict:
    """Best validation MAE (meV) reached by each wall-clock mark, from a run's ``log.csv``."""
    rows = list(csv.DictReader(log.open()))
    out, best = {}, float("inf")
    for mark in marks_minutes:
        for r in rows:
            if float(r["time_s"]) <= 60 * mark and r["val_mae_meV"] not in ("", "None"):
                best = min(best, float(r["val_mae_meV"]))
        if rows and float(rows[-1]["time_s"]) >= 60 * mark:
            out[f"{mark} min"] = round(best, 3)
    out["end"] = round(min(float(r["val_mae_meV"]) for r in rows if r["val_mae_meV"] not in ("", "None")), 3)
    return out


def write_card(run: Path, name: str, summary: str, data: str = "", dft_cpu_hours: float | None = None,
               note: str = "") -> Path:
    """Copy ``run/model.pt`` to the zoo as NAME.pt and write NAME.json (see the module docstring)."""
    loaded = load_model(run / "model.pt", device="cpu")
    metrics = json.loads((run / "metrics.json").read_text())
    record = loaded.metadata.training
    recipe = record.get("recipe", {})
    threads = int(recipe.get("threads") or 1)
    minutes = metrics["elapsed_s"] / 60
    card = {
        "name": name, "summary": summary,
        "elements": loaded.config.elements, "basis": loaded.config.basis,
        "parameters": loaded.model.n_parameters(), "model": loaded.config.to_dict(),
        "data": data, "trained_on": len(record.get("trained_on", [])),
        "validation_on": len(record.get("validation_on", [])), "test_on": len(record.get("test_on", [])),
        "training": {"recipe": recipe, "epochs": metrics["epochs"], "best_epoch": metrics["best_epoch"],
                     "stop_reason": metrics["stop_reason"], "minutes": round(minutes, 1),
                     "cpu_hours": round(threads * minutes / 60, 2), "threads": threads},
        "dft_cpu_hours": dft_cpu_hours,
        "validation_mae_meV": metrics["validation_mae_meV"],
        "split_errors": {k: v for k, v in metrics.items() if k.endswith("_set")},
        "shell_mae_meV": metrics.get("shell_mae_meV"),
        "learning_curve_validation_mae_meV": learning_curve(run / "log.csv"),
        "domain": "pair distances seen in training (histograms, ±0.05 Å) and the network's final invariant "
                  "node features per element (Mahalanobis distance up to 1.5x the training maximum)",
        "valence_electrons": loaded.metadata.valence_electrons,
        "note": note,
    }
    if loaded.metadata.interlayer is not None:  # eV Å^2 per electron: the calculator's interlayer step
        card["interlayer_coupling"] = asdict(loaded.metadata.interlayer)
    card["sha256"] = hashlib.sha256((run / "model.pt").read_bytes()).hexdigest()
    target = HERE / f"{name}.pt"
    with atomic_path(target) as tmp:
        shutil.copyfile(run / "model.pt", tmp)
    path = HERE / f"{name}.json"
    old = json.loads(path.read_text()) if path.is_file() else {}
    if old.get("sha256") == card["sha256"]:  # the same model: the figures the benchmarks measured stay
        for keep in ("held_out", "size_transfer"):
            if keep in old:
                card[keep] = old[keep]
    return atomic_write_text(path, json.dumps(card, indent=1))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("run", type=Path)
    parser.add_argument("name")
    parser.add_argument("--summary", required=True)
    parser.add_argument("--data", default="")
    parser.add_argument("--dft-cpu-hours", type=float, default=None)
    parser.add_argument("--note", default="")
    args = parser.parse_args()
    print(write_card(args.run, args.name, args.summary, args.data, args.dft_cpu_hours, args.note))


if __name__ == "__main__":
    main()
