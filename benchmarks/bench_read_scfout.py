"""Read time of the 30 MB MoS2 .scfout: ours vs the floor (numpy.fromfile of the whole file).

    python benchmarks/bench_read_scfout.py [path/to/openmx.scfout]

Goal: ours <= 3x the floor. Best of 25 interleaved repeats, both measured in this run (warm page
cache); the last line is JSON. The reader seeks past the sections it does not need (density matrix,
position and momentum matrices: ~80 % of this file), so it reads fewer bytes than the floor does.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import numpy as np

from ase_deeph2.io import read_scfout

DEFAULT = Path(__file__).resolve().parents[2] / "shared" / "data" / "openmx" / "runs" / "mos2_3x3_perturbed" / "openmx.scfout"


def best_of_interleaved(fns, repeats: int = 25) -> list[float]:
    """Best time of each function, run alternately so that both see the same machine state."""
    best = [float("inf")] * len(fns)
    for _ in range(repeats):
        for k, fn in enumerate(fns):
            t0 = time.perf_counter()
            fn()
            best[k] = min(best[k], time.perf_counter() - t0)
    return best


def main() -> None:
    path = Path(sys.argv[1]) if len(sys.argv) > 1 else DEFAULT
    if not path.is_file():
        sys.exit(f"{path} not found: pass the path of a .scfout (the shared mos2_3x3_perturbed run)")
    floor, ours = best_of_interleaved([lambda: np.fromfile(path, dtype=np.uint8), lambda: read_scfout(path)])
    size = path.stat().st_size / 1e6
    print(f"file: {path} ({size:.1f} MB)")
    print(f"numpy.fromfile (floor): {floor * 1e3:8.1f} ms")
    print(f"read_scfout (ours)    : {ours * 1e3:8.1f} ms   (H, S permuted to Wikipedia order, symmetrised, eV)")
    print(f"ratio ours/floor      : {ours / floor:8.2f}   (goal <= 3)")
    print(json.dumps({"benchmark": "read_scfout", "file_MB": round(size, 2), "floor_s": floor, "ours_s": ours,
                      "ratio": ours / floor, "goal": 3.0}))


if __name__ == "__main__":
    main()
