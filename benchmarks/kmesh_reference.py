"""How much of a model's held-out error is the reference data's k mesh: the same structure run by
OpenMX on the training mesh and on a denser one, both compared with the model.

    DEEPH2_DATA=~/deeph2-data python benchmarks/kmesh_reference.py [--model bilayer-graphene-openmx]
    DEEPH2_DATA=~/deeph2-data python benchmarks/kmesh_reference.py --model graphene-openmx

For each held-out structure listed in DENSER[model] (the DeepH folder of the 3x3-k run, and the OpenMX
run of the same openmx.dat with a denser ``scf.Kgrid``, made by the last section of
``examples/make_training_data.sh``): DFT's own gap and, for bilayers, its interlayer potential (mean
on-site diagonal of the upper layer minus the lower, meV) on both meshes, the H difference between the
meshes (MAE, meV), and the model's H MAE, gap, layer potential and band errors against each. Gaps are
searched on each run's own mesh plus the special points (the folded Dirac points of a 3x3 graphene
cell sit at Γ). The last line is JSON.
"""

from __future__ import annotations

import argparse
import json

import numpy as np
import torch

from ase_deeph2 import DeepH2Calculator
from held_out import DATA
from pretrained_accuracy import band_errors, evaluation_calculator, h_errors, held_out_data, layer_step, layers

#: model -> (held-out run, the same structure on a denser k mesh) pairs (all under $DEEPH2_DATA)
DENSER = {
    "bilayer-graphene-openmx": [(f"@bilayer_graphene_3x3/deeph/s{k:04d}", f"@bilayer_graphene_3x3_k6/deeph/s{k:04d}")
                                for k in (13, 14, 15)],
    "graphene-openmx": [("@graphene_3x3_k3/deeph/s0003", "@graphene_3x3_k6/s0003/openmx.scfout"),
                        ("@graphene_3x3_k3/deeph/s0003", "@graphene_3x3_k9/s0003/openmx.scfout"),
                        ("@graphene_3x3_k3/deeph/s0000", "@graphene_3x3_k6/s0000/openmx.scfout"),
                        ("@graphene_3x3_k3/deeph/s0006", "@graphene_3x3_k6/s0006/openmx.scfout"),
                        ("@graphene_4x4/deeph/s0007", "@graphene_4x4_k6/s0007/openmx.scfout")],
}


def compare(calc: DeepH2Calculator, coarse, dense) -> dict:
    """DFT on both meshes, and the model against each (meV unless named otherwise)."""
    layer = layers(coarse.atoms.positions[:, 2])
    row = {"h_difference_meV": float(np.abs(dense.hamiltonian.aligned_to(coarse.hamiltonian).data
                                            - coarse.hamiltonian.data).mean() * 1000)}
    if layer.max() > 0:
        row["dft_layer_potential_meV"] = [layer_step(d.hamiltonian, layer) for d in (coarse, dense)]
    gaps = []
    for mesh, data in (("coarse", coarse), ("dense", dense)):
        h, b = h_errors(calc, data), band_errors(calc, data)
        gaps.append(b["gap_dft_eV"])
        row[mesh] = {"h_mae_meV": h["mae"], "gap_error_meV": b["gap_error"],
                     "bands_near_EF_max_meV": b["bands_near_EF_max"], "fermi_level_error_meV": b["fermi_level_error"]}
        if "layer_potential_error" in h:
            row[mesh]["layer_potential_error_meV"] = h["layer_potential_error"]
    row["dft_gap_eV"] = gaps
    return row


def describe(name: str, row: dict) -> str:
    head = f"{name}: DFT gap {row['dft_gap_eV'][0] * 1000:.1f} / {row['dft_gap_eV'][1] * 1000:.1f} meV"
    if "dft_layer_potential_meV" in row:
        head += f", layer potential {row['dft_layer_potential_meV'][0]:+.1f} / {row['dft_layer_potential_meV'][1]:+.1f} meV"
    parts = [f"{head} (coarse / dense k), |H(dense) - H(coarse)| {row['h_difference_meV']:.3f} meV"]
    for mesh in ("coarse", "dense"):
        r = row[mesh]
        layer = f", layer potential error {r['layer_potential_error_meV']:+.1f}" if "layer_potential_error_meV" in r else ""
        parts.append(f"vs {mesh} k: H MAE {r['h_mae_meV']:.3f}, gap error {r['gap_error_meV']:+.1f}{layer}, "
                     f"bands max {r['bands_near_EF_max_meV']:.1f} meV")
    return " | ".join(parts)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="bilayer-graphene-openmx", choices=sorted(DENSER))
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    calc = evaluation_calculator(args.model)
    rows = {}
    for coarse_item, dense_item in DENSER[args.model]:
        pair = dict(held_out_data([coarse_item, dense_item]))
        if len(pair) < 2:
            continue
        name = f"{coarse_item} vs {dense_item}"
        rows[name] = compare(calc, pair[coarse_item], pair[dense_item])
        label = f"{coarse_item.split('/')[0].lstrip('@')}/{coarse_item.split('/')[-1]} vs {dense_item.split('/')[0].lstrip('@')}"
        print(describe(label, rows[name]), flush=True)
    if not rows:
        print(f"no denser-k reruns under {DATA} (examples/make_training_data.sh, last section)")
    print(json.dumps({"benchmark": "kmesh_reference", "model": args.model, "results": rows}))


if __name__ == "__main__":
    main()
