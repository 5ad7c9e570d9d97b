"""One MD frame of a large graphene sheet, end to end: predicted H, exact S, E_F, DOS near E_F.

    python benchmarks/bench_md_frame.py [--sizes 2048 10082] [--methods superlu pardiso local]
                                        [--model graphene-openmx] [--threads 2] [--mem-gb 20]

For each size (a thermally perturbed sheet, σ = 0.05 Å, Γ only), in its own process (its peak
memory is its own): the shipped model's H(R) (atom groups), the exact S(R), then E_F and the DOS
within ±0.5 eV of E_F by

* ``superlu``: the default without MKL: shift-invert window of states with band index at Γ
  (``method="sparse"``, SuperLU);
* ``pardiso``: the same with MKL PARDISO (``pip install mkl``), when installed;
* ``local``: local clusters (``ase_deeph2.electronic.local``, core 200 atoms, buffer 8 Å).

Side by side, the baseline: dense ``scipy.linalg.eigh`` of the whole H(Γ), S(Γ), measured at the
smallest size and extrapolated by n³ to the others. The Fermi levels of the methods are compared
(the shift-invert window is exact). Goal: a 10⁴-atom frame in <= 60 s and <= 8 GB without MKL.
The last line is JSON.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time


def one(n_atoms: int, method: str, model: str, threads: int, dense: bool) -> dict:
    import numpy as np
    import scipy.linalg as sl
    import torch
    from ase.build import graphene

    from ase_deeph2 import DeepH2Calculator
    from ase_deeph2.electronic import pardiso

    torch.set_num_threads(threads)
    reps = max(1, round((n_atoms / 2) ** 0.5))
    atoms = graphene(a=2.46, vacuum=7.5).repeat((reps, reps, 1))
    atoms.positions += np.random.default_rng(0).normal(0.0, 0.05, atoms.positions.shape)
    out = {"atoms": len(atoms), "method": method, "threads": threads}
    t0 = time.perf_counter()
    calc = DeepH2Calculator(model, kpts={"size": (1, 1, 1), "gamma": True}, check_domain=False,
                            method="dense" if method == "dense" else "sparse", nbands=60)
    atoms.calc = calc
    h, s = calc.get_hamiltonian(), calc.get_overlap()
    out["h_and_s_s"] = time.perf_counter() - t0
    out["orbitals"] = h.n_orbitals
    t1 = time.perf_counter()
    if method == "local":
        from ase_deeph2.electronic.local import local_spectrum
        spectrum = local_spectrum(h, s, atoms, calc.n_electrons, core_size=200, buffer=8.0, progress=False)
        ef = spectrum.fermi_level
        spectrum.dos(ef - 0.5, ef + 0.5, 201, 0.05)
    else:
        if method == "superlu":
            os.environ["ASE_DEEPH2_NO_PARDISO"] = "1"
        elif not pardiso.available():
            return {**out, "skipped": "MKL PARDISO not installed"}
        ef = calc.get_fermi_level()
        calc.dos(ef - 0.5, ef + 0.5, 201, 0.05)
    out["fermi_level_eV"] = ef
    out["electronic_s"] = time.perf_counter() - t1
    out["frame_s"] = time.perf_counter() - t0
    if dense:
        hd, sd = h.to_dense((0, 0, 0)).real, s.to_dense((0, 0, 0)).real
        t2 = time.perf_counter()
        sl.eigh(hd, sd, eigvals_only=True)
        out["dense_eigh_s"] = time.perf_counter() - t2
    out["peak_rss_gb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024**2
    return out


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sizes", type=int, nargs="+", default=[2048, 10082])
    parser.add_argument("--methods", nargs="+", default=["superlu", "pardiso", "local"])
    parser.add_argument("--model", default="graphene-openmx")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--dense-at", type=int, default=512, help="size of the dense-eigh baseline")
    parser.add_argument("--mem-gb", type=float, default=20.0)
    parser.add_argument("--one", nargs=3, default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one is not None:
        resource.setrlimit(resource.RLIMIT_AS, (int(args.mem_gb * 1024**3),) * 2)
        size, method, dense = int(args.one[0]), args.one[1], args.one[2] == "1"
        print(json.dumps(one(size, method, args.model, args.threads, dense)))
        return
    env = dict(os.environ, OMP_NUM_THREADS=str(args.threads), OPENBLAS_NUM_THREADS=str(args.threads),
               MKL_NUM_THREADS=str(args.threads))

    def run(size, method, dense=False):
        cmd = [sys.executable, __file__, "--one", str(size), method, "1" if dense else "0", "--model", args.model,
               "--threads", str(args.threads), "--mem-gb", str(args.mem_gb)]
        t = time.perf_counter()
        proc = subprocess.run(cmd, capture_output=True, text=True, env=env)
        if proc.returncode != 0:
            tail = proc.stderr.strip().splitlines()[-1] if proc.stderr.strip() else f"exit {proc.returncode}"
            return {"atoms": size, "method": method, "failed": tail, "wall_s": time.perf_counter() - t}
        return json.loads(proc.stdout.strip().splitlines()[-1])

    base = run(args.dense_at, "dense", dense=True)
    n0, t_dense = base.get("orbitals"), base.get("dense_eigh_s")
    print(f"baseline: dense eigh of H(Γ), S(Γ) at {base.get('atoms')} atoms ({n0} orbitals): {t_dense:.1f} s", flush=True)
    results = [base]
    for size in args.sizes:
        for method in args.methods:
            r = run(size, method)
            results.append(r)
            if "failed" in r or "skipped" in r:
                print(f"{size:7d} atoms {method:8s}: {r.get('failed') or r.get('skipped')}", flush=True)
                continue
            extrapolated = t_dense * (r["orbitals"] / n0) ** 3
            r["dense_extrapolated_s"] = extrapolated
            print(f"{r['atoms']:7d} atoms {method:8s}: frame {r['frame_s']:7.1f} s (H+S {r['h_and_s_s']:6.1f} s, "
                  f"E_F + DOS {r['electronic_s']:7.1f} s), peak {r['peak_rss_gb']:5.2f} GB, E_F {r['fermi_level_eV']:.4f} eV"
                  f" | dense eigh ~{extrapolated:9.0f} s -> {extrapolated / r['frame_s']:6.1f}x", flush=True)
    print(json.dumps({"benchmark": "md_frame", "results": results, "goals": {"atoms_1e4_s": 60, "atoms_1e4_gb": 8}}))


if __name__ == "__main__":
    main()
