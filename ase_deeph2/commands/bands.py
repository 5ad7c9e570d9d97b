"""``deeph2 bands SOURCE -o bands.png``: band structure of a DFT file or of a structure with a model.

SOURCE is an OpenMX ``.scfout`` (or its run folder), a DeepH folder, or, with ``--model``, any
structure file ASE reads (its H is then predicted). ``--reference`` overlays a DFT file. Energies
are E - E_F, with E_F from the k mesh.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from .common import add_source_arguments, calculator_from_args, dft_calculator

NAME = "bands"
HELP = "plot the band structure of an OpenMX/DeepH file, or of a structure with a model"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_source_arguments(parser)
    parser.add_argument("--reference", type=Path, default=None, help="a DFT file/folder to overlay (e.g. OpenMX's)")
    parser.add_argument("--path", default=None, help="special-point path such as GMKG (default: the cell's standard path)")
    parser.add_argument("--npoints", type=int, default=150)
    parser.add_argument("--emin", type=float, default=-4.0, help="relative to E_F (eV)")
    parser.add_argument("--emax", type=float, default=4.0)
    parser.add_argument("-o", "--output", type=Path, default=Path("bands.png"))


def run(args: argparse.Namespace) -> int:
    from ..plotting import plot_bands

    calc = calculator_from_args(args)
    structures = [calc.band_structure(args.path, npoints=args.npoints)]
    labels = ["predicted" if args.model else "DFT"]
    if args.reference is not None:
        ref = dft_calculator(args.reference, **({"kpts": tuple(args.kpts)} if args.kpts else {}))
        structures.append(ref.band_structure(structures[0].path))
        labels.append("DFT reference")
        gap_ref = ref.band_gap()
    ef = calc.get_fermi_level()
    plot_bands(structures, labels if len(structures) > 1 else None, args.emin, args.emax, filename=args.output,
               title=f"{calc.atoms.get_chemical_formula()}: E_F = {ef:.3f} eV")
    print(f"Fermi level {ef:.4f} eV; {calc.band_gap()}")
    if args.reference is not None:
        worst = abs(structures[0].energies - structures[1].energies)
        window = abs(structures[1].energies) < 1.0
        print(f"reference: Fermi level {ref.get_fermi_level():.4f} eV; {gap_ref}; bands within ±1 eV of E_F differ "
              f"by {1000 * worst[window].mean():.1f} meV on average, {1000 * worst[window].max():.1f} meV at most")
    print(f"wrote {args.output}")
    return 0
