"""Accuracy of a model against DFT on structures it was not trained on: H errors, bands, Fermi level.

    python benchmarks/pretrained_accuracy.py [--model graphene-openmx] [--card card.json]

Held-out structures: the test split of the training corpus (names from the model's metadata),
and the OpenMX runs in ../shared/data/openmx/runs of the model's elements (graphene 1x1: a cell
smaller than any training cell; graphene 3x3 perturbed: a new seed, unstrained). For each: MAE of
H(R) over all block entries (meV), eigenvalue errors at the OpenMX k mesh for the states within
±1 eV of E_F and for all occupied states (meV), and the Fermi level error (meV), both calculators
using the same k mesh. With ``--card`` the numbers are merged into that JSON file (the model card).
"""

from __future__ import annotations

import argparse
import json
import warnings
from pathlib import Path

import numpy as np

from ase_deeph2 import DeepH2Calculator, HamiltonianCalculator
from ase_deeph2.io import read_deeph, read_scfout
from ase_deeph2.io.openmx import parse_openmx_input

SHARED = Path(__file__).resolve().parents[2] / "shared" / "data"


def held_out(calc: DeepH2Calculator) -> dict[str, object]:
    """name -> HamiltonianData of the held-out structures available here."""
    meta = calc.loaded.metadata
    trained = {Path(n).name for n in meta.get("trained_on", [])}
    validation = {Path(n).name for n in meta.get("validation_on", [])}
    out = {}
    corpus = SHARED / "graphene3x3"
    if corpus.is_dir():
        for folder in sorted(corpus.iterdir()):
            if folder.is_dir() and folder.name not in trained and folder.name not in validation:
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")  # the corpus' orbital order is repaired with a warning
                    out[folder.name] = read_deeph(folder)
    for run in ("graphene_1x1", "graphene_3x3_perturbed"):
        path = SHARED / "openmx" / "runs" / run / "openmx.scfout"
        if path.is_file():
            out[run] = read_scfout(path)
    return out


def mesh_of(data) -> tuple[int, int, int]:
    text = data.info.get("input_text") or ""
    if text:
        kw = parse_openmx_input(text, data.source)["keywords"]
        if "scf.kgrid" in kw:
            return tuple(int(x) for x in kw["scf.kgrid"].split()[:3])
    return (3, 3, 1)


def compare(calc: DeepH2Calculator, data) -> dict:
    h_pred = calc.get_hamiltonian(data.atoms)
    h_dft = data.hamiltonian
    mae = h_pred.error_stats(h_dft)["mae"] * 1000
    kpts = {"size": mesh_of(data), "gamma": False}
    dft = HamiltonianCalculator.from_data(data, kpts=kpts, symmetry=False)
    pred = DeepH2Calculator(calc.loaded, kpts=kpts, symmetry=False, check_domain=False)
    atoms = data.atoms.copy()
    atoms.calc = pred
    ef_dft, ef_pred = dft.get_fermi_level(), pred.get_fermi_level()
    e_dft, e_pred = dft.results["eigenvalues"], pred.results["eigenvalues"]
    near = np.abs(e_dft - ef_dft) < 1.0
    occupied = e_dft < ef_dft
    return {"atoms": len(data.atoms), "h_mae_meV": mae,
            "bands_within_1eV_of_EF_max_meV": float(np.abs(e_pred - e_dft)[near].max() * 1000),
            "bands_within_1eV_of_EF_mae_meV": float(np.abs(e_pred - e_dft)[near].mean() * 1000),
            "occupied_bands_mae_meV": float(np.abs(e_pred - e_dft)[occupied].mean() * 1000),
            "fermi_level_error_meV": float((ef_pred - ef_dft) * 1000)}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--model", default="graphene-openmx")
    parser.add_argument("--card", type=Path, default=None)
    args = parser.parse_args()
    calc = DeepH2Calculator(args.model, device="cpu", dtype="float64")
    results = {}
    for name, data in held_out(calc).items():
        results[name] = r = compare(calc, data)
        print(f"{name:28s} {r['atoms']:4d} atoms: H MAE {r['h_mae_meV']:6.2f} meV | bands within 1 eV of E_F: "
              f"MAE {r['bands_within_1eV_of_EF_mae_meV']:6.2f}, max {r['bands_within_1eV_of_EF_max_meV']:6.1f} meV | "
              f"occupied MAE {r['occupied_bands_mae_meV']:6.2f} meV | E_F {r['fermi_level_error_meV']:+6.1f} meV",
              flush=True)
    corpus = [r for n, r in results.items() if n.startswith("graphene3x3")]
    summary = {"held_out": results}
    if corpus:
        summary["test_split_h_mae_meV"] = float(np.mean([r["h_mae_meV"] for r in corpus]))
        summary["test_split_bands_near_EF_mae_meV"] = float(np.mean([r["bands_within_1eV_of_EF_mae_meV"] for r in corpus]))
        print(f"test split ({len(corpus)} structures): H MAE {summary['test_split_h_mae_meV']:.2f} meV, bands near E_F "
              f"MAE {summary['test_split_bands_near_EF_mae_meV']:.2f} meV")
    if args.card:
        card = json.loads(args.card.read_text()) if args.card.is_file() else {}
        card["accuracy"] = summary
        args.card.write_text(json.dumps(card, indent=1))
        print(f"updated {args.card}")
    print(json.dumps({"benchmark": "pretrained_accuracy", "model": args.model, **summary}))


if __name__ == "__main__":
    main()
