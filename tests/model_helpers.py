"""Random ELCT models and rotations for the model tests."""

from __future__ import annotations

import numpy as np
import torch
from ase import Atoms
from scipy.linalg import block_diag

from ase_deeph2.model import ELCT, ELCTConfig
from ase_deeph2.model.io import _default_dtype
from ase_deeph2.rotations import rotation_matrix, wigner_D

ANGLES = (0.7, 1.9, -2.3)


def make_model(basis, lmax=4, seed=0, dtype=torch.float64, **kw):
    """A random model with non-trivial output statistics (scales and on-site offsets)."""
    torch.manual_seed(seed)
    cfg = ELCTConfig(basis=basis.to_strings(), lmax=lmax, channels=8, hidden=8, n_blocks=2, n_heads=2, **kw)
    with _default_dtype(torch.float64):
        model = ELCT(cfg)
    for head in [*model.onsite_heads, *model.edge_heads]:
        head.scale.uniform_(0.5, 2.0)
        head.offset.normal_()
    return model.to(dtype)


def wigner_per_atom(basis, symbols, angles=ANGLES):
    """Block-diagonal D over each atom's shells for the rotation of ``angles``."""
    per_element = {el: block_diag(*[wigner_D(l, *([a] for a in angles))[0] for l in basis[el].ls]) for el in basis}
    return [per_element[s] for s in symbols]


def rotated(atoms: Atoms, angles=ANGLES) -> Atoms:
    R = rotation_matrix(*([a] for a in angles))[0]
    out = atoms.copy()
    out.positions = atoms.positions @ R.T
    out.cell = atoms.cell.array @ R.T
    return out


def equivariance_error(h, h_rot, basis, symbols, angles=ANGLES) -> float:
    """max |H'(i, j, R) - D_i H(i, j, R) D_j^T| over all blocks (eV)."""
    D = wigner_per_atom(basis, symbols, angles)
    worst = 0.0
    for p, (r1, r2, r3, i, j) in enumerate(h.pairs):
        worst = max(worst, float(np.abs(h_rot.block(i, j, (r1, r2, r3)) - D[i] @ h.block_at(p) @ D[j].T).max()))
    return worst


def distorted_molecule() -> Atoms:
    """A non-periodic MoS2-like cluster with no symmetry."""
    rng = np.random.default_rng(4)
    pos = np.array([[0, 0, 0], [1.6, 0.9, 1.5], [1.6, 0.9, -1.6], [-1.5, 1.0, 1.4], [0.1, -1.9, 1.6]], float)
    return Atoms("MoS4", positions=pos + rng.normal(scale=0.1, size=pos.shape), pbc=False)
