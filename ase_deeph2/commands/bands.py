"""``deeph2 bands SOURCE -o bands.png``: band structure of a DFT file or of a structure with a model.

SOURCE is an OpenMX ``.scfout`` (or its run folder), a DeepH folder, or, with ``--model``, any
structure file ASE reads (its H is then predicted). ``--reference`` overlays a DFT file.
"""

from __future__ import annotations

import argparse
from pathlib import Path

NAME = "bands"
HELP = "plot the band structure of an OpenMX/DeepH file, or of a structure with a model"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("source", type=Path, help=".scfout, OpenMX run folder, DeepH folder, or a structure file with --model")
    parser.add_argument("--model", default=None, help="model file or shipped model name (predict H for SOURCE)")
    parser.add_argument("--reference", type=Path, default=None, help="a DFT file/folder to overlay (e.g. OpenMX's)")
    parser.add_argument("--path", default=None, help="special-point path such as GMKG (default: the cell's standard path)")
    parser.add_argument("--npoints", type=int, default=150)
    parser.add_argument("--kpts", type=int, nargs=3, default=None, help="mesh for the Fermi level (default: density 5/Å)")
    parser.add_argument("--emin", type=float, default=-4.0, help="relative to E_F (eV)")
    parser.add_argument("--emax", type=float, default=4.0)
    parser.add_argument("-o", "--output", type=Path, default=Path("bands.png"))


def dft_calculator(source: Path, **kwargs):
    """HamiltonianCalculator of a .scfout file, an OpenMX run folder or a DeepH folder."""
    from ..hamiltonian_calculator import HamiltonianCalculator

    if source.is_dir():
        scfouts = sorted(source.glob("*.scfout"))
        if scfouts:
            return HamiltonianCalculator.from_scfout(scfouts[0], **kwargs)
        return HamiltonianCalculator.from_deeph(source, **kwargs)
    if not source.exists():
        raise FileNotFoundError(f"{source} does not exist")
    return HamiltonianCalculator.from_scfout(source, **kwargs)


def model_calculator(source: Path, model: str, **kwargs):
    """DeepH2Calculator on the structure in ``source`` (any ASE-readable file, or a DFT file)."""
    from ..calculator import DeepH2Calculator
    from ..io import read_structures

    if source.suffix == ".scfout" or source.is_dir():
        atoms = dft_calculator(source).atoms
    else:
        atoms = read_structures(source, -1)[0]
    calc = DeepH2Calculator(model, **kwargs)
    atoms.calc = calc
    return calc


def run(args: argparse.Namespace) -> int:
    from ..plotting import plot_bands

    kw = {"kpts": tuple(args.kpts)} if args.kpts else {}
    calc = model_calculator(args.source, args.model, **kw) if args.model else dft_calculator(args.source, **kw)
    structures = [calc.band_structure(args.path, npoints=args.npoints)]
    labels = ["predicted" if args.model else "DFT"]
    if args.reference is not None:
        ref = dft_calculator(args.reference, **kw)
        structures.append(ref.band_structure(structures[0].path))
        labels.append("DFT reference")
    plot_bands(structures, labels if len(structures) > 1 else None, args.emin, args.emax, filename=args.output,
               title=f"{calc.atoms.get_chemical_formula()}: E_F = {structures[0].reference:.3f} eV")
    gap = calc.band_gap()
    print(f"Fermi level {structures[0].reference:.4f} eV; {gap}")
    print(f"wrote {args.output}")
    return 0
