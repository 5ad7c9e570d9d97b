"""``deeph2 dos SOURCE -o dos.png``: density of states (total, or Mulliken-projected) of a DFT file
or of a structure with a model, on a k mesh, referred to the Fermi level.

Prints E_F, the gap and the DOS at E_F; ``--csv`` also writes the curves (energy in eV relative to
E_F, states/eV/cell).
"""

from __future__ import annotations

import argparse
from pathlib import Path

from .common import add_source_arguments, calculator_from_args

NAME = "dos"
HELP = "plot the DOS (total or projected) of an OpenMX/DeepH file, or of a structure with a model"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_source_arguments(parser)
    parser.add_argument("--projection", choices=("element", "l", "element+l"), default=None,
                        help="Mulliken projected DOS")
    parser.add_argument("--width", type=float, default=0.1, help="Gaussian broadening, eV")
    parser.add_argument("--emin", type=float, default=-6.0, help="relative to E_F (eV)")
    parser.add_argument("--emax", type=float, default=4.0)
    parser.add_argument("--npts", type=int, default=1001)
    parser.add_argument("--csv", type=Path, default=None, help="also write the curves to this CSV file")
    parser.add_argument("-o", "--output", type=Path, default=Path("dos.png"))


def run(args: argparse.Namespace) -> int:
    import numpy as np

    from ..files import atomic_write_text
    from ..plotting import plot_dos

    calc = calculator_from_args(args)
    ef = calc.get_fermi_level()
    energies, dos = calc.dos(ef + args.emin, ef + args.emax, args.npts, args.width, args.projection)
    plot_dos(energies, dos, fermi_level=ef, filename=args.output,
             title=f"{calc.atoms.get_chemical_formula()}: E_F = {ef:.3f} eV, width {args.width} eV")
    at_ef = float(np.interp(ef, energies, dos["total"]))
    print(f"Fermi level {ef:.4f} eV; {calc.band_gap()}; DOS at E_F {at_ef:.4f} states/eV/cell")
    if args.csv is not None:
        names = list(dos)
        rows = [",".join(["E-E_F_eV", *names])]
        rows += [",".join(f"{v:.6g}" for v in (e - ef, *(dos[n][i] for n in names))) for i, e in enumerate(energies)]
        atomic_write_text(args.csv, "\n".join(rows) + "\n")
        print(f"wrote {args.csv}")
    print(f"wrote {args.output}")
    return 0
