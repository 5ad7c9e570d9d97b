"""Structures for training corpora that ASE does not build directly: stacked bilayers with random
interlayer sliding. (Perturbed supercells of one structure: ``deeph2 dft --supercell --count``.)"""

from __future__ import annotations

import numpy as np
from ase import Atoms
from ase.build import graphene

__all__ = ["bilayer", "sliding_bilayers", "HIGH_SYMMETRY_STACKINGS"]

#: Fractional in-plane shifts of the upper layer of graphene (ASE's cell: atoms at (0, 0) and
#: (2/3, 1/3)): AA (eclipsed), AB and BA (Bernal: one upper atom over a lower atom, the other over
#: a hexagon centre), and SP, the saddle point halfway between them (a shift by half a bond).
HIGH_SYMMETRY_STACKINGS = {"AA": (0.0, 0.0), "AB": (2 / 3, 1 / 3), "BA": (1 / 3, 2 / 3), "SP": (1 / 3, 1 / 6)}


def bilayer(shift: tuple[float, float], distance: float, reps=(3, 3, 1), a: float = 2.46, c: float = 20.0) -> Atoms:
    """Two graphene layers ``distance`` Å apart, the upper shifted by ``shift`` (fractions of the
    primitive cell vectors), centred in a cell ``c`` Å high, repeated by ``reps``; pbc along a, b."""
    lower = graphene(a=a, vacuum=c / 2)
    upper = lower.copy()
    upper.positions[:, :2] += np.asarray(shift) @ lower.cell.array[:2, :2]
    lower.positions[:, 2] -= distance / 2
    upper.positions[:, 2] += distance / 2
    both = lower + upper
    both.wrap()
    return both.repeat(reps)


def sliding_bilayers(n: int, seed: int = 22, distances: tuple[float, float] = (3.25, 3.45), reps=(3, 3, 1)) -> list[Atoms]:
    """``n`` bilayers: the high-symmetry stackings first, then uniformly random sliding; interlayer
    distances uniform in ``distances`` (Å). Reproducible: one generator seeded with ``seed``."""
    rng = np.random.default_rng(seed)
    fixed = list(HIGH_SYMMETRY_STACKINGS.values())
    out = []
    for k in range(n):
        shift = fixed[k] if k < len(fixed) else tuple(rng.uniform(0, 1, 2))
        out.append(bilayer(shift, rng.uniform(*distances), reps))
    return out
