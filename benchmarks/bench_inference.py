"""Inference on large graphene sheets: predicted H(R) + exact S(R), time and peak memory.

    python benchmarks/bench_inference.py [--sizes 1250 5000 10082] [--model graphene-openmx]
                                         [--edge-chunk 100000] [--threads 2]

For each size, in its own process (so that its peak memory is its own): a thermally perturbed
graphene sheet (σ = 0.05 Å), then DeepH2Calculator.get_hamiltonian / get_overlap, timed stage by
stage (neighbour list + graph, network, overlap). Side by side, the same prediction without edge
chunks (``--edge-chunk 0``, all edges at once) is the baseline: the ratio shows what chunking
costs in time and saves in memory. Goal: 10^4 atoms in <= 60 s and <= 8 GB on 2 cores.
The last line is JSON.
"""

from __future__ import annotations

import argparse
import json
import math
import resource
import subprocess
import sys
import time


def one(n_atoms: int, model: str, edge_chunk: int, threads: int) -> dict:
    import numpy as np
    import torch
    from ase.build import graphene

    from ase_deeph2 import DeepH2Calculator
    from ase_deeph2.graph import overlap_pairs
    from ase_deeph2.model.inputs import build_graph

    torch.set_num_threads(threads)
    n = max(1, round(math.sqrt(n_atoms / 2)))
    atoms = graphene(a=2.46, vacuum=7.5).repeat((n, n, 1))
    atoms.pbc = True
    atoms.positions += np.random.default_rng(0).normal(scale=0.05, size=atoms.positions.shape)
    calc = DeepH2Calculator(model, device="cpu", edge_chunk=edge_chunk or None, check_domain=False)
    symbols = atoms.get_chemical_symbols()
    t0 = time.perf_counter()
    found = overlap_pairs(atoms, calc.basis.cutoffs(symbols))
    graph = build_graph(atoms, calc.loaded.config, pairs=found.pairs)
    t_graph = time.perf_counter() - t0
    del graph
    t0 = time.perf_counter()
    h = calc.get_hamiltonian(atoms)  # neighbour list + graph + network + blocks
    t_h = time.perf_counter() - t0
    t0 = time.perf_counter()
    calc.tables.overlap_matrix(atoms, pairs=found)
    t_s = time.perf_counter() - t0
    return {"atoms": len(atoms), "orbitals": int(h.n_orbitals), "blocks": int(h.n_pairs), "graph_s": t_graph,
            "hamiltonian_s": t_h, "overlap_s": t_s, "total_s": t_h + t_s,
            "peak_rss_gb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024**2}


def run_one(size: int, args, edge_chunk: int) -> dict:
    cmd = [sys.executable, __file__, "--one", str(size), "--model", args.model, "--edge-chunk", str(edge_chunk),
           "--threads", str(args.threads), "--mem-gb", str(args.mem_gb)]
    proc = subprocess.run(cmd, capture_output=True, text=True)
    if proc.returncode != 0:
        lines = proc.stderr.strip().splitlines()
        return {"atoms": size, "failed": lines[-1] if lines else f"exit code {proc.returncode}"}
    return json.loads(proc.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sizes", type=int, nargs="+", default=[1250, 5000, 10082])
    parser.add_argument("--model", default="graphene-openmx")
    parser.add_argument("--edge-chunk", type=int, default=100_000)
    parser.add_argument("--baseline-up-to", type=int, default=10082, help="largest size also run without chunks")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--mem-gb", type=float, default=20.0, help="address-space cap per run")
    parser.add_argument("--one", type=int, default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one is not None:
        resource.setrlimit(resource.RLIMIT_AS, (int(args.mem_gb * 1024**3),) * 2)
        print(json.dumps(one(args.one, args.model, args.edge_chunk, args.threads)))
        return
    results = []
    for size in args.sizes:
        chunked = run_one(size, args, args.edge_chunk)
        baseline = run_one(size, args, 0) if size <= args.baseline_up_to else None
        results.append({"chunked": chunked, "all_edges_at_once": baseline})
        if "failed" in chunked:
            print(f"{size:7d} atoms: failed ({chunked['failed']})")
            continue
        c = chunked
        line = (f"{c['atoms']:7d} atoms {c['blocks']:8d} blocks: H {c['hamiltonian_s']:6.1f} s (graph {c['graph_s']:4.1f} s) "
                f"+ S {c['overlap_s']:5.1f} s = {c['total_s']:6.1f} s, peak {c['peak_rss_gb']:5.2f} GB")
        if baseline is not None:
            if "failed" in baseline:
                line += f" | all edges at once: failed ({baseline['failed'][:60]})"
            else:
                line += (f" | all edges at once: {baseline['total_s']:6.1f} s, {baseline['peak_rss_gb']:5.2f} GB "
                         f"-> time x{c['total_s'] / baseline['total_s']:.2f}, memory x{c['peak_rss_gb'] / baseline['peak_rss_gb']:.2f}")
        print(line, flush=True)
    print(json.dumps({"benchmark": "inference", "edge_chunk": args.edge_chunk, "threads": args.threads,
                      "results": results, "goals": {"atoms_1e4_s": 60, "atoms_1e4_gb": 8}}))


if __name__ == "__main__":
    main()
