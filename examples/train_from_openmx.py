"""Your own material, from a structure file to a model and its bands: OpenMX data, training, use.

    python examples/train_from_openmx.py STRUCTURE -o OUT [--supercell 2 2 1] [--count 12]
        [--openmx /path/to/openmx] [--data-path /path/to/DFT_DATA19] [--epochs 150] [--minutes 20]

1. ``deeph2 dft``: perturbed copies of STRUCTURE (σ = 0.05 Å, ±2 % strain) run with OpenMX and
   converted to checked DeepH folders in OUT/data (resumable; the OpenMX defaults are those of
   the shipped models' data, with --cutoff to go faster);
2. ``deeph2 train``: a small ELCT on OUT/data/deeph, with the exact overlap tables of the basis in
   the model file (OUT/model/model.pt, learning curves and orbital-wise errors beside it);
3. the model on a structure it never saw (a new perturbed copy): H error against a fresh OpenMX
   run of it, and its band structure (OUT/bands.png).

Without STRUCTURE's elements in DFT_DATA19 (H B C N O Si S Se Mo W Te here) pass --basis
El=STRING. Each step resumes after an interruption.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

from ase_deeph2 import DeepH2Calculator, HamiltonianCalculator
from ase_deeph2.cli import main as deeph2
from ase_deeph2.files import atomic_write_text
from ase_deeph2.io import read_deeph


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("structure", type=Path)
    parser.add_argument("-o", "--output", type=Path, required=True)
    parser.add_argument("--supercell", type=int, nargs=3, default=(2, 2, 1))
    parser.add_argument("--count", type=int, default=12, help="structures for training and validation")
    parser.add_argument("--cutoff", type=float, default=200.0, help="OpenMX energy cutoff, Ry")
    parser.add_argument("--openmx", default=None)
    parser.add_argument("--data-path", default=None)
    parser.add_argument("--epochs", type=int, default=150, help="epochs of the cosine schedule")
    parser.add_argument("--minutes", type=float, default=20.0, help="training time limit")
    parser.add_argument("--basis", nargs="*", default=[])
    args = parser.parse_args()
    dft = ["dft", str(args.structure), "--supercell", *map(str, args.supercell), "--set",
           f"scf.energycutoff={args.cutoff:g}", "--no-progress", *(["--openmx", args.openmx] if args.openmx else []),
           *(["--data-path", args.data_path] if args.data_path else []), *(["--basis", *args.basis] if args.basis else [])]
    # 1. data: --count structures for training, and one more with another seed for the final check
    if deeph2(dft + ["-o", str(args.output / "data"), "--count", str(args.count)]):
        raise SystemExit("some OpenMX runs failed: see OUT/data/summary.json")
    if deeph2(dft + ["-o", str(args.output / "unseen"), "--count", "1", "--seed", "99"]):
        raise SystemExit("the held-out OpenMX run failed: see OUT/unseen/summary.json")
    # 2. training
    data_path = args.data_path or _data_path(args.output / "data")
    config = args.output / "train.toml"
    atomic_write_text(config, f"""[data]
sources = ["{(args.output / 'data' / 'deeph').resolve()}"]
pao_dirs = ["{Path(data_path).resolve() / 'PAO'}"]
split = [0.85, 0.15, 0.0]

[model]
channels = 16
hidden = 16
n_blocks = 2

[training]
epochs = {args.epochs}
batch_size = 2
lr = 1e-2
loss = "mse+mae"
max_time_minutes = {args.minutes}

[output]
dir = "{(args.output / 'model').resolve()}"
""")
    deeph2(["train", str(config), "--no-progress"])
    # 3. a structure the model never saw, against its own OpenMX run
    unseen = read_deeph(args.output / "unseen" / "deeph" / "s0000")
    dft = HamiltonianCalculator.from_data(unseen)
    dft.atoms.calc = dft
    atoms = unseen.atoms.copy()
    atoms.calc = DeepH2Calculator(str(args.output / "model" / "model.pt"))
    mae = atoms.calc.get_hamiltonian().error_stats(unseen.hamiltonian)["mae"] * 1000
    gap = atoms.calc.band_gap()
    # A short training leaves errors of 0.1 eV or more on the diffuse orbitals; where S(k) is nearly
    # singular (smallest eigenvalue ~1e-3 in these bases) they become spurious states. Dropping the
    # near-null directions of S removes them:
    projected = DeepH2Calculator(str(args.output / "model" / "model.pt"), project_overlap_below=1e-2)
    atoms.calc = projected
    atoms.calc.band_structure().plot(filename=str(args.output / "bands.png"), emin=-4, emax=4)
    dft_seconds = sum(run["seconds"] for part in ("data", "unseen")
                      for run in json.loads((args.output / part / "summary.json").read_text())["runs"])
    training = json.loads((args.output / "model" / "metrics.json").read_text())
    report = {"structures": args.count, "dft_minutes": dft_seconds / 60, "training_minutes": training["elapsed_s"] / 60,
              "training_epochs": training["epochs"], "validation_mae_meV": training["validation_mae_meV"],
              "unseen_h_mae_meV": mae, "unseen_fermi_level_eV": {"dft": dft.get_fermi_level(),
                                                                 "model": projected.get_fermi_level()},
              "unseen_gap": {"dft": str(dft.band_gap()), "model": str(gap),
                             "model, S projected below 1e-2": str(projected.band_gap())}}
    atomic_write_text(args.output / "report.json", json.dumps(report, indent=1))
    print(json.dumps(report, indent=1))
    print(f"model: {args.output / 'model' / 'model.pt'}; bands: {args.output / 'bands.png'}")


def _data_path(corpus: Path) -> str:
    """DATA.PATH of the corpus's first OpenMX input (where the PAO files are)."""
    dat = next((corpus / "runs").glob("*/openmx.dat"))
    for line in dat.read_text().splitlines():
        if line.lower().startswith("data.path"):
            return line.split(None, 1)[1].strip()
    raise SystemExit(f"{dat}: no DATA.PATH line")


if __name__ == "__main__":
    np.set_printoptions(precision=4)
    main()
