"""Equivariant building blocks: radial basis, SO(2) linear maps, gates, norms, per-l linear maps.

Feature layout everywhere: ``[n, (lmax + 1)^2, channels]``, row ``l^2 + l + m`` (Wikipedia real-SH
order, e3nn ``component`` normalisation).
"""

from __future__ import annotations

import math

import torch
from torch import nn

from .frames import m_layout

__all__ = ["RadialBasis", "RadialMLP", "SO2Linear", "FrameGate", "EquivariantLayerNorm", "O3Linear", "GatedFFN",
           "degree_index"]


def degree_index(lmax: int) -> torch.Tensor:
    """(lmax+1)^2 tensor: the l of each row of the feature layout."""
    return torch.cat([torch.full((2 * l + 1,), l) for l in range(lmax + 1)])


class RadialBasis(nn.Module):
    """Gaussians of the scaled distance x = |r_ij| / (rc_i + rc_j) in [0, 1), times a smooth envelope.

    The envelope ``1 - 28x^6 + 48x^7 - 21x^8`` (DimeNet) and its first two derivatives vanish at
    x = 1, where the basis functions stop overlapping.
    """

    def __init__(self, n: int):
        super().__init__()
        self.register_buffer("centers", torch.linspace(0.0, 1.0, n))
        self.width = 1.0 / n

    @staticmethod
    def envelope(x: torch.Tensor) -> torch.Tensor:
        x = x.clamp(0.0, 1.0)
        return 1 - 28 * x**6 + 48 * x**7 - 21 * x**8

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(E,) scaled distances -> (E, n)."""
        g = torch.exp(-0.5 * ((x[:, None] - self.centers) / self.width) ** 2)
        return g * self.envelope(x)[:, None]


class RadialMLP(nn.Sequential):
    """Invariant edge inputs -> per-edge modulation weights."""

    def __init__(self, n_in: int, hidden: int, n_out: int):
        super().__init__(nn.Linear(n_in, hidden), nn.SiLU(), nn.Linear(hidden, hidden), nn.SiLU(),
                         nn.Linear(hidden, n_out))


class SO2Linear(nn.Module):
    """Linear map in the edge frame, equivariant under rotations about the bond.

    m = 0 rows of all l are mixed by one matrix (with bias: they are invariant in the bond frame);
    for 0 < m <= mmax the (+m, -m) rows share weights as a complex multiply [[A, -B], [B, A]];
    channels of different l mix freely. Rows with |m| > mmax are dropped (set to zero).
    Internally the rows are gathered once into m-major order and scattered back once.
    """

    def __init__(self, lmax: int, mmax: int, c_in: int, c_out: int):
        super().__init__()
        self.lmax, self.mmax, self.c_out = lmax, mmax, c_out
        zero, plus, minus = m_layout(lmax, mmax)
        order = torch.cat([zero, *[torch.cat([p, q]) for p, q in zip(plus, minus)]])
        kept = len(order)
        dropped = torch.tensor(sorted(set(range((lmax + 1) ** 2)) - set(order.tolist())), dtype=torch.long)
        self.register_buffer("to_m_major", order, persistent=False)
        self.register_buffer("from_m_major", torch.argsort(torch.cat([order, dropped])), persistent=False)
        self.sizes = [lmax + 1] + [lmax - m + 1 for m in range(1, mmax + 1) for _ in (0, 1)]
        self.n_dropped = len(dropped)
        self.linear_zero = nn.Linear((lmax + 1) * c_in, (lmax + 1) * c_out)
        self.linear_m = nn.ModuleList(
            nn.Linear((lmax - m + 1) * c_in, 2 * (lmax - m + 1) * c_out, bias=False) for m in range(1, mmax + 1))
        for lin in self.linear_m:  # each output sums two products (A x+ - B x-): keep the variance
            lin.weight.data.mul_(1 / math.sqrt(2))
        assert kept + self.n_dropped == (lmax + 1) ** 2

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(E, (lmax+1)^2, c_in) in the bond frame -> (E, (lmax+1)^2, c_out)."""
        n = x.shape[0]
        parts = torch.split(x.index_select(1, self.to_m_major), self.sizes, dim=1)
        outs = [self.linear_zero(parts[0].reshape(n, -1)).reshape(n, -1, self.c_out)]
        for m, lin in enumerate(self.linear_m, start=1):
            k = self.lmax - m + 1
            z = lin(torch.cat([parts[2 * m - 1].reshape(n, -1), parts[2 * m].reshape(n, -1)])).reshape(2, n, 2, k, -1)
            zp, zm = z[0], z[1]  # W x+ and W x-, each holding (A x, B x)
            outs += [zp[:, 0] - zm[:, 1], zm[:, 0] + zp[:, 1]]
        if self.n_dropped:
            outs.append(x.new_zeros(n, self.n_dropped, self.c_out))
        return torch.cat(outs, dim=1).index_select(1, self.from_m_major)


class FrameGate(nn.Module):
    """Nonlinearity in the bond frame: SiLU on l = 0; every (l >= 1, channel) scaled by a sigmoid
    gate computed from all m = 0 rows (which are invariant in the bond frame)."""

    def __init__(self, lmax: int, channels: int):
        super().__init__()
        self.lmax, self.channels = lmax, channels
        self.register_buffer("rows_zero", torch.tensor([l * l + l for l in range(lmax + 1)]), persistent=False)
        self.register_buffer("degree", degree_index(lmax)[1:] - 1, persistent=False)
        self.gate = nn.Linear((lmax + 1) * channels, lmax * channels)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        n = x.shape[0]
        gates = torch.sigmoid(self.gate(x[:, self.rows_zero].reshape(n, -1))).reshape(n, self.lmax, self.channels)
        return torch.cat([nn.functional.silu(x[:, :1]), x[:, 1:] * gates[:, self.degree]], dim=1)


class EquivariantLayerNorm(nn.Module):
    """Layer norm per degree: l = 0 centred and scaled over channels; l > 0 divided by its RMS over
    (m, channels); learnable scale per (l, channel) and bias on l = 0 (EquiformerV2-style)."""

    def __init__(self, lmax: int, channels: int, eps: float = 1e-6):
        super().__init__()
        self.lmax, self.eps = lmax, eps
        self.weight = nn.Parameter(torch.ones(lmax + 1, channels))
        self.bias = nn.Parameter(torch.zeros(channels))
        self.register_buffer("degree", degree_index(lmax), persistent=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        scalar = x[:, :1]
        scalar = scalar - scalar.mean(dim=-1, keepdim=True)
        scalar = scalar * torch.rsqrt(scalar.pow(2).mean(dim=-1, keepdim=True) + self.eps)
        parts = [scalar * self.weight[0] + self.bias]
        for l in range(1, self.lmax + 1):
            block = x[:, l * l:(l + 1) ** 2]
            rms = torch.rsqrt(block.pow(2).mean(dim=(1, 2), keepdim=True) + self.eps)
            parts.append(block * rms * self.weight[l])
        return torch.cat(parts, dim=1)


class O3Linear(nn.Module):
    """Per-degree channel mixing (equivariant in any frame): y_l = x_l W_l, bias on l = 0."""

    def __init__(self, lmax: int, c_in: int, c_out: int):
        super().__init__()
        self.weight = nn.Parameter(torch.randn(lmax + 1, c_in, c_out) / math.sqrt(c_in))
        self.bias = nn.Parameter(torch.zeros(c_out))
        self.register_buffer("degree", degree_index(lmax), persistent=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(n, (lmax+1)^2, c_in) -> (n, (lmax+1)^2, c_out)."""
        y = torch.einsum("nrc,rcd->nrd", x, self.weight[self.degree])
        return torch.cat([y[:, :1] + self.bias, y[:, 1:]], dim=1)


class GatedFFN(nn.Module):
    """Node feed-forward: per-l linear -> gate (SiLU on l = 0, sigmoid gates from l = 0) -> per-l linear."""

    def __init__(self, lmax: int, channels: int, hidden: int):
        super().__init__()
        self.lmax, self.hidden = lmax, hidden
        self.inner = O3Linear(lmax, channels, hidden)
        self.gate = nn.Linear(hidden, lmax * hidden)
        self.outer = O3Linear(lmax, hidden, channels)
        self.register_buffer("degree", degree_index(lmax)[1:] - 1, persistent=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.inner(x)
        n = h.shape[0]
        gates = torch.sigmoid(self.gate(h[:, 0])).reshape(n, self.lmax, self.hidden)
        h = torch.cat([nn.functional.silu(h[:, :1]), h[:, 1:] * gates[:, self.degree]], dim=1)
        return self.outer(h)
