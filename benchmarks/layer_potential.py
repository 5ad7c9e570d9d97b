"""Does a bilayer model carry DFT's interlayer potential step, on the cells it was fitted to and on new ones?

    DEEPH2_DATA=~/deeph2-data python benchmarks/layer_potential.py [--model bilayer-graphene-openmx]
  DEEPH2_DATA=~/deeph2-data python benchmarks/layer_potential.py --model RUN/model.pt --on bilayer-graphene-openmx [--held-out-only]

The step is the mean diagonal of the upper layer's on-site blocks minus the lower layer's (meV), of
DFT's H and of the predicted one. In a small perturbed bilayer it comes from charge moved between the
layers (each layer's displacements shift its levels differently), a sum over the whole cell; the
bands near E_F move with it. Per cell the two steps are printed; per group (fitted: the training and
validation cells; held out: the others, on the 6x6 and on the 3x3 k mesh) the least-squares slope of the model's step on DFT's (1 =
carried, 0 = not seen), their correlation and the RMS of the difference; over all cells, the
correlation of DFT's step with the differences between the layers: geometric (mean C-C bond length,
bond-length variance, buckling: does a local picture explain it?) and the Fermi level of each layer alone
(the monolayer model's: does the mismatch that moves charge between the layers explain it?). The last line is JSON.
"""

from __future__ import annotations

import argparse
import json

import numpy as np
import torch
from ase.neighborlist import neighbor_list

from ase_deeph2 import DeepH2Calculator
from held_out import HELD_OUT
from pretrained_accuracy import evaluation_calculator, held_out_data, layer_step, layers, on_run_mesh

#: model -> the 3x3 runs it was fitted to (training and validation split), all under $DEEPH2_DATA: the
#: shipped bilayer model's last stage had the 6x6-k runs of bilayer_graphene_3x3 s0000-s0012 and s0016-s0031
#: (its earlier stages the 3x3-k runs of the same cells)
FITTED = {
    "bilayer-graphene-openmx": [f"@bilayer_graphene_3x3_k6/deeph/s{k:04d}" for k in (*range(13), *range(16, 32))],
}


def layer_geometry(atoms, layer: np.ndarray, monolayer: DeepH2Calculator) -> dict[str, float]:
    """Upper minus lower layer: mean nearest-neighbour bond (mÅ), bond-length variance (mÅ^2), z spread (mÅ),
    and the Fermi level of each layer alone (meV; predicted by ``monolayer`` on a 6x6 k mesh): the
    mismatch that drives charge from one layer to the other."""
    i, j, d = neighbor_list("ijd", atoms, 1.7)
    per_layer = []
    for side in (0, layer.max()):
        bonds = d[(layer[i] == side) & (layer[j] == side)] * 1000
        alone = atoms[layer == side]
        alone.calc = DeepH2Calculator(monolayer.loaded, kpts={"size": (6, 6, 1), "gamma": True}, check_domain=False)
        per_layer.append((bonds.mean(), bonds.var(), atoms.positions[layer == side, 2].std() * 1000,
                          alone.calc.get_fermi_level() * 1000))
    return dict(zip(("bond_length", "bond_variance", "buckling", "isolated_layer_fermi_level"),
                    np.subtract(per_layer[1], per_layer[0]).tolist()))


def group_figures(dft: np.ndarray, model: np.ndarray) -> dict:
    """Slope through the origin of ``model`` on ``dft``, correlation, RMS difference (meV)."""
    return {"cells": int(len(dft)), "slope": float(dft @ model / (dft @ dft)),
            "correlation": float(np.corrcoef(dft, model)[0, 1]),
            "rms_difference_meV": float(np.sqrt(np.mean((model - dft) ** 2))),
            "rms_dft_meV": float(np.sqrt(np.mean(dft ** 2)))}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="bilayer-graphene-openmx", help="shipped name or model file")
    parser.add_argument("--on", default=None, choices=sorted(FITTED), help="whose runs (default: --model's)")
    parser.add_argument("--monolayer", default="graphene-openmx", help="model of one layer alone (its Fermi level)")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--held-out-only", action="store_true", help="skip the fitted cells (about 40 s each)")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    calc = evaluation_calculator(args.model)
    monolayer = evaluation_calculator(args.monolayer)
    on = args.on or args.model
    if on not in FITTED:
        parser.error(f"no fitted runs are listed for {on!r}; name them with --on")
    groups = {**({} if args.held_out_only else {"fitted": FITTED[on]}), **{f"held out, {g.removeprefix('3x3, ')}": v
                                       for g, v in HELD_OUT[on].items() if g.startswith("3x3, ")}}
    result, geometry = {}, []
    for group, items in groups.items():
        steps = {}
        for item, data in held_out_data(items):
            layer = layers(data.atoms.positions[:, 2])
            steps[item] = (layer_step(data.hamiltonian, layer),
                           layer_step(on_run_mesh(calc, data).get_data(data.atoms).hamiltonian, layer))
            if not group.endswith("3x3 k"):  # each structure once, on the training mesh
                geometry.append((steps[item][0], layer_geometry(data.atoms, layer, monolayer)))
            print(f"{group:8s} {item}: DFT {steps[item][0]:+7.1f}  model {steps[item][1]:+7.1f} meV", flush=True)
        if len(steps) < 2:
            continue
        dft, model = (np.array(v) for v in zip(*steps.values()))
        result[group] = {**group_figures(dft, model), "steps_meV": {k: list(v) for k, v in steps.items()}}
        r = result[group]
        print(f"{group}: {r['cells']} cells, slope {r['slope']:.2f}, correlation {r['correlation']:.2f}, "
              f"RMS difference {r['rms_difference_meV']:.1f} meV (DFT's RMS {r['rms_dft_meV']:.1f})", flush=True)
    if len(geometry) > 2:
        dft = np.array([g[0] for g in geometry])
        result["dft_step_correlation_with"] = {key: float(np.corrcoef(dft, [g[1][key] for g in geometry])[0, 1])
                                               for key in geometry[0][1]}
        print("DFT's step against the layers' difference in " + ", ".join(
            f"{k.replace('_', ' ')}: correlation {v:+.2f}" for k, v in result["dft_step_correlation_with"].items()))
    print(json.dumps({"benchmark": "layer_potential", "model": args.model, "results": result}))


if __name__ == "__main__":
    main()
