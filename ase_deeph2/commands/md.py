"""``deeph2 md TRAJECTORY --model NAME -o OUT``: electronic structure of every frame of a trajectory.

Per frame: the Fermi level, the gap (or "metal"), the DOS near E_F and the number of states in
the window, written as it goes to ``OUT/frames.csv`` and ``OUT/dos.npz``, with ``gap_vs_frame.png``
and a DOS-vs-frame heat map. Running it again resumes (finished frames are skipped). Any
trajectory ASE reads (.traj, .xyz/extxyz, XDATCAR, LAMMPS dump, ...).
"""

from __future__ import annotations

import argparse
from pathlib import Path

from .common import add_prediction_arguments

NAME = "md"
HELP = "per-frame Fermi level, gap and DOS near E_F along an MD trajectory (resumable)"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("trajectory", type=Path, help="any trajectory file ASE reads")
    add_prediction_arguments(parser)
    parser.add_argument("--every", type=int, default=1, help="every N-th frame")
    parser.add_argument("--frames", default=None, help="frame range a:b (Python slice, e.g. 100: or :50)")
    parser.add_argument("--window", type=float, default=0.5, help="half-width of the window around E_F, eV")
    parser.add_argument("--width", type=float, default=0.05, help="Gaussian broadening of the DOS, eV")
    parser.add_argument("--kpts", type=int, nargs=3, default=None, help="k mesh (default: density 5 per Å^-1; "
                        "Γ only for large supercells)")
    parser.add_argument("--method", choices=("auto", "dense", "sparse", "local"), default="auto",
                        help="local: E_F and DOS from local clusters, linear scaling (for cells too large to factorise)")
    parser.add_argument("--core", type=int, default=200, help="local: atoms per core group")
    parser.add_argument("--buffer", type=float, default=8.0, help="local: Å of environment around each core")
    parser.add_argument("--nbands", type=int, default=None, help="sparse: states per k near E_F (default 40)")


def run(args: argparse.Namespace) -> int:
    import warnings

    from ..calculator import OutOfDomainWarning
    from ..trajectory import analyse_trajectory

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", OutOfDomainWarning)
        rows = analyse_trajectory(args.trajectory, args.model, args.output, every=args.every, frames=args.frames,
                                  window=args.window, width=args.width, kpts=tuple(args.kpts) if args.kpts else None,
                                  method=args.method, nbands=args.nbands, progress=not args.no_progress,
                                  local={"core_size": args.core, "buffer": args.buffer}, device=args.device)
    for w in caught:
        print(f"warning: {w.message}")
    gaps = [r.gap for r in rows if r.gap == r.gap]
    gap_text = f"gap {min(gaps):.4f} .. {max(gaps):.4f} eV, {sum(r.metal for r in rows)} metallic" if gaps else "no gaps"
    print(f"{len(rows)} frames of {rows[0].atoms} atoms: E_F {min(r.fermi_level for r in rows):.4f} .. "
          f"{max(r.fermi_level for r in rows):.4f} eV, {gap_text}; mean "
          f"{sum(r.seconds for r in rows) / len(rows):.1f} s per frame")
    print(f"wrote {args.output / 'frames.csv'}, {args.output / 'dos.npz'}, gap_vs_frame.png, dos_vs_frame.png")
    return 0
