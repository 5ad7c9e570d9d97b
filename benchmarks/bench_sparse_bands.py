"""States near E_F of huge graphene supercells: sparse shift-invert vs dense eigh.

    python benchmarks/bench_sparse_bands.py [--sizes 512 1058 2048 10082 ...] [--dense 512 1058 2048]

The real primitive-cell graphene H(R), S(R) from OpenMX are tiled (BlockMatrix.tile) into n x n
supercells: an exact tight-binding model of real DFT numbers. For each size, in its own process
(so that its peak memory is its own, capped by --mem-gb): build H(k), S(k) at Gamma (where both
are real), then the 20 states nearest E_F by shift-invert (scipy eigsh on an LDL^T factorisation:
MKL PARDISO when installed, else SuperLU; --superlu forces SuperLU), with the inertia count that
fixes their band index. Dense scipy.linalg.eigh at the small sizes gives the
ratio. Goals: <= 60 s and <= 8 GB at 10^4 atoms (131k orbitals), >= 20x faster than dense at 2000
atoms. The last line is JSON.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

RUN = Path(__file__).resolve().parents[1] / "tests" / "data" / "graphene_1x1" / "openmx.scfout"


def one(n_atoms: int, dense: bool) -> dict:
    import numpy as np
    import scipy.linalg as sl

    from ase_deeph2.electronic import pardiso
    from ase_deeph2.electronic.solvers import solve_k
    from ase_deeph2.io import read_scfout

    data = read_scfout(RUN)
    n = max(1, round(math.sqrt(n_atoms / 2)))
    t0 = time.perf_counter()
    h, s = data.hamiltonian.tile((n, n, 1)), data.overlap.tile((n, n, 1))
    t_tile = time.perf_counter() - t0
    k = (0.0, 0.0, 0.0)
    t0 = time.perf_counter()
    h.bloch(k), s.bloch(k)
    t_bloch = time.perf_counter() - t0
    t0 = time.perf_counter()
    sol = solve_k(h, s, k, method="sparse", nbands=20, sigma=data.fermi_level, check_overlap=False, count_below=True)
    t_sparse = time.perf_counter() - t0
    out = {"atoms": 2 * n * n, "orbitals": h.n_orbitals, "nnz": int(h.bloch(k).nnz), "tile_s": t_tile,
           "bloch_s": t_bloch, "sparse_s": t_sparse, "found": sol.found, "first_band": sol.first_band,
           "factorisation": "PARDISO" if pardiso.available() else "SuperLU"}
    if dense:
        hd, sd = h.bloch(k, real_if_possible=True).toarray(), s.bloch(k, real_if_possible=True).toarray()
        t0 = time.perf_counter()
        e = sl.eigh(hd, sd, eigvals_only=True)
        out["dense_s"] = time.perf_counter() - t0
        i = np.searchsorted(e, sol.energies[0] - 1e-9)
        out["max_diff_eV"] = float(np.abs(e[i:i + sol.found] - sol.energies).max())
    out["peak_rss_gb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024**2
    return out


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sizes", type=int, nargs="+", default=[512, 1058, 2048, 5000, 10082, 20000, 50000, 100000])
    parser.add_argument("--dense", type=int, nargs="*", default=[512, 1058])
    parser.add_argument("--superlu", action="store_true", help="factorise with SuperLU even if MKL PARDISO is installed")
    parser.add_argument("--mem-gb", type=float, default=20.0, help="address-space cap per size (protects the machine)")
    parser.add_argument("--one", type=int, default=None, help=argparse.SUPPRESS)
    parser.add_argument("--with-dense", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one is not None:
        resource.setrlimit(resource.RLIMIT_AS, (int(args.mem_gb * 1024**3),) * 2)
        print(json.dumps(one(args.one, args.with_dense)))
        return
    results = []
    for size in args.sizes:
        cmd = [sys.executable, __file__, "--one", str(size), "--mem-gb", str(args.mem_gb)]
        if size in args.dense:
            cmd.append("--with-dense")
        t0 = time.perf_counter()
        env = dict(os.environ, ASE_DEEPH2_NO_PARDISO="1") if args.superlu else None
        proc = subprocess.run(cmd, capture_output=True, text=True, env=env)
        if proc.returncode != 0:
            reason = proc.stderr.strip().splitlines()[-1] if proc.stderr.strip() else f"exit code {proc.returncode}"
            print(f"{size:7d} atoms: did not finish within {args.mem_gb} GB ({reason}) after {time.perf_counter() - t0:.0f} s")
            results.append({"atoms": size, "failed": reason})
            break
        r = json.loads(proc.stdout.strip().splitlines()[-1])
        results.append(r)
        line = (f"{r['atoms']:7d} atoms {r['orbitals']:8d} orbitals: 20 states + band index {r['sparse_s']:7.2f} s "
                f"({r['factorisation']}; H(k),S(k) {r['bloch_s']:5.2f} s), peak {r['peak_rss_gb']:5.2f} GB")
        if "dense_s" in r:
            line += f" | dense eigh {r['dense_s']:7.2f} s -> {r['dense_s'] / r['sparse_s']:5.1f}x, max diff {r['max_diff_eV']:.1e} eV"
        print(line, flush=True)
    print(json.dumps({"benchmark": "sparse_bands", "results": results,
                      "goals": {"atoms_1e4_s": 60, "atoms_1e4_gb": 8, "speedup_2000": 20}}))


if __name__ == "__main__":
    main()
