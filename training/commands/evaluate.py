"""``deeph2 evaluate model.pt DATA``: MAE of a model's H against DFT structures, with plots."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

NAME = "evaluate"
HELP = "errors of a model's predicted H on OpenMX runs or DeepH folders (MAE table, orbital-wise plot)"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("model", type=Path, help="model file (model.pt)")
    parser.add_argument("data", type=Path, nargs="+", help="OpenMX run folders / .scfout files / DeepH folders (trees)")
    parser.add_argument("-o", "--output", type=Path, default=None, help="folder for metrics.json and orbital_mae.png")
    parser.add_argument("--device", default="auto")


def run(args: argparse.Namespace) -> int:
    import torch

    from ase_deeph2.model import blocks_from_matrix, build_graph, load_model
    from ..dataset import find_structures, read_structure
    from ase_deeph2.parallel import resolve_device
    from ..metrics import ErrorAccumulator
    from ..plots import plot_orbital_mae

    loaded = load_model(args.model, device=resolve_device(args.device))
    model, config = loaded.model, loaded.config
    acc = ErrorAccumulator(config.basis_set)
    per_structure = {}
    paths = [p for root in args.data for p in find_structures(root)]
    if not paths:
        raise FileNotFoundError(f"no OpenMX runs or DeepH folders under {[str(p) for p in args.data]}")
    for path in paths:
        data = read_structure(path)
        graph = build_graph(data.atoms, config, pairs=data.hamiltonian.pairs)
        target = blocks_from_matrix(data.hamiltonian, graph).to(next(model.parameters()).dtype)
        with torch.no_grad():
            pred = model(graph.to(model.cutoffs.device)).cpu()
        one = ErrorAccumulator(config.basis_set)
        one.add(graph, pred, target)
        acc.add(graph, pred, target)
        per_structure[str(path)] = one.summary()["mae_meV"]
        print(f"{path}: MAE {per_structure[str(path)]:.3f} meV")
    summary = acc.summary()
    print(f"all {len(paths)} structures: MAE {summary['mae_meV']:.3f} meV (on-site {summary['onsite_mae_meV']:.3f}, "
          f"off-site {summary['offsite_mae_meV']:.3f}), RMSE {summary['rmse_meV']:.3f} meV, max {summary['max_meV']:.1f} meV")
    for pair, mae in summary["species_pairs_meV"].items():
        print(f"  {pair}: {mae:.3f} meV")
    if args.output:
        args.output.mkdir(parents=True, exist_ok=True)
        (args.output / "metrics.json").write_text(json.dumps({"summary": summary, "per_structure": per_structure}, indent=1))
        plot_orbital_mae(acc, args.output / "orbital_mae.png", title=f"{args.model.name}: orbital-wise MAE")
        print(f"wrote {args.output / 'metrics.json'} and {args.output / 'orbital_mae.png'}")
    return 0
