"""Smoothness and precision of a model on flat sheets: the checks of the ELCT issue, as numbers.

    python benchmarks/smoothness.py [MODEL ...] [--size 8] [--threads 1]

For each model (a shipped name or a model file), on a flat graphene sheet (a = 2.46 Å x 1.04,
size x size cells; the symmetric geometry where equivariant features vanish):
  * max |ΔH| (meV) when every atom moves out of plane by a random amount up to δ, for
    δ = 1e-8 .. 1e-3 Å, in float64; a smooth model changes H in proportion to δ (the ratio
    ΔH/δ is printed);
  * max |H_float32 − H_float64| (meV) on the flat sheet and on a perturbed copy (σ = 0.05 Å);
  * the gap at K of the flat sheet (meV) in float32 and float64 (the Dirac point: 0 by symmetry).
Last line: JSON.
"""

from __future__ import annotations

import argparse
import json

import numpy as np
import torch
from ase.build import graphene

from ase_deeph2.calculator import resolve_model
from ase_deeph2.graph import overlap_pairs
from ase_deeph2.model import predict
from ase_deeph2.overlap import OverlapTables

MOVES = (1e-8, 1e-6, 1e-4, 1e-3)


def flat_sheet(size: int = 8, strain: float = 0.04):
    atoms = graphene(a=2.46 * (1 + strain), vacuum=7.5).repeat((size, size, 1))
    atoms.pbc = (True, True, False)
    return atoms


def hamiltonian(loaded, atoms, dtype, pairs):
    model = loaded.model.to(dtype)
    try:
        return predict(model, atoms, pairs=pairs).hamiltonian
    finally:
        loaded.model.to(torch.float32)


def dirac_gap_meV(loaded, atoms, h) -> float:
    """Gap at K of the primitive cell folded into the sheet (K maps to K when size % 3 != 0, to Γ else)."""
    import scipy.linalg as sl
    tables = OverlapTables.from_state(loaded.extras["overlap"])
    s = tables.overlap_matrix(atoms)
    n = round(len(atoms) ** 0.5 / 2 ** 0.5)
    k = np.array([1 / 3, 1 / 3, 0]) * n % 1.0
    e = sl.eigvalsh(h.aligned_to(s).to_dense(k), s.to_dense(k))
    half = sum(loaded.metadata.valence_electrons["C"] for _ in atoms) / 2
    m = int(round(half))
    return 1000 * float(e[m] - e[m - 1])


def measure(name: str, size: int) -> dict:
    loaded = resolve_model(name)
    atoms = flat_sheet(size)
    found = overlap_pairs(atoms, loaded.config.basis_set.cutoffs(atoms.get_chemical_symbols()))
    h64 = hamiltonian(loaded, atoms, torch.float64, found)
    rng = np.random.default_rng(0)
    moves = {}
    for d in MOVES:
        moved = atoms.copy()
        moved.positions[:, 2] += rng.uniform(-d, d, len(moved))
        moves[d] = 1000 * float(np.abs(hamiltonian(loaded, moved, torch.float64, found).data - h64.data).max())
    h32 = hamiltonian(loaded, atoms, torch.float32, found)
    perturbed = atoms.copy()
    perturbed.positions += rng.normal(0, 0.05, perturbed.positions.shape)
    found_p = overlap_pairs(perturbed, loaded.config.basis_set.cutoffs(perturbed.get_chemical_symbols()))
    p64 = hamiltonian(loaded, perturbed, torch.float64, found_p)
    p32 = hamiltonian(loaded, perturbed, torch.float32, found_p)
    return {"moves_meV": {f"{d:.0e}": v for d, v in moves.items()},
            "f32_vs_f64_flat_meV": 1000 * float(np.abs(h32.data - h64.data).max()),
            "f32_vs_f64_perturbed_meV": 1000 * float(np.abs(p32.data - p64.data).max()),
            "gap_K_f64_meV": dirac_gap_meV(loaded, atoms, h64), "gap_K_f32_meV": dirac_gap_meV(loaded, atoms, h32)}


def report(name: str, r: dict) -> None:
    moves = "  ".join(f"δ={d}: {v:.3g} ({v / float(d):.2g}/Å)" for d, v in r["moves_meV"].items())
    print(f"{name}: max |ΔH| meV {moves}")
    print(f"  f32 vs f64: flat {r['f32_vs_f64_flat_meV']:.4f} meV, perturbed {r['f32_vs_f64_perturbed_meV']:.4f} meV; "
          f"gap at K: f64 {r['gap_K_f64_meV']:.4f} meV, f32 {r['gap_K_f32_meV']:.4f} meV", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("models", nargs="*", default=["graphene-openmx"])
    parser.add_argument("--size", type=int, default=8)
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    results = {}
    for name in args.models:
        results[name] = measure(name, args.size)
        report(name, results[name])
    print(json.dumps({"benchmark": "smoothness", "size": args.size, "results": results}))


if __name__ == "__main__":
    main()
