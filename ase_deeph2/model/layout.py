"""The (l, m) layout of equivariant features: the one owner of which row holds which (l, m).

Features are stored as ``[n, (lmax + 1)^2, channels]``; row ``l^2 + l + m`` holds (l, m) with
m = -l..l in the Wikipedia real-SH order (e3nn's, with the axes of ``rotations``). Every module of the
network asks a :class:`FeatureLayout` for its index tensors instead of recomputing them.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

import torch

__all__ = ["FeatureLayout"]


@dataclass(frozen=True)
class FeatureLayout:
    """Row bookkeeping for features with irreps l = 0..lmax (and |m| <= mmax in the SO(2) layers).

    Attributes:
        lmax: highest degree.
        mmax: highest |m| kept by the edge-frame SO(2) layers (``lmax`` = no truncation).
    """

    lmax: int
    mmax: int

    def __post_init__(self) -> None:
        if not 0 <= self.mmax <= self.lmax:
            raise ValueError(f"mmax must be in 0..lmax = {self.lmax}, got {self.mmax}")

    @property
    def rows(self) -> int:
        """(lmax + 1)^2: rows of a feature array."""
        return (self.lmax + 1) ** 2

    @property
    def sizes(self) -> list[int]:
        """[2l + 1 for l = 0..lmax]: rows of each degree (for ``torch.split`` along dim 1)."""
        return [2 * l + 1 for l in range(self.lmax + 1)]

    def degree_slice(self, l: int) -> slice:
        """Rows of degree ``l``."""
        return slice(l * l, (l + 1) ** 2)

    @cached_property
    def degree(self) -> torch.Tensor:
        """(rows,) int64: the l of each row."""
        return torch.cat([torch.full((2 * l + 1,), l, dtype=torch.long) for l in range(self.lmax + 1)])

    @cached_property
    def m_zero_rows(self) -> torch.Tensor:
        """(lmax + 1,) rows of m = 0 for l = 0..lmax (the invariants of the bond frame)."""
        return torch.tensor([l * l + l for l in range(self.lmax + 1)], dtype=torch.long)

    def m_rows(self, m: int) -> torch.Tensor:
        """Rows of order ``m`` (may be negative) for l = |m|..lmax."""
        return torch.tensor([l * l + l + m for l in range(abs(m), self.lmax + 1)], dtype=torch.long)

    @cached_property
    def m_major(self) -> tuple[torch.Tensor, list[int], torch.Tensor]:
        """The SO(2) layers' order: (gather index, group sizes, inverse index).

        The gather index lists the m = 0 rows, then for m = 1..mmax the +m rows and the -m rows
        (each over l = m..lmax); rows with |m| > mmax come last and are dropped by the layers.
        The inverse index undoes the gather (it points dropped rows at the end of the order).
        """
        groups = [self.m_rows(0)]
        for m in range(1, self.mmax + 1):
            groups += [self.m_rows(m), self.m_rows(-m)]
        kept = torch.cat(groups)
        dropped = torch.tensor(sorted(set(range(self.rows)) - set(kept.tolist())), dtype=torch.long)
        return kept, [len(g) for g in groups], torch.argsort(torch.cat([kept, dropped]))

    @cached_property
    def m_major_degree(self) -> torch.Tensor:
        """(rows,) int64: the l of each row in the m-major layout (dropped rows last)."""
        kept = self.m_major[0]
        dropped = torch.tensor(sorted(set(range(self.rows)) - set(kept.tolist())), dtype=torch.long)
        return self.degree[torch.cat([kept, dropped])]

    @property
    def n_dropped(self) -> int:
        """Rows with |m| > mmax."""
        return self.rows - len(self.m_major[0])
