"""Per-frame density of states near E_F along a thermal trajectory of a 1152-atom graphene sheet.

    python examples/md_snapshots.py [--trajectory md.traj] [--frames 4] [-o md_dos.png]

With ``--trajectory`` any file ASE reads (an MD run of your own code: LAMMPS dump, extxyz, .traj)
is used frame by frame. Without it, a stand-in trajectory is generated: a 24x24 graphene
supercell whose atoms follow independent Ornstein-Uhlenbeck processes with the rms displacement
of graphene near room temperature (0.05 Å per coordinate) and a correlation of 0.8 between
frames: thermal-looking snapshots, not Newtonian dynamics.

For each frame the shipped model predicts H(R) (15 k orbitals), S(R) is exact, and the sparse
shift-invert solver finds the ``--nbands`` states nearest E_F at Γ (24 is a multiple of 3, so the
Dirac point K folds onto Γ), with the Fermi level from an inertia count. The DOS near E_F is
broadened by ``--width`` and plotted frame by frame.
"""

from __future__ import annotations

import argparse
import time

import matplotlib.pyplot as plt
import numpy as np
from ase.build import graphene
from ase.io import read

from ase_deeph2 import DeepH2Calculator


def stand_in_trajectory(n_frames: int, reps: int = 24, rms: float = 0.05, correlation: float = 0.8, seed: int = 0):
    """Thermal-looking snapshots of a reps x reps graphene sheet (Ornstein-Uhlenbeck displacements, Å)."""
    base = graphene(a=2.46, vacuum=7.5).repeat((reps, reps, 1))
    base.pbc = True
    rng = np.random.default_rng(seed)
    u = rng.normal(scale=rms, size=base.positions.shape)
    frames = []
    for _ in range(n_frames):
        atoms = base.copy()
        atoms.positions += u
        frames.append(atoms)
        u = correlation * u + np.sqrt(1 - correlation**2) * rng.normal(scale=rms, size=u.shape)
    return frames


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trajectory", default=None, help="frames to analyse (any format ASE reads)")
    parser.add_argument("--frames", type=int, default=4, help="number of frames (stand-in trajectory / last N)")
    parser.add_argument("--model", default="graphene-openmx")
    parser.add_argument("--nbands", type=int, default=120, help="states nearest E_F per frame")
    parser.add_argument("--width", type=float, default=0.05, help="Gaussian broadening (eV)")
    parser.add_argument("-o", "--output", default="md_dos.png")
    args = parser.parse_args()

    frames = (read(args.trajectory, index=f"-{args.frames}:") if args.trajectory
              else stand_in_trajectory(args.frames))
    calc = DeepH2Calculator(args.model, method="sparse", nbands=args.nbands, kpts={"size": (1, 1, 1), "gamma": True})
    grid = np.linspace(-0.6, 0.6, 601)
    fig, ax = plt.subplots(figsize=(6, 4))
    for n, atoms in enumerate(frames):
        t0 = time.perf_counter()
        atoms.calc = calc
        ef = calc.get_fermi_level()
        energies, dos = calc.dos(energies=ef + grid, width=args.width)
        at_ef = dos["total"][len(grid) // 2] / len(atoms)
        print(f"frame {n}: {len(atoms)} atoms, E_F = {ef:.4f} eV, DOS(E_F) = {at_ef:.4f} states/eV/atom "
              f"({time.perf_counter() - t0:.0f} s)", flush=True)
        ax.plot(grid, dos["total"] / len(atoms), label=f"frame {n}", lw=1)
    ax.axvline(0.0, color="0.5", lw=0.6, ls=":")
    ax.set_xlabel(r"$E - E_F$ (eV)")
    ax.set_ylabel("DOS (states / eV / atom)")
    ax.set_title(f"{frames[0].get_chemical_formula()}: DOS near $E_F$ per frame (Γ, σ = {args.width} eV)")
    ax.legend(fontsize=8)
    fig.savefig(args.output, dpi=130, bbox_inches="tight")
    print(f"wrote {args.output}")


if __name__ == "__main__":
    main()
