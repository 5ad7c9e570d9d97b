"""Bands of a perturbed 6x6 graphene supercell (72 atoms) against pristine graphene.

    python examples/graphene_bands.py [-o graphene_bands.png] [--sigma 0.05] [--npoints 40]

The shipped model ``graphene-openmx`` predicts H(R) of both structures; S(R) is exact. Pristine
graphene is solved in its 2-atom cell and its bands are folded into the supercell's Brillouin zone
(E(K) of the supercell = E(k) of the primitive cell at k = (K + G) / 6), so both sets of bands share
the supercell path Γ-M-K-Γ; 6 is a multiple of 3, so the Dirac point K folds onto Γ. The
supercell's 936 orbitals are solved densely; the whole script takes well under a minute.
"""

from __future__ import annotations

import argparse
import time

import numpy as np
from ase.build import graphene
from ase.spectrum.band_structure import BandStructure

from ase_deeph2 import DeepH2Calculator
from ase_deeph2.electronic.solvers import solve_k
from ase_deeph2.plotting import plot_bands

REPS = 6


def folded_bands(calc: DeepH2Calculator, primitive, path, reps: int) -> np.ndarray:
    """(1, nk, reps² · n_orbitals) eigenvalues (eV) of the primitive cell folded onto the supercell ``path``."""
    h, s = calc.get_hamiltonian(primitive), calc.get_overlap(primitive)
    shifts = np.array([(g1, g2, 0) for g1 in range(reps) for g2 in range(reps)], dtype=float)
    scale = np.array([reps, reps, 1], dtype=float)
    bands = [np.sort(np.concatenate([solve_k(h, s, (k + g) / scale, check_overlap=False).energies for g in shifts]))
             for k in path.kpts]
    return np.array(bands)[None]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-o", "--output", default="graphene_bands.png")
    parser.add_argument("--model", default="graphene-openmx")
    parser.add_argument("--sigma", type=float, default=0.05, help="Gaussian displacement per coordinate (Å)")
    parser.add_argument("--npoints", type=int, default=40, help="k points along Γ-M-K-Γ")
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()

    primitive = graphene(a=2.46, vacuum=7.5)  # the training corpus: a = 2.46 Å, 15 Å cell along z
    perturbed = primitive.repeat((REPS, REPS, 1))
    perturbed.positions += np.random.default_rng(args.seed).normal(scale=args.sigma, size=perturbed.positions.shape)

    t0 = time.perf_counter()
    pristine_calc = DeepH2Calculator(args.model, kpts=(24, 24, 1))
    primitive.calc = pristine_calc
    ef_pristine = pristine_calc.get_fermi_level()

    perturbed.calc = DeepH2Calculator(args.model, kpts={"size": (3, 3, 1), "gamma": True})
    path = perturbed.cell.bandpath("GMKG", npoints=args.npoints, pbc=(True, True, False))
    bs_perturbed = perturbed.calc.band_structure(path)
    print(f"perturbed {REPS}x{REPS} ({len(perturbed)} atoms, {perturbed.calc.get_hamiltonian().n_orbitals} orbitals): "
          f"E_F = {perturbed.calc.get_fermi_level():.3f} eV; {perturbed.calc.band_gap(kpts=np.zeros((1, 3)))} "
          f"({time.perf_counter() - t0:.0f} s)")
    bs_pristine = BandStructure(path, folded_bands(pristine_calc, primitive, path, REPS) - ef_pristine)
    print(f"pristine graphene: E_F = {ef_pristine:.3f} eV; {pristine_calc.band_gap()}")

    plot_bands([bs_pristine, bs_perturbed], ["pristine (folded)", f"perturbed, σ = {args.sigma} Å"], -3.0, 3.0,
               filename=args.output, title=f"graphene {REPS}x{REPS}: predicted by {args.model}")
    print(f"wrote {args.output} ({time.perf_counter() - t0:.0f} s in all)")


if __name__ == "__main__":
    main()
