"""Does the reference H of a structure depend on the supercell or k mesh it was computed in? Pristine
graphene by OpenMX in a 3x3 cell on 3x3, 4x4 and 8x8 k meshes and in a 4x4 cell on 3x3 k: blocks of
equal (sublattice, bond vector) must agree between the runs, whatever the cell.

    DEEPH2_DATA=~/deeph2-data python benchmarks/pristine_references.py

The runs are made by ``examples/make_training_data.sh`` (section "pristine graphene"). A 3x3 cell on
a 4x4 k mesh and a 4x4 cell on a 3x3 mesh sample the primitive Brillouin zone equally densely (12x12);
the corpora all use a 3x3 k mesh, so their 3x3, 4x4 and 5x5 cells sample it at 9x9, 12x12 and 15x15.
If the H blocks moved by a sizeable fraction of a model's error between those runs, a size dependence
of that error could be the references', not the model's. Printed: MAE (meV) between the runs' blocks
per shell of bond length, and within each run the largest spread of blocks that symmetry makes
equal (a check of the comparison itself). The last line is JSON.
"""

from __future__ import annotations

import json
import warnings

import numpy as np

from ase_deeph2.io.deeph import read_deeph
from held_out import DATA

RUNS = {"3x3 cell, 3x3 k": "3x3_k3", "3x3 cell, 4x4 k": "3x3_k4", "3x3 cell, 8x8 k": "3x3_k8",
        "4x4 cell, 3x3 k": "4x4_k3"}
PAIRS = [("3x3 cell, 4x4 k", "4x4 cell, 3x3 k"), ("3x3 cell, 3x3 k", "4x4 cell, 3x3 k"),
         ("3x3 cell, 3x3 k", "3x3 cell, 4x4 k"), ("3x3 cell, 3x3 k", "3x3 cell, 8x8 k"),
         ("3x3 cell, 4x4 k", "3x3 cell, 8x8 k")]
SHELLS = [0.0, 0.1, 1.6, 2.6, 3.0, 3.9, 4.5, 5.2, 5.8, 6.4, 13.0]  # bond length edges, Å


def equivalent_blocks(folder) -> tuple[dict, float]:
    """Mean H block (eV) per (sublattice of i, sublattice of j, bond vector rounded to 0.01 Å), and
    the largest spread (eV) among the blocks that fall on one key."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the pristine cells sit at the edge of nothing: no domain warnings
        data = read_deeph(folder)
    atoms, h = data.atoms, data.hamiltonian
    reps = int(round(np.sqrt(len(atoms) / 2)))
    if 2 * reps * reps != len(atoms):
        raise ValueError(f"{folder}: {len(atoms)} atoms is not an n x n supercell of two-atom graphene")
    primitive = np.asarray(atoms.cell) / [[reps], [reps], [1]]
    frac = (atoms.positions - atoms.positions[0]) @ np.linalg.inv(primitive)
    sublattice = (np.abs(frac[:, :2] - np.round(frac[:, :2])) > 0.05).any(axis=1).astype(int)
    groups: dict = {}
    for k, (rx, ry, rz, i, j) in enumerate(h.pairs):
        bond = atoms.positions[j] + np.array([rx, ry, rz]) @ np.asarray(atoms.cell) - atoms.positions[i]
        key = (sublattice[i], sublattice[j], *np.round(bond, 2))
        groups.setdefault(key, []).append(h.data[h.offsets[k]:h.offsets[k + 1]])
    means = {key: np.mean(v, axis=0) for key, v in groups.items()}
    spread = max(float(np.ptp(np.asarray(v), axis=0).max()) for v in groups.values())
    return means, spread


def compare(a: dict, b: dict) -> dict:
    """MAE (meV) of the blocks on keys both runs have, in all and per bond-length shell."""
    common = [key for key in a if key in b]
    if len(common) < 0.9 * max(len(a), len(b)):
        raise ValueError(f"the runs share only {len(common)} of {len(a)} / {len(b)} block kinds")
    per_shell: dict = {}
    for key in common:
        shell = int(np.digitize(np.linalg.norm(key[2:]), SHELLS)) - 1
        per_shell.setdefault(shell, []).append(np.abs(a[key] - b[key]).ravel() * 1000)
    every = np.concatenate([np.concatenate(v) for v in per_shell.values()])
    return {"mae_meV": float(every.mean()), "max_meV": float(every.max()), "block_kinds": len(common),
            "shells_meV": {f"{SHELLS[s]:.1f}-{SHELLS[s + 1]:.1f}": float(np.concatenate(v).mean())
                           for s, v in sorted(per_shell.items())}}


def main() -> None:
    root = DATA / "graphene_pristine"
    runs, spreads = {}, {}
    for name, folder in RUNS.items():
        path = root / folder / "deeph" / "s0000"
        if path.exists():
            runs[name], spreads[name] = equivalent_blocks(path)
            print(f"{name}: {len(runs[name])} block kinds, largest spread of equal blocks "
                  f"{spreads[name] * 1000:.1e} meV")
    rows = {}
    for a, b in PAIRS:
        if a in runs and b in runs:
            rows[f"{a} vs {b}"] = row = compare(runs[a], runs[b])
            shells = " ".join(f"{s}:{v:.4f}" for s, v in row["shells_meV"].items())
            print(f"{a} vs {b}: MAE {row['mae_meV']:.4f} meV, max {row['max_meV']:.3f} | per shell (Å: meV) {shells}")
    if not rows:
        print(f"no pristine graphene runs under {root} (examples/make_training_data.sh)")
    print(json.dumps({"benchmark": "pristine_references", "spread_meV": {k: v * 1000 for k, v in spreads.items()},
                      "results": rows}))


if __name__ == "__main__":
    main()
