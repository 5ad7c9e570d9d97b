"""What the commands share: a calculator for a DFT file, or for a structure with a model (bands, dos); the
prediction options (md, predict)."""

from __future__ import annotations

import argparse
from pathlib import Path


def add_source_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("source", type=Path,
                        help=".scfout, OpenMX run folder, DeepH folder, or (with --model) any structure file ASE reads")
    parser.add_argument("--model", default=None, help="model file or shipped model name: predict H for SOURCE")
    parser.add_argument("--kpts", type=int, nargs=3, default=None, help="k mesh of the Fermi level and DOS "
                        "(default: Γ-centred, 5 points per Å^-1)")
    parser.add_argument("--method", choices=("auto", "dense", "sparse"), default="auto")


def add_prediction_arguments(parser: argparse.ArgumentParser) -> None:
    """The model, output folder, device and progress options of the commands that predict and write (md, predict)."""
    parser.add_argument("--model", default="graphene-openmx", help="model file or shipped model name")
    parser.add_argument("-o", "--output", type=Path, required=True, help="output folder")
    parser.add_argument("--device", default=None, help="cpu, cuda, ... (default: CUDA when present)")
    parser.add_argument("--no-progress", action="store_true")


def dft_calculator(source: Path, **kwargs):
    """HamiltonianCalculator of a .scfout file, an OpenMX run folder or a DeepH folder."""
    from ..hamiltonian_calculator import HamiltonianCalculator
    from ..io import read_source

    return HamiltonianCalculator.from_data(read_source(source), **kwargs)


def model_calculator(source: Path, model: str, **kwargs):
    """DeepH2Calculator attached to the structure in ``source`` (any ASE-readable file, or a DFT file)."""
    from ..calculator import DeepH2Calculator
    from ..io import read_source, read_structures

    if source.suffix == ".scfout" or source.is_dir():
        atoms = read_source(source).atoms
    else:
        atoms = read_structures(source, -1)[0]
    calc = DeepH2Calculator(model, **kwargs)
    atoms.calc = calc
    return calc


def calculator_from_args(args: argparse.Namespace):
    """The calculator the source arguments ask for."""
    kw = {"method": args.method}
    if args.kpts:
        kw["kpts"] = tuple(args.kpts)
    return model_calculator(args.source, args.model, **kw) if args.model else dft_calculator(args.source, **kw)
