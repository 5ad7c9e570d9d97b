"""Does a graphene model transfer across cell sizes? H MAE on held-out 3x3, 4x4, 5x5 and 6x6 cells.

    DEEPH2_DATA=~/deeph2-data python benchmarks/size_transfer.py MODEL [MODEL ...] [--threads N]

Each model (a file or a shipped name) predicts graphene-openmx's held-out OpenMX
runs in ``held_out.toml`` (3x3: new seeds; 4x4: nineteen cells and 5x5: eleven
that the shipped model was not trained on; 6x6: two, a size it never saw). Printed: MAE (meV)
per size, on-site and off-site, and the ratio of each larger size's MAE to the 3x3 MAE (the goal: <= 1.1), each with
its standard error from the spread of the cells' own MAEs (± in the output). Held-out runs that are not here are
skipped with a line saying so. The last line is JSON.

A cell's error grows with how distorted it is, and a few cells of one size can be more distorted than a
few of another by chance (every size is made by the same generator: the same strain and σ, so the same
distribution of bond lengths in expectation). So each cell's nearest-neighbour bond-length spread (the
standard deviation of its C-C bonds under 1.8 Å) is measured too, and a least-squares fit of
log(cell MAE) = a + b log(spread) + c_size (c = 0 for 3x3) gives each larger size's factor exp(c_size):
its MAE over the 3x3 MAE at equal distortion, with its standard error from the fit's residuals.

``--fit`` adds the same figures on cells of each size from the shipped model's training folder (the shared
3x3 corpus, graphene_4x4 and graphene_5x5 of examples/make_training_data.sh; its 0.9/0.1 split by structure
may have kept one of them for validation): a model that fits its
larger training cells worse too is short of capacity (or of range); one that fits them as well but
transfers worse is short of data of that size.
"""

from __future__ import annotations

import argparse
import json

import numpy as np
import torch
from ase.neighborlist import neighbor_list

from ase_deeph2 import DeepH2Calculator
from ase_deeph2.training.metrics import ErrorAccumulator
from held_out import HELD_OUT
from pretrained_accuracy import add_errors, held_out_data

#: size -> three cells of the shipped graphene-openmx's training folder (for --fit)
TRAINED_ON = {
    "3x3": [f"graphene3x3/graphene3x3_s{k:04d}" for k in (4, 5, 6)],
    "4x4": [f"@graphene_4x4/deeph/s{k:04d}" for k in (0, 1, 2)],
    "5x5": [f"@graphene_5x5/deeph/s{k:04d}" for k in (0, 1, 2)],
}


def errors(calc: DeepH2Calculator, items: list[str]) -> dict | None:
    """MAE (meV) over the runs ``items`` that are here, None when none is; with each run's own MAE and
    the standard error of their mean (the cells differ: a few of them pin a mean down only so far)."""
    acc = ErrorAccumulator(calc.loaded.config.basis_set)
    per_cell, spread = [], []
    for _, data in held_out_data(items):
        predicted = add_errors(acc, calc, data)
        per_cell.append(predicted.error_stats(data.hamiltonian)["mae"] * 1000)
        spread.append(bond_spread(data.atoms))
    if not per_cell:
        return None
    s = acc.summary()
    sem = float(np.std(per_cell, ddof=1) / np.sqrt(len(per_cell))) if len(per_cell) > 1 else None
    return {"mae_meV": s["mae_meV"], "onsite_meV": s["onsite_mae_meV"], "offsite_meV": s["offsite_mae_meV"],
            "per_cell_meV": per_cell, "sem_meV": sem, "per_cell_bond_spread_A": spread}


def bond_spread(atoms, cutoff: float = 1.8) -> float:
    """Standard deviation (Å) of the nearest-neighbour bond lengths (pairs under ``cutoff`` Å) of a cell."""
    return float(np.std(neighbor_list("d", atoms, cutoff)))


def equal_distortion_factors(r: dict) -> dict:
    """Each larger size's MAE over the 3x3 MAE at equal bond-length spread, from the fit of
    log(cell MAE) = a + b log(spread) + c_size over all cells of ``r`` (size -> errors()): size ->
    {"factor", "sem"}, and "exponent" b. Empty when there are too few cells to fit."""
    sizes = [size for size in r if size != "3x3"]
    rows = [(size, m, d) for size in r for m, d in zip(r[size]["per_cell_meV"], r[size]["per_cell_bond_spread_A"])]
    x = np.array([[1.0, np.log(d)] + [float(size == other) for other in sizes] for size, _, d in rows])
    y = np.log([m for _, m, _ in rows])
    if len(y) <= x.shape[1]:
        return {}
    coef, *_ = np.linalg.lstsq(x, y, rcond=None)
    residual = float(np.sum((y - x @ coef) ** 2) / (len(y) - x.shape[1]))
    se = np.sqrt(np.diag(residual * np.linalg.inv(x.T @ x)))
    out = {"exponent": float(coef[1]), "exponent_sem": float(se[1]), "cells": len(y)}
    for k, size in enumerate(sizes, start=2):
        out[size] = {"factor": float(np.exp(coef[k])), "sem": float(np.exp(coef[k]) * se[k])}
    return out


def pm(sem: float | None, digits: int = 3) -> str:
    """' ± sem' for printing, empty for a single cell."""
    return "" if sem is None else f" ± {sem:.{digits}f}"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("models", nargs="+")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--fit", action="store_true", help="also the MAE per size on cells it was trained on")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    groups = {k: v for k, v in HELD_OUT["graphene-openmx"].items() if k in ("3x3", "4x4", "5x5", "6x6")}
    results = {}
    for model in args.models:
        calc = DeepH2Calculator(model, device="cpu", check_domain=False)
        r = {size: e for size, items in groups.items() if (e := errors(calc, items)) is not None}
        if "3x3" not in r:
            raise SystemExit("size_transfer: no held-out 3x3 run here (../shared/data or DEEPH2_DATA); the ratios need them")
        larger = [size for size in r if size != "3x3"]
        for size in larger:
            ratio = r[f"ratio_{size}"] = r[size]["mae_meV"] / r["3x3"]["mae_meV"]
            sems = (r[size]["sem_meV"], r["3x3"]["sem_meV"])
            r[f"ratio_{size}_sem"] = None if None in sems else ratio * float(
                np.hypot(sems[0] / r[size]["mae_meV"], sems[1] / r["3x3"]["mae_meV"]))
        results[model] = r
        line = "  ".join(f"{size} {r[size]['mae_meV']:.3f}{pm(r[size]['sem_meV'])} (on {r[size]['onsite_meV']:.2f}, off "
                         f"{r[size]['offsite_meV']:.3f})" for size in groups if size in r)
        ratios = ", ".join(f"{size} {r[f'ratio_{size}']:.2f}{pm(r[f'ratio_{size}_sem'], 2)}" for size in larger)
        print(f"{model}: {line}  | ratios {ratios}", flush=True)
        spreads = "  ".join(f"{size} {np.mean(r[size]['per_cell_bond_spread_A']):.4f} Å" for size in groups if size in r)
        fit = r["equal_distortion"] = equal_distortion_factors({size: r[size] for size in groups if size in r})
        if fit:
            factors = ", ".join(f"{size} {fit[size]['factor']:.2f} ± {fit[size]['sem']:.2f}" for size in larger)
            print(f"  bond-length spread per size {spreads} | MAE ∝ spread^{fit['exponent']:.2f}"
                  f"{pm(fit['exponent_sem'], 2)} over {fit['cells']} cells | ratios at equal spread {factors}", flush=True)
        if args.fit:
            fit = r["trained_on"] = {size: e for size, items in TRAINED_ON.items() if (e := errors(calc, items))}
            line = "  ".join(f"{size} {e['mae_meV']:.3f}{pm(e['sem_meV'])}" for size, e in fit.items())
            ratio = f" | ratio 4x4 {fit['4x4']['mae_meV'] / fit['3x3']['mae_meV']:.2f}" if {"3x3", "4x4"} <= fit.keys() else ""
            same = equal_distortion_factors(fit)
            if same:
                ratio += ", at equal spread " + ", ".join(f"{size} {same[size]['factor']:.2f} ± {same[size]['sem']:.2f}"
                                                          for size in fit if size != "3x3")
            print(f"  trained-on cells: {line}{ratio}", flush=True)
    print(json.dumps({"benchmark": "size_transfer", "results": results, "goal_ratio": 1.1,
                      "held_out": {k: len(v) for k, v in groups.items()}}))


if __name__ == "__main__":
    np.set_printoptions(precision=3)
    main()
