"""Every agreement figure against OpenMX in one run, on the shared OpenMX 3.9 runs.

    python benchmarks/verify_against_openmx.py

Per run: max |E_ours - E_openmx| of H(k)c = E S(k)c at the SCF k points of openmx.out for states
within 10 eV of E_F (eV); max |S_ours - S_openmx| with S from the PAO files (tables); Fermi level
of HamiltonianCalculator on OpenMX's k mesh minus OpenMX's chemical potential (meV). The tests
assert the same quantities; this prints the figures the README and notes quote.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import scipy.linalg as sl

from ase_deeph2 import HamiltonianCalculator
from ase_deeph2.io import read_openmx_eigenvalues, read_scfout, scf_mesh
from ase_deeph2.overlap import overlap_matrix

RUNS = Path(__file__).resolve().parents[2] / "shared" / "data" / "openmx" / "runs"
PAO = RUNS.parent / "PAO"


def main() -> None:
    results = {}
    for folder in sorted(p for p in RUNS.iterdir() if (p / "openmx.scfout").is_file()):
        data = read_scfout(folder / "openmx.scfout")
        ref = read_openmx_eigenvalues(folder / "openmx.out")
        mesh = np.array(scf_mesh(data), dtype=float)
        kpts = np.round(ref["kpts"] * 2 * mesh) / (2 * mesh)  # openmx.out prints k to 5 decimals
        worst = 0.0
        for ik, k in enumerate(kpts):
            ours = sl.eigvalsh(data.hamiltonian.to_dense(k), data.overlap.to_dense(k))
            theirs = ref["eigenvalues"][0, ik]
            window = np.abs(theirs - data.fermi_level) < 10.0
            worst = max(worst, float(np.abs(ours[:len(theirs)][window] - theirs[window]).max()))
        s_err = overlap_matrix(data.atoms, data.basis, [PAO]).error_stats(data.overlap)["max_abs"]
        calc = HamiltonianCalculator.from_data(data, kpts=tuple(int(n) for n in mesh))
        ef_err = (calc.get_fermi_level() - ref["chemical_potential"]) * 1000
        results[folder.name] = {"eigenvalues_max_eV": worst, "overlap_max_abs": s_err, "fermi_level_meV": ef_err}
        print(f"{folder.name:24s} eigenvalues max {worst:.1e} eV | S max {s_err:.1e} | E_F {ef_err:+.4f} meV", flush=True)
    print(json.dumps({"benchmark": "verify_against_openmx", "results": results}))


if __name__ == "__main__":
    main()
