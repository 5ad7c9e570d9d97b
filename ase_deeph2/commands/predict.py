"""``deeph2 predict structure.xyz --model graphene-openmx -o out/``: predicted H(R) and exact S(R) in DeepH format.

Every frame of the structure file (``--index``, ASE syntax, default all frames) becomes one DeepH
folder: ``out/`` for a single frame, ``out/frame_0000/``, ``out/frame_0001/``, ... otherwise.
Under ``torchrun --nproc_per_node N -m ase_deeph2.cli predict ...`` the network evaluation of
each frame is shared out over the N processes and the first one writes the folders.
"""

from __future__ import annotations

import argparse
import os
import time
from pathlib import Path

from .common import add_prediction_arguments

NAME = "predict"
HELP = "predict H(R) (and the exact S(R)) of structures with a model; write DeepH folders"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("structure", type=Path, help="any file ASE reads (xyz, extxyz, traj, cif, POSCAR, ...)")
    add_prediction_arguments(parser)
    parser.add_argument("--index", default=":", help="frames to use, ASE syntax (default ':' = all)")
    parser.add_argument("--legacy", action="store_true", help="write the legacy DeepH format (hamiltonians.h5, ...)")
    parser.add_argument("--fermi", action="store_true", help="also compute and print each frame's Fermi level")


def run(args: argparse.Namespace) -> int:
    from tqdm.auto import tqdm

    from ..calculator import DeepH2Calculator
    from ..io import read_structures, write_deeph

    frames = read_structures(args.structure, args.index)
    if not frames:
        raise ValueError(f"{args.structure}: no frames selected by --index {args.index!r}")
    calc = DeepH2Calculator(args.model, device=args.device)
    main_process = int(os.environ.get("RANK", "0")) == 0
    single = len(frames) == 1
    for n, atoms in enumerate(tqdm(frames, desc="predicting", unit="frame",
                                   disable=args.no_progress or single or not main_process)):
        t0 = time.perf_counter()
        folder = args.output if single else args.output / f"frame_{n:04d}"
        data = calc.get_data(atoms)
        if not main_process:
            continue
        write_deeph(folder, data, legacy=args.legacy)
        line = f"{folder}: {len(atoms)} atoms, {calc.get_hamiltonian(atoms).n_pairs} blocks"
        if args.fermi:
            atoms.calc = calc
            line += f", E_F = {calc.get_fermi_level():.4f} eV"
        print(f"{line} ({time.perf_counter() - t0:.1f} s)")
    return 0
