"""From OpenMX runs to a model, in three steps (each resumable).

    # 1. inputs for 50 perturbed 3x3 graphene supercells, with the settings of a reference run
    python examples/train_from_openmx.py prepare --reference ../shared/data/openmx/runs/graphene_1x1/openmx.dat \\
        --runs runs/graphene --n 50 --data-path /path/to/DFT_DATA19
    # 2. run OpenMX 3.9 on them (skips finished runs; needs the openmx binary)
    python examples/train_from_openmx.py run --runs runs/graphene --nprocs 2
    # 3. train on every finished run (or on a DeepH-format corpus) and report held-out errors
    python examples/train_from_openmx.py train --runs ../shared/data/graphene3x3 --out runs/model --minutes 10

Step 3 is ``deeph2 train config.toml`` with a configuration written for you; ``--pao`` stores the
exact overlap tables in the model so that ``DeepH2Calculator("runs/model/model.pt")`` works anywhere.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from ase.build import graphene

from ase_deeph2.training.config import config_from_dict
from ase_deeph2.training.loop import Trainer
from ase_deeph2.training.openmx_runs import OpenMXSettings, perturbed_supercells, prepare_runs, run_openmx_all


def prepare(args) -> None:
    overrides = {"data_path": args.data_path} if args.data_path else {}
    settings = OpenMXSettings.from_dat(args.reference, **overrides)
    primitive = graphene(a=2.46, vacuum=7.5)
    primitive.pbc = True
    frames = perturbed_supercells(primitive, (3, 3, 1), n=args.n, sigma=0.05, strain=0.02, seed=args.seed)
    folders = prepare_runs(frames, args.runs, settings)
    print(f"{len(folders)} OpenMX inputs under {args.runs}")


def run(args) -> None:
    folders = sorted(p for p in Path(args.runs).iterdir() if (p / "openmx.dat").is_file())
    result = run_openmx_all(folders, nprocs=args.nprocs, openmx=args.openmx)
    print(f"{len(result['done'])} runs done, {len(result['failed'])} failed")
    for folder, message in result["failed"]:
        print(f"  {folder}: {message}")


def train(args) -> None:
    raw = {"data": {"sources": [str(Path(args.runs).resolve())], "pao_dirs": [str(Path(p).resolve()) for p in args.pao]},
           "model": {"lmax": 4, "channels": 16, "hidden": 16, "n_blocks": 2},
           "training": {"epochs": args.epochs, "batch_size": 2, "lr": 1e-2, "loss": "mse+mae",
                        "max_time_minutes": args.minutes},
           "output": {"dir": str(Path(args.out).resolve())}}
    metrics = Trainer(config_from_dict(raw)).train()
    part = "test_set" if "test_set" in metrics else "validation_set"
    print(f"held-out MAE {metrics[part]['mae_meV']:.2f} meV; model: {Path(args.out) / 'model.pt'}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="step", required=True)
    p = sub.add_parser("prepare", help="write OpenMX inputs of perturbed supercells")
    p.add_argument("--reference", required=True, help="an openmx.dat whose settings (basis, k density, ...) to reuse")
    p.add_argument("--runs", required=True)
    p.add_argument("--n", type=int, default=50)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--data-path", default=None, help="DFT_DATA19 folder of your OpenMX installation")
    p = sub.add_parser("run", help="run OpenMX on every unfinished input")
    p.add_argument("--runs", required=True)
    p.add_argument("--nprocs", type=int, default=1)
    p.add_argument("--openmx", default="openmx")
    p = sub.add_parser("train", help="train a model on the finished runs")
    p.add_argument("--runs", required=True, help="folder tree of OpenMX runs or DeepH folders")
    p.add_argument("--out", required=True)
    p.add_argument("--pao", nargs="*", default=[], help="folders with the PAO files (overlap tables in the model)")
    p.add_argument("--epochs", type=int, default=450)
    p.add_argument("--minutes", type=float, default=0.0, help="stop after this much training (0 = all epochs)")
    args = parser.parse_args()
    {"prepare": prepare, "run": run, "train": train}[args.step](args)


if __name__ == "__main__":
    main()
