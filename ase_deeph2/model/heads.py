"""Output heads: irreps -> orbital blocks by the Wigner-Eckart theorem.

For shells with angular momenta (l1, l2) the sub-block is ``sum_l wigner_3j(l1, l2, l) x^l`` over
l = |l1 - l2| .. l1 + l2: each (shell pair, l) is a *path* fed by its own irrep-l feature. One
fixed matrix per species pair maps all path features to all block entries. Output statistics
(a scale per path, and an offset on the on-site l = 0 paths of equal-l shells, the only place
where a constant is rotation-invariant: it is a multiple of the identity) are fitted from data.
"""

from __future__ import annotations

import math

import numpy as np
import torch
from torch import nn

from e3nn import o3

__all__ = ["coupling_paths", "wigner_eckart_matrix", "WignerEckartHead", "wigner_3j"]


def wigner_3j(l1: int, l2: int, l3: int) -> torch.Tensor:
    """Real Wigner 3j tensor (2l1+1, 2l2+1, 2l3+1) float64 in the Wikipedia real-SH basis (e3nn's).

    Wigner-Eckart: a block ``B_ab = sum_c W_abc x_c`` built from an irrep-l3 feature x transforms
    as ``D^l1 B D^l2^T`` when x transforms as ``D^l3 x``.
    """
    return o3.wigner_3j(l1, l2, l3, dtype=torch.float64)


def coupling_paths(ls_a: tuple[int, ...], ls_b: tuple[int, ...]) -> list[tuple[int, int, int]]:
    """All (shell_a, shell_b, l) with |l_a - l_b| <= l <= l_a + l_b, sorted by l (then shells)."""
    paths = [(s1, s2, l) for s1, l1 in enumerate(ls_a) for s2, l2 in enumerate(ls_b)
             for l in range(abs(l1 - l2), l1 + l2 + 1)]
    return sorted(paths, key=lambda p: (p[2], p[0], p[1]))


def _shell_starts(ls: tuple[int, ...]) -> list[int]:
    return list(np.concatenate([[0], np.cumsum([2 * l + 1 for l in ls])])[:-1])


def wigner_eckart_matrix(ls_a: tuple[int, ...], ls_b: tuple[int, ...]) -> torch.Tensor:
    """(sum over paths of (2l+1), n_a * n_b) float64 map from path features to block entries.

    Rows are ordered by path (as :func:`coupling_paths`), then m. Each path's 3j tensor is scaled
    by sqrt(2l+1) so that unit-variance features give blocks of order one.
    """
    paths = coupling_paths(ls_a, ls_b)
    n_a, n_b = sum(2 * l + 1 for l in ls_a), sum(2 * l + 1 for l in ls_b)
    start_a, start_b = _shell_starts(ls_a), _shell_starts(ls_b)
    rows = sum(2 * l + 1 for _, _, l in paths)
    out = torch.zeros(rows, n_a, n_b, dtype=torch.float64)
    row = 0
    for s1, s2, l in paths:
        l1, l2 = ls_a[s1], ls_b[s2]
        w = wigner_3j(l1, l2, l) * math.sqrt(2 * l + 1)  # (2l1+1, 2l2+1, 2l+1)
        out[row:row + 2 * l + 1, start_a[s1]:start_a[s1] + 2 * l1 + 1, start_b[s2]:start_b[s2] + 2 * l2 + 1] = \
            w.permute(2, 0, 1)
        row += 2 * l + 1
    return out.reshape(rows, n_a * n_b)


class WignerEckartHead(nn.Module):
    """Features (n, (lmax+1)^2, C) of one species pair -> blocks (n, n_a, n_b)."""

    def __init__(self, lmax: int, channels: int, ls_a: tuple[int, ...], ls_b: tuple[int, ...], onsite: bool):
        super().__init__()
        paths = coupling_paths(ls_a, ls_b)
        self.n_a, self.n_b = sum(2 * l + 1 for l in ls_a), sum(2 * l + 1 for l in ls_b)
        self.path_l = [l for _, _, l in paths]
        self.counts = [self.path_l.count(l) for l in range(lmax + 1)]
        self.weight = nn.ParameterList(
            nn.Parameter(torch.randn(channels, k) / math.sqrt(channels)) for k in self.counts)
        self.register_buffer("coupling", wigner_eckart_matrix(ls_a, ls_b).to(torch.get_default_dtype()))
        self.register_buffer("scale", torch.ones(len(paths)))
        offset_paths = [p for p, (s1, s2, l) in enumerate(paths) if onsite and l == 0 and ls_a[s1] == ls_b[s2]]
        self.register_buffer("offset_paths", torch.tensor(offset_paths, dtype=torch.long))
        self.register_buffer("offset", torch.zeros(len(offset_paths)))
        # position of each path's first row in the coupling matrix, and of its features in z
        sizes = [2 * l + 1 for l in self.path_l]
        self.register_buffer("path_row", torch.tensor(np.concatenate([[0], np.cumsum(sizes)[:-1]]), dtype=torch.long))
        self.register_buffer("row_path", torch.tensor(np.repeat(np.arange(len(paths)), sizes), dtype=torch.long))

    def path_features(self, f: torch.Tensor) -> torch.Tensor:
        """(n, (lmax+1)^2, C) -> (n, sum (2l+1)) unscaled path features, rows ordered like ``coupling``."""
        parts = []
        for l, w in enumerate(self.weight):
            if w.shape[1]:
                z = torch.einsum("nmc,ck->nkm", f[:, l * l:(l + 1) ** 2], w)
                parts.append(z.reshape(len(f), -1))
        return torch.cat(parts, dim=1)

    def forward(self, f: torch.Tensor) -> torch.Tensor:
        z = self.path_features(f) * self.scale[self.row_path]
        if len(self.offset_paths):
            z = z.index_add(1, self.path_row[self.offset_paths], self.offset.expand(len(z), -1))
        return (z @ self.coupling).reshape(len(f), self.n_a, self.n_b)

    @torch.no_grad()
    def fit_statistics(self, blocks: torch.Tensor) -> None:
        """Set scale (RMS per path) and offset (mean of the on-site l = 0 paths) from target blocks (n, n_a, n_b)."""
        coupling = self.coupling.to(torch.float64)
        # rows of the coupling matrix are orthogonal with squared norm 1: project by the transpose
        z = blocks.reshape(len(blocks), -1).to(torch.float64) @ coupling.T
        path_sum = torch.zeros(len(blocks), len(self.path_l), dtype=torch.float64)
        if len(self.offset_paths):
            means = z[:, self.path_row[self.offset_paths]].mean(dim=0)
            self.offset.copy_(means.to(self.offset.dtype))
            z[:, self.path_row[self.offset_paths]] -= means
        path_sum.index_add_(1, self.row_path, z.pow(2))
        sizes = torch.tensor([2 * l + 1 for l in self.path_l], dtype=torch.float64)
        rms = (path_sum.mean(dim=0) / sizes).sqrt()
        self.scale.copy_(torch.clamp(rms, min=1e-6).to(self.scale.dtype))
