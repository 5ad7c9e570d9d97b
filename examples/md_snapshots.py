"""Per-frame Fermi level, gap and DOS near E_F along a thermal trajectory of a graphene sheet.

    python examples/md_snapshots.py [--trajectory md.traj] [--reps 24] [--frames 4] [-o md/]

With ``--trajectory`` any file ASE reads (an MD run of your own code: LAMMPS dump, extxyz, .traj)
is analysed. Without it, a stand-in trajectory is written first: a reps x reps graphene supercell
whose atoms follow independent Ornstein-Uhlenbeck processes with the rms displacement of graphene
near room temperature (0.05 Å per coordinate) and a correlation of 0.8 between frames:
thermal-looking snapshots, not Newtonian dynamics. Then it is ``deeph2 md`` from Python: per frame
the shipped model predicts H(R), S(R) is exact, and (at Γ: 24 is a multiple of 3, so the Dirac
point K folds onto Γ) the states near E_F give the Fermi level, the gap and the DOS near E_F,
written to ``md/frames.csv``, ``md/dos.npz`` and two plots.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
from ase.build import graphene
from ase.io import write

from ase_deeph2.trajectory import analyse_trajectory


def stand_in_trajectory(n_frames: int, reps: int = 24, rms: float = 0.05, correlation: float = 0.8, seed: int = 0):
    """Thermal-looking snapshots of a reps x reps graphene sheet (Ornstein-Uhlenbeck displacements, Å)."""
    base = graphene(a=2.46, vacuum=7.5).repeat((reps, reps, 1))
    rng = np.random.default_rng(seed)
    u = rng.normal(scale=rms, size=base.positions.shape)
    frames = []
    for n in range(n_frames):
        atoms = base.copy()
        atoms.positions += u
        atoms.info["time"] = 10.0 * n  # fs, for the plots
        frames.append(atoms)
        u = correlation * u + np.sqrt(1 - correlation**2) * rng.normal(scale=rms, size=u.shape)
    return frames


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trajectory", type=Path, default=None, help="frames to analyse (any format ASE reads)")
    parser.add_argument("--frames", type=int, default=4, help="frames of the stand-in trajectory")
    parser.add_argument("--reps", type=int, default=24, help="supercell of the stand-in trajectory")
    parser.add_argument("--model", default="graphene-openmx")
    parser.add_argument("--nbands", type=int, default=120, help="states nearest E_F per frame")
    parser.add_argument("--window", type=float, default=0.3, help="half-width of the DOS window, eV")
    parser.add_argument("-o", "--output", type=Path, default=Path("md"))
    args = parser.parse_args()

    trajectory = args.trajectory
    if trajectory is None:
        trajectory = args.output / "stand_in.extxyz"
        trajectory.parent.mkdir(parents=True, exist_ok=True)
        write(trajectory, stand_in_trajectory(args.frames, args.reps))
    rows = analyse_trajectory(trajectory, args.model, args.output, window=args.window, method="sparse",
                              nbands=args.nbands, kpts={"size": (1, 1, 1), "gamma": True})
    for r in rows:
        print(f"frame {r.frame}: {r.atoms} atoms, E_F = {r.fermi_level:.4f} eV, gap {r.gap * 1000:.1f} meV, "
              f"DOS(E_F) = {r.dos_at_fermi / r.atoms:.5f} states/eV/atom ({r.seconds:.0f} s)")
    print(f"wrote {args.output}/frames.csv, dos.npz, gap_vs_frame.png, dos_vs_frame.png")


if __name__ == "__main__":
    main()
