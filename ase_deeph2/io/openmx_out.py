"""OpenMX's text log (``openmx.out``): SCF eigenvalues, SCF history, and the checks that tie a
read ``.scfout`` to it (the eigenvalues of H(k)c = E S(k)c against OpenMX's own)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from os import PathLike
from pathlib import Path

import numpy as np
import scipy.linalg as sl
from ase.units import Hartree

from .data import HamiltonianData

__all__ = ["read_openmx_eigenvalues", "ScfHistory", "read_scf_history", "eigenvalue_deviation", "scf_mesh"]


def read_openmx_eigenvalues(path: str | PathLike) -> dict:
    """The SCF eigenvalues printed in an OpenMX ``.out`` log.

    Returns ``{"kpts": (nk, 3) fractional, "eigenvalues": (n_spin, nk, n_bands) eV,
    "chemical_potential": eV}``. OpenMX prints k to 5 decimals; snap them to your mesh if needed.
    """
    path = Path(path)
    text = path.read_text(errors="replace")
    m = re.search(r"Chemical potential \(Hartree\)\s+(\S+)", text)
    start = text.find("Eigenvalues (Hartree) of SCF KS-eq.")
    if m is None or start < 0:
        raise ValueError(f"{path}: no 'Chemical potential' or 'Eigenvalues (Hartree) of SCF KS-eq.' section; "
                         "is this a finished OpenMX .out log?")
    row = re.compile(r"^\s*\d+((?:\s+-?\d+\.\d+(?:[eE][-+]?\d+)?)+)\s*$", re.M)
    section = text[start:]
    stop = section.find("*****", section.find("kloop="))  # the section ends at the next banner
    kpts, eigs = [], []
    for block in re.split(r"kloop=\d+", section[:stop if stop > 0 else None])[1:]:
        km = re.search(r"k1=\s*(\S+)\s+k2=\s*(\S+)\s+k3=\s*(\S+)", block)
        if km is None:
            raise ValueError(f"{path}: a kloop entry without its k1= k2= k3= line")
        kpts.append([float(x) for x in km.groups()])
        eigs.append([[float(v) for v in r.split()] for r in row.findall(block[km.end():])])
    if not kpts:
        raise ValueError(f"{path}: no k-points found in the eigenvalue section")
    eig = np.array(eigs, dtype=np.float64).transpose(2, 0, 1) * Hartree
    return {"kpts": np.array(kpts), "eigenvalues": eig, "chemical_potential": float(m.group(1)) * Hartree}


@dataclass
class ScfHistory:
    """The SCF loop of an OpenMX run.

    Attributes:
        iterations: SCF steps done.
        norm_rd: the last residual norm (NormRD).
        criterion: ``scf.criterion`` of the input.
        max_iterations: ``scf.maxIter`` of the input.
        finished: the log reached its final chemical potential (the run was not killed).
    """

    iterations: int
    norm_rd: float
    criterion: float
    max_iterations: int
    finished: bool

    @property
    def converged(self) -> bool:
        """OpenMX's verdict: the log finished, and the residual met the criterion or OpenMX stopped
        before ``scf.maxIter`` (it also stops when the band energy changes by less than the
        criterion: seen in the shared graphene_1x1 run, NormRD 1.09e-8 at criterion 1e-8)."""
        return self.finished and (self.norm_rd < self.criterion or self.iterations < self.max_iterations)


def read_scf_history(path: str | PathLike) -> ScfHistory:
    """Parse the ``SCF= n NormRD= x`` lines and the input's criterion from an OpenMX ``.out`` log."""
    path = Path(path)
    text = path.read_text(errors="replace")
    steps = re.findall(r"SCF=\s*(\d+)\s+NormRD=\s*(\S+)", text)
    crit = re.search(r"^\s*scf\.criterion\s+(\S+)", text, re.M | re.I)
    maxit = re.search(r"^\s*scf\.maxIter\s+(\S+)", text, re.M | re.I)
    norm = float(steps[-1][1]) if steps else float("inf")
    return ScfHistory(iterations=int(steps[-1][0]) if steps else 0, norm_rd=norm if np.isfinite(norm) else float("inf"),
                      criterion=float(crit.group(1)) if crit else 1e-6, max_iterations=int(maxit.group(1)) if maxit else 40,
                      finished="Chemical potential (Hartree)" in text)


def scf_mesh(data: HamiltonianData) -> tuple[int, int, int] | None:
    """The Monkhorst-Pack mesh of the run that made ``data`` (OpenMX's ``scf.Kgrid``), None when unknown."""
    grid = data.info.get("keywords", {}).get("scf.kgrid")
    if not grid:
        return None
    try:
        n1, n2, n3 = (int(x) for x in grid.split()[:3])
    except ValueError:
        raise ValueError(f"{data.source}: scf.Kgrid {grid!r} is not three integers") from None
    return n1, n2, n3


def eigenvalue_deviation(data: HamiltonianData, out_path: str | PathLike, window: float = 10.0) -> float:
    """max |E_ours - E_openmx| (eV) of H(k)c = E S(k)c at the SCF k points of ``openmx.out``, over the
    states within ``window`` eV of OpenMX's chemical potential (every spin channel).

    OpenMX prints k to 5 decimals: they are snapped to the run's Monkhorst-Pack mesh (multiples of
    1/(2n)) when the run's ``scf.Kgrid`` is known.
    """
    ref = read_openmx_eigenvalues(out_path)
    kpts = ref["kpts"]
    grid = scf_mesh(data)
    if grid is not None:
        mesh = np.array(grid, dtype=float)
        kpts = np.round(kpts * 2 * mesh) / (2 * mesh)
    s = data.overlap.to_spinor() if data.hamiltonians[0].spinful else data.overlap
    worst = 0.0
    for spin, h in enumerate(data.hamiltonians):
        for ik, k in enumerate(kpts):
            ours = sl.eigvalsh(h.to_dense(k), s.to_dense(k))
            theirs = ref["eigenvalues"][min(spin, len(ref["eigenvalues"]) - 1), ik]
            n = min(len(ours), len(theirs))
            near = np.abs(theirs[:n] - ref["chemical_potential"]) < window
            if near.any():
                worst = max(worst, float(np.abs(ours[:n][near] - theirs[:n][near]).max()))
    return worst
