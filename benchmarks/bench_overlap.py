"""Exact overlap S(R) of a 10^4-atom perturbed graphene sheet: time and peak memory on this machine.

    python benchmarks/bench_overlap.py [--reps 71] [--pao ../shared/data/openmx/PAO]

Side by side in one run: ours (vectorised, chunked), the neighbour list alone (vesin: the floor any
method pays), and a naive per-pair loop (timed on 2000 pairs, extrapolated). Goal: <= 10 s for 10^4
atoms. The last line is JSON.
"""

from __future__ import annotations

import argparse
import json
import resource
import time
from pathlib import Path

import numpy as np
from ase.build import graphene

from ase_deeph2.basis import BasisSet
from ase_deeph2.graph import overlap_pairs
from ase_deeph2.overlap import OverlapTables

PAO = Path(__file__).resolve().parents[2] / "shared" / "data" / "openmx" / "PAO"


def peak_rss_gb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024**2


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--reps", type=int, default=71, help="supercell n x n of the 2-atom cell (71 -> 10082 atoms)")
    parser.add_argument("--pao", type=Path, default=PAO)
    args = parser.parse_args()
    basis = BasisSet.from_strings({"C": "C6.0-s2p2d1"})
    t0 = time.perf_counter()
    tables = OverlapTables.from_pao(basis, [args.pao])
    t_tables = time.perf_counter() - t0
    sheet = graphene(a=2.46, vacuum=7.5).repeat((args.reps, args.reps, 1))
    sheet.pbc = True
    sheet.positions += np.random.default_rng(0).normal(scale=0.05, size=sheet.positions.shape)
    rss0 = peak_rss_gb()

    t0 = time.perf_counter()
    found = overlap_pairs(sheet, basis.cutoffs(sheet.get_chemical_symbols()))
    t_pairs = time.perf_counter() - t0

    t0 = time.perf_counter()
    s = tables.overlap_matrix(sheet)
    t_ours = time.perf_counter() - t0
    rss1 = peak_rss_gb()

    sample = found.vectors[:2000]
    t0 = time.perf_counter()
    for v in sample:
        tables.blocks("C", "C", v[None])
    t_naive = (time.perf_counter() - t0) * len(found.pairs) / len(sample)

    print(f"{len(sheet)} atoms, {s.n_pairs} blocks, {len(s.data) / 1e6:.0f} M entries (tables built once: {t_tables:.1f} s)")
    print(f"neighbour list alone (floor): {t_pairs:6.2f} s")
    print(f"ours, overlap_matrix        : {t_ours:6.2f} s   (goal <= 10 s)   ratio to floor {t_ours / t_pairs:.1f}")
    print(f"naive per-pair loop (extrap.): {t_naive:6.1f} s   ours is {t_naive / t_ours:.0f}x faster")
    print(f"peak RSS: {rss1:.2f} GB (before: {rss0:.2f} GB; S itself {s.data.nbytes / 1e9:.2f} GB)")
    print(json.dumps({"benchmark": "overlap", "atoms": len(sheet), "blocks": int(s.n_pairs), "ours_s": t_ours,
                      "neighbour_list_s": t_pairs, "naive_s": t_naive, "tables_s": t_tables,
                      "peak_rss_gb": rss1, "goal_s": 10.0}))


if __name__ == "__main__":
    main()
