"""How much of a model's held-out error is the reference data's k mesh: the same structure run by
OpenMX on the training mesh and on a denser one, both compared with the model.

    DEEPH2_DATA=~/deeph2-data python benchmarks/kmesh_reference.py [--model bilayer-graphene-openmx]

For each held-out bilayer listed in DENSER (the DeepH folder of the 3x3-k run, and the OpenMX run of
the same openmx.dat with ``scf.Kgrid 6 6 1``, made by the last section of
``examples/make_training_data.sh``): DFT's own interlayer potential (mean on-site diagonal of the upper
layer minus the lower, meV) on both meshes, the H difference between the meshes (MAE, meV), and the
model's H MAE, layer potential error and band errors against each. The last line is JSON.
"""

from __future__ import annotations

import argparse
import json

import numpy as np
import torch

from ase_deeph2 import DeepH2Calculator
from pretrained_accuracy import DATA, band_errors, h_errors, held_out_data, layer_onsite_means, layers

#: held-out run -> the same structure on a 6x6 k mesh (both under $DEEPH2_DATA)
DENSER = {f"@bilayer_graphene_3x3/deeph/s{k:04d}": f"@bilayer_graphene_3x3_k6/s{k:04d}/openmx.scfout" for k in (13, 14, 15)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="bilayer-graphene-openmx")
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    calc = DeepH2Calculator(args.model, device="cpu", dtype="float64", check_domain=False)
    rows = {}
    for coarse_item, dense_item in DENSER.items():
        pair = dict(held_out_data([coarse_item, dense_item]))
        if len(pair) < 2:
            continue
        coarse, dense = pair[coarse_item], pair[dense_item]
        layer = layers(coarse.atoms.positions[:, 2])
        means = [layer_onsite_means(d.hamiltonian, layer) for d in (coarse, dense)]  # per layer, bottom first
        row = {"dft_layer_potential_meV": [float(m[-1] - m[0]) for m in means],
               "h_difference_meV": float(np.abs(dense.hamiltonian.aligned_to(coarse.hamiltonian).data
                                                - coarse.hamiltonian.data).mean() * 1000)}
        for mesh, data in (("3x3", coarse), ("6x6", dense)):
            h, b = h_errors(calc, data), band_errors(calc, data)
            row[mesh] = {"h_mae_meV": h["mae"], "layer_potential_error_meV": h["layer_potential_error"],
                         "bands_near_EF_max_meV": b["bands_near_EF_max"], "fermi_level_error_meV": b["fermi_level_error"]}
        rows[coarse_item] = row
        print(f"{coarse_item[-5:]}: DFT layer potential 3x3 k {row['dft_layer_potential_meV'][0]:+.1f} / 6x6 k "
              f"{row['dft_layer_potential_meV'][1]:+.1f} meV, |H(6x6) - H(3x3)| {row['h_difference_meV']:.3f} meV | "
              + " | ".join(f"vs {m} k: H MAE {row[m]['h_mae_meV']:.3f}, layer potential error "
                           f"{row[m]['layer_potential_error_meV']:+.1f}, bands max {row[m]['bands_near_EF_max_meV']:.1f} meV"
                           for m in ("3x3", "6x6")), flush=True)
    if not rows:
        print(f"no 6x6-k reruns under {DATA} (examples/make_training_data.sh, last section)")
    print(json.dumps({"benchmark": "kmesh_reference", "model": args.model, "results": rows}))


if __name__ == "__main__":
    main()
