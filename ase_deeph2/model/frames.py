"""Edge frames: per-edge rotations between the global feature layout and the bond frame.

Node features live in the global frame, standard layout (row ``l^2 + l + m``). Edge features
live in their bond frame (the bond on the polar axis), in the *m-major* layout of the SO(2)
layers (:attr:`~.layout.FeatureLayout.m_major`): m = 0 rows of every l first, then +1, -1, ....
In that frame an SO(3)-equivariant map reduces to an SO(2)-equivariant one about the bond (eSCN,
DeepH-2). One dense matrix per edge, M = P blockdiag_l(D^l)^T with P the m-major permutation,
takes a global feature to the bond frame in m-major order (``M x``) and back (``M^T x``): one
batched product per rotation instead of a split, a product per l, a concatenation and a gather
(2.6x faster measured on 45k edges, although it does 3.8x the arithmetic).
"""

from __future__ import annotations

import numpy as np
import torch

from .. import rotations
from .layout import FeatureLayout

__all__ = ["EdgeFrames"]


class EdgeFrames:
    """Rotations of a set of edges into their bond frames.

    Args:
        vectors: (E, 3) bond vectors in Å (any dtype; angles are computed in float64 numpy).
        layout: the feature layout (lmax, and the m-major order of the edge features).
        dtype: dtype of the stored matrices (the model's dtype).
        gamma: roll about the bond: ``None`` (the frame closest to the identity for bonds near +z,
            see :func:`~ase_deeph2.rotations.edge_angles`), ``"random"`` (a uniform roll drawn
            from torch's generator) or a tensor (E,) of rolls; results of an equivariant network
            do not depend on it.
    """

    def __init__(self, vectors: torch.Tensor, layout: FeatureLayout, dtype: torch.dtype, gamma=None):
        v = vectors.detach().to("cpu", torch.float64).numpy()
        if isinstance(gamma, str):
            if gamma != "random":
                raise ValueError(f"gamma must be None, 'random' or a tensor, got {gamma!r}")
            roll = np.random.default_rng(int(torch.randint(2**31, (1,)))).uniform(0, 2 * np.pi, len(v))
        else:
            roll = None if gamma is None else gamma.detach().to("cpu", torch.float64).numpy()
        angles = rotations.edge_angles(v, roll)
        order = layout.m_major[0].numpy()
        position = np.empty(layout.rows, dtype=np.int64)  # row of each standard row in the m-major layout
        position[np.concatenate([order, np.setdiff1d(np.arange(layout.rows), order)])] = np.arange(layout.rows)
        matrix = np.zeros((len(v), layout.rows, layout.rows), dtype=np.float64)
        for l in range(layout.lmax + 1):
            rows = np.arange(l * l, (l + 1) ** 2)
            matrix[:, position[rows][:, None], rows[None, :]] = rotations.wigner_D(l, *angles).transpose(0, 2, 1)
        self.layout = layout
        self.matrix = torch.from_numpy(matrix).to(device=vectors.device, dtype=dtype)

    def __len__(self) -> int:
        return self.matrix.shape[0]

    def select(self, index: torch.Tensor | slice) -> "EdgeFrames":
        """The frames of a subset of the edges."""
        out = EdgeFrames.__new__(EdgeFrames)
        out.layout, out.matrix = self.layout, self.matrix[index]
        return out

    def to_local(self, x: torch.Tensor) -> torch.Tensor:
        """Global standard layout -> bond frame, m-major: (E, rows, C) -> same shape."""
        return torch.bmm(self.matrix, x)

    def to_global(self, x: torch.Tensor) -> torch.Tensor:
        """Bond frame, m-major -> global standard layout: (E, rows, C) -> same shape."""
        return torch.bmm(self.matrix.transpose(1, 2), x)

    def polar_to_global(self, m0: torch.Tensor) -> torch.Tensor:
        """A bond-frame feature that is ``m0`` (E, lmax+1, C) on the m = 0 rows and zero elsewhere,
        in the global frame: (E, rows, C)."""
        return torch.bmm(self.matrix[:, :self.layout.lmax + 1].transpose(1, 2), m0)
