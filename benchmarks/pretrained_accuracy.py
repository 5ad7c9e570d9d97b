"""Accuracy of the shipped models against real OpenMX runs they never saw: H errors, bands, E_F, gaps.

    DEEPH2_DATA=~/deeph2-data python benchmarks/pretrained_accuracy.py [--model NAME ...] [--card]

For each model, the held-out structures listed in held_out.toml (DeepH folders made by ``deeph2 dft``
under ``$DEEPH2_DATA`` (default ~/deeph2-data), see ``examples/make_training_data.sh``, and runs in ../shared/data) are predicted
and compared with DFT:

* H: MAE over all block entries, on-site and off-site, per species pair and per (l1, l2) shell
  (meV); for bilayers also the interlayer blocks (atoms in different layers: a vertical gap over 2.5 Å);
* the on-site shift: the mean error of the on-site blocks' diagonal (meV), per cell and, for
  bilayers, its difference between the layers (an error in the interlayer potential step);
* bands at the run's own SCF k mesh: the states within ±1 eV of E_F (metals) or within 1 eV of
  the gap edges (insulators): MAE and max (meV), and the max once each spectrum is measured from
  its own VBM (insulators) or E_F (a rigid shift taken out); the Fermi level, and the gap with the
  k points of the band edges.

Results are printed per structure and per group (e.g. graphene 3x3 / 4x4 / 5x5); ``--card``
merges them into the model card (ase_deeph2/pretrained/NAME.json); ``--model RUN/model.pt --on NAME``
measures a candidate (or another model) on NAME's held-out runs. The last line is JSON.
"""

from __future__ import annotations

import argparse
import json
import warnings
from pathlib import Path

import numpy as np
import torch

from ase_deeph2 import DeepH2Calculator
from ase_deeph2.files import atomic_write_text
from ase_deeph2.electronic.interlayer import layer_index, layer_onsite_means as onsite_means, onsite_layer_step
from ase_deeph2.io import read_source, scf_mesh
from ase_deeph2.model import blocks_from_matrix, build_graph
from ase_deeph2.pretrained import HERE as PRETRAINED
from ase_deeph2.spectrum_errors import spectrum_errors
from ase_deeph2.training.metrics import ErrorAccumulator
from held_out import HELD_OUT, resolve


def held_out_data(items: list[str]):
    """(item, HamiltonianData) of each held-out run that is here; the others are named and skipped."""
    for item in items:
        path = resolve(item)
        if not path.exists():
            print(f"  (skipped {path}: not here; examples/make_training_data.sh remakes it)")
            continue
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # orbital-order repair of old corpora
            yield item, read_source(path)


def add_errors(acc: ErrorAccumulator, calc: DeepH2Calculator, data):
    """Add the errors of the predicted H of ``data.atoms`` against ``data.hamiltonian`` to ``acc``;
    returns the prediction (a BlockMatrix on the DFT pairs)."""
    predicted = calc.get_hamiltonian(data.atoms).aligned_to(data.hamiltonian)
    graph = build_graph(data.atoms, calc.loaded.config, pairs=data.hamiltonian.pairs)
    acc.add(graph, blocks_from_matrix(predicted, graph), blocks_from_matrix(data.hamiltonian, graph))
    return predicted


def h_errors(calc: DeepH2Calculator, data) -> dict:
    """MAE of the predicted H (meV): total, on/off-site, per species pair and (l1, l2) shell, interlayer."""
    acc = ErrorAccumulator(calc.loaded.config.basis_set)
    predicted = add_errors(acc, calc, data)
    summary = acc.summary()
    out = {"mae": summary["mae_meV"], "onsite": summary["onsite_mae_meV"], "offsite": summary["offsite_mae_meV"],
           "max": summary["max_meV"], "species_pairs": summary["species_pairs_meV"],
           "shells": {f"{acc.elements[a]}-{acc.elements[b]}": {f"{l1}{l2}": v for (l1, l2), v in acc.shell_mae(a, b).items()}
                      for a in range(len(acc.elements)) for b in range(len(acc.elements))
                      if float(acc.count[:, a, b].sum())}}
    layer = layers(data.atoms.positions[:, 2])
    inter = np.flatnonzero(layer[data.hamiltonian.pairs[:, 3]] != layer[data.hamiltonian.pairs[:, 4]])
    if len(inter):
        out["interlayer"] = predicted.select(inter).error_stats(data.hamiltonian.select(inter))["mae"] * 1000
    shift = layer_onsite_means(predicted, layer) - layer_onsite_means(data.hamiltonian, layer)
    out["onsite_shift"] = float(shift.mean())
    if len(shift) > 1:
        out["layer_potential_error"] = float(shift[-1] - shift[0])
    return out


def layer_onsite_means(matrix, layer: np.ndarray) -> np.ndarray:
    """Mean diagonal of the on-site blocks (meV) per layer, bottom first. Of an error, it is the part
    that is a potential shift, which moves the bands of a layer rigidly; its difference between the
    layers is the interlayer potential step."""
    return 1000 * onsite_means(matrix, layer)


def layer_step(matrix, layer: np.ndarray) -> float:
    """Upper minus lower layer's mean on-site diagonal of ``matrix`` (meV): the interlayer potential step."""
    return 1000 * onsite_layer_step(matrix, layer)


#: Layer index of each atom from their heights (a new layer after a vertical gap over 2.5 Å).
layers = layer_index


def on_run_mesh(calc: DeepH2Calculator, data) -> DeepH2Calculator:
    """``calc`` with the Fermi level (and a bilayer's self-consistent interlayer step) on the k mesh of the
    run that made ``data``, as DFT had them."""
    calc.set(kpts=scf_mesh(data))  # None (unknown): the calculator's default mesh
    return calc


def evaluation_calculator(model: str) -> DeepH2Calculator:
    """Model ``model`` (shipped name or file) as the benchmarks compare it with DFT: CPU, float64, no domain check."""
    return DeepH2Calculator(model, device="cpu", dtype="float64", check_domain=False)


def band_errors(calc: DeepH2Calculator, data) -> dict:
    """Bands, E_F and gap of the prediction against DFT on the run's SCF mesh (``calc``'s prediction of
    ``data.atoms`` is reused when :func:`h_errors` has made it)."""
    return spectrum_errors(data, calc.get_data(data.atoms)).as_dict()


def evaluate(name: str, on: str | None = None) -> dict:
    """Figures of model ``name`` (shipped name or file) on the held-out runs of ``on`` (default: its own)."""
    calc = evaluation_calculator(name)
    groups = {}
    for group, items in HELD_OUT[on or name].items():
        rows = {}
        for item, data in held_out_data(items):
            on_run_mesh(calc, data)
            rows[item] = r = {"atoms": len(data.atoms), "h_meV": h_errors(calc, data), **band_errors(calc, data)}
            if calc.layer_step is not None:
                r["self_consistent_layer_step_meV"] = 1000 * calc.layer_step.step
            inter = f", interlayer {r['h_meV']['interlayer']:.3f}" if "interlayer" in r["h_meV"] else ""
            print(f"{name} {group:15s} {Path(item).name:24s} {r['atoms']:4d} atoms: H MAE {r['h_meV']['mae']:.3f} meV "
                  f"(on-site {r['h_meV']['onsite']:.3f}, off-site {r['h_meV']['offsite']:.3f}{inter}) | bands near "
                  f"E_F MAE {r['bands_near_EF_mae']:.2f}, max {r['bands_near_EF_max']:.2f} meV (aligned "
                  f"{r['bands_aligned_max']:.2f}) | on-site shift {r['h_meV']['onsite_shift']:+.1f}"
                  + (f", layer potential {r['h_meV']['layer_potential_error']:+.1f}" if 'layer_potential_error' in r['h_meV'] else "")
                  + f" meV | E_F "
                  f"{r['fermi_level_error']:+.2f} meV | gap {r['gap_dft_eV']:.3f} eV {r['gap_error']:+.1f} meV", flush=True)
        if rows:
            groups[group] = {"structures": rows,
                             "h_mae_meV": float(np.mean([r["h_meV"]["mae"] for r in rows.values()])),
                             "bands_near_EF_max_meV": float(max(r["bands_near_EF_max"] for r in rows.values())),
                             "bands_near_EF_mae_meV": float(np.mean([r["bands_near_EF_mae"] for r in rows.values()])),
                             "bands_aligned_max_meV": float(max(r["bands_aligned_max"] for r in rows.values())),
                             "fermi_level_max_error_meV": float(max(abs(r["fermi_level_error"]) for r in rows.values())),
                             "gap_max_error_meV": float(max(abs(r["gap_error"]) for r in rows.values()))}
            if any("interlayer" in r["h_meV"] for r in rows.values()):
                groups[group]["interlayer_h_mae_meV"] = float(np.mean([r["h_meV"]["interlayer"] for r in rows.values()]))
            g = groups[group]
            print(f"{name} {group}: {len(rows)} structures, H MAE {g['h_mae_meV']:.3f} meV, bands near E_F max "
                  f"{g['bands_near_EF_max_meV']:.2f} meV, E_F within {g['fermi_level_max_error_meV']:.2f} meV", flush=True)
    return groups


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--model", nargs="*", default=None, help="default: every shipped model with held-out data")
    parser.add_argument("--card", action="store_true", help="merge the figures into each model's card")
    parser.add_argument("--on", choices=sorted(HELD_OUT), default=None,
                        help="the held-out runs of this model instead (e.g. a candidate model file, or the monolayer "
                             "model on bilayers)")
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    if args.card and args.on:
        parser.error("--card writes a model's own figures; it cannot be combined with --on")
    torch.set_num_threads(args.threads)
    from ase_deeph2.pretrained import available
    names = args.model or [n for n in available() if n in HELD_OUT]
    results = {}
    for name in names:
        if args.on is None and name not in HELD_OUT:
            parser.error(f"no held-out runs are listed for {name!r}; name them with --on")
        results[name] = evaluate(name, args.on)
        if args.card:
            path = PRETRAINED / f"{name}.json"
            card = json.loads(path.read_text()) if path.is_file() else {}
            card["held_out"] = results[name]
            atomic_write_text(path, json.dumps(card, indent=1))
            print(f"updated {path}")
    print(json.dumps({"benchmark": "pretrained_accuracy", "results": {
        n: {g: {k: v for k, v in r.items() if k != "structures"} for g, r in groups.items()}
        for n, groups in results.items()}}))


if __name__ == "__main__":
    main()
