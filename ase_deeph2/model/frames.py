"""Edge frames: per-edge Wigner matrices that rotate features into the frame of the bond.

Features are stored as ``[n, (lmax + 1)^2, channels]`` with row ``l^2 + l + m`` holding (l, m) in
the Wikipedia real-SH order. In the edge frame the bond lies on the polar axis (physical z); there,
an SO(3)-equivariant map reduces to an SO(2)-equivariant one about the bond (eSCN, DeepH-2).
"""

from __future__ import annotations

import torch

from .. import so3

__all__ = ["EdgeFrames", "m_layout"]


def m_layout(lmax: int, mmax: int) -> tuple[torch.Tensor, list[torch.Tensor], list[torch.Tensor]]:
    """Rows of the (l, m) layout grouped by m: (m = 0 rows, [+m rows for m = 1..mmax], [-m rows]).

    For each m the rows run over l = m..lmax.
    """
    zero = torch.tensor([l * l + l for l in range(lmax + 1)])
    plus = [torch.tensor([l * l + l + m for l in range(m, lmax + 1)]) for m in range(1, mmax + 1)]
    minus = [torch.tensor([l * l + l - m for l in range(m, lmax + 1)]) for m in range(1, mmax + 1)]
    return zero, plus, minus


class EdgeFrames:
    """Wigner-D matrices of the edge frames of a set of edges (l = 0..lmax).

    ``D^l`` rotates the polar axis onto the bond, so ``D^T x`` expresses a global feature in the
    bond frame and ``D x`` brings it back.

    Args:
        vectors: (E, 3) bond vectors in Å (float64 recommended: the angles keep full precision).
        lmax: highest l.
        dtype: dtype of the stored matrices (the model's dtype).
        gamma: roll about the bond (``None``, ``"random"`` or a tensor (E,)); results of an
            equivariant network do not depend on it.
    """

    def __init__(self, vectors: torch.Tensor, lmax: int, dtype: torch.dtype, gamma=None):
        alpha, beta, gamma = so3.edge_angles(vectors.to(torch.float64), gamma)
        self.lmax = lmax
        self.D = [so3.wigner_D(l, alpha, beta, gamma).to(dtype) for l in range(lmax + 1)]

    def __len__(self) -> int:
        return self.D[0].shape[0]

    def select(self, index: torch.Tensor | slice) -> "EdgeFrames":
        """The frames of a subset of the edges."""
        out = EdgeFrames.__new__(EdgeFrames)
        out.lmax, out.D = self.lmax, [d[index] for d in self.D]
        return out

    def _apply(self, x: torch.Tensor, transpose: bool) -> torch.Tensor:
        blocks = torch.split(x, [2 * l + 1 for l in range(self.lmax + 1)], dim=1)
        rotated = [torch.bmm(d.transpose(1, 2) if transpose else d, b) for d, b in zip(self.D[1:], blocks[1:])]
        return torch.cat([blocks[0], *rotated], dim=1)  # D^0 = 1

    def to_local(self, x: torch.Tensor) -> torch.Tensor:
        """Global -> bond frame: (E, (lmax+1)^2, C) -> same shape."""
        return self._apply(x, transpose=True)

    def to_global(self, x: torch.Tensor) -> torch.Tensor:
        """Bond frame -> global: (E, (lmax+1)^2, C) -> same shape."""
        return self._apply(x, transpose=False)

    def polar_column(self) -> torch.Tensor:
        """(E, (lmax+1)^2): column m = 0 of each D^l, i.e. ``D x`` for a feature that is 1 at (l, 0)."""
        return torch.cat([d[:, :, l] for l, d in enumerate(self.D)], dim=1)
