"""The ELCT block: edge update and multi-head attention over neighbours, both in the bond frame.

Edges are processed in chunks (all at once in training; bounded chunks for large structures):
per chunk the edge update is applied and its attention messages are folded into the receiving
atoms with an online (streaming) softmax, which gives exactly the full softmax over all
neighbours without holding every message at once.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from .config import ELCTConfig
from .frames import EdgeFrames
from .layers import EquivariantLayerNorm, FrameGate, GatedFFN, O3Linear, RadialMLP, SO2Linear

__all__ = ["EdgeContext", "ELCTBlock", "OnlineSoftmax", "edge_chunks"]


@dataclass
class EdgeContext:
    """What every block needs about the edges: receiver i, sender j, frames, invariant inputs (E, n_inv)."""

    receiver: torch.Tensor
    sender: torch.Tensor
    frames: EdgeFrames
    invariants: torch.Tensor
    n_atoms: int


def edge_chunks(n_edges: int, chunk: int | None) -> list[slice]:
    """Contiguous slices covering range(n_edges); one slice when ``chunk`` is None."""
    if chunk is None or chunk >= n_edges:
        return [slice(0, n_edges)]
    return [slice(s, min(s + chunk, n_edges)) for s in range(0, n_edges, chunk)]


class OnlineSoftmax:
    """Accumulates sum_j softmax_j(logit_ij) * value_ij per receiver i and head, chunk by chunk."""

    def __init__(self, n_nodes: int, n_heads: int, value_shape: tuple[int, ...], like: torch.Tensor):
        self.max = like.new_full((n_nodes, n_heads), float("-inf"))
        self.norm = like.new_zeros(n_nodes, n_heads)
        self.acc = like.new_zeros(n_nodes, *value_shape[:-1], n_heads, value_shape[-1])

    def add(self, receiver: torch.Tensor, logits: torch.Tensor, values: torch.Tensor) -> None:
        """receiver (Ec,), logits (Ec, H), values (Ec, ..., H, d)."""
        with torch.no_grad():  # the shift cancels in the softmax: no gradient needed through it
            chunk_max = torch.full_like(self.max, float("-inf")).scatter_reduce(
                0, receiver[:, None].expand_as(logits), logits, reduce="amax", include_self=True)
            new_max = torch.maximum(self.max, chunk_max)
            safe = torch.where(torch.isfinite(new_max), new_max, torch.zeros_like(new_max))
            rescale = torch.exp(torch.where(torch.isfinite(self.max), self.max - safe, torch.full_like(safe, -torch.inf)))
        weights = torch.exp(logits - safe[receiver])
        extra_dims = (None,) * (values.dim() - 3)
        self.norm = self.norm * rescale + torch.zeros_like(self.norm).index_add(0, receiver, weights)
        weighted = values * weights[(slice(None), *extra_dims, slice(None), None)]
        self.acc = self.acc * rescale[(slice(None), *extra_dims, slice(None), None)] + \
            torch.zeros_like(self.acc).index_add(0, receiver, weighted)
        self.max = new_max

    def result(self) -> torch.Tensor:
        """(N, ..., H, d); zero for atoms without neighbours."""
        extra_dims = (None,) * (self.acc.dim() - 3)
        norm = self.norm.clamp_min(torch.finfo(self.norm.dtype).tiny)
        return self.acc / norm[(slice(None), *extra_dims, slice(None), None)]


class ELCTBlock(nn.Module):
    """One block: e_ij += EdgeUpdate(x_i, x_j, e_ij); x_i += Attention_j(x_i, x_j, e_ij); x_i += FFN(x_i).

    Edge features stay in their bond frame (m-major); node features are rotated into it once per
    edge and block, for both the edge update and the attention message.
    """

    def __init__(self, config: ELCTConfig, n_invariants: int):
        super().__init__()
        L, C, H = config.lmax, config.channels, config.hidden
        layout = config.layout
        self.n_heads, self.rows, self.lmax = config.n_heads, layout.rows, L
        self.register_buffer("degree", layout.m_major_degree, persistent=False)

        def norm(m_major: bool) -> EquivariantLayerNorm:
            return EquivariantLayerNorm(layout, C, eps=config.norm_eps, mode=config.norm, m_major=m_major)

        self.norm_node, self.norm_edge, self.norm_message = norm(False), norm(True), norm(True)
        self.edge_radial = RadialMLP(n_invariants, config.radial_hidden, (L + 1) * 3 * C)
        self.edge_in = SO2Linear(layout, 3 * C, H)
        self.edge_gate = FrameGate(layout, H)
        self.edge_out = SO2Linear(layout, H, C)
        self.att_radial = RadialMLP(n_invariants, config.radial_hidden, (L + 1) * 3 * C)
        self.att_in = SO2Linear(layout, 3 * C, H)
        self.att_gate = FrameGate(layout, H)
        self.att_logits = nn.Linear((L + 1) * H, config.n_heads)
        self.att_value = SO2Linear(layout, H, H)
        self.att_out = O3Linear(layout, H, C)
        self.norm_ffn = norm(False)
        self.ffn = GatedFFN(layout, C, 2 * C)

    def _modulated(self, nodes: torch.Tensor, edges: torch.Tensor, radial: nn.Module,
                   invariants: torch.Tensor) -> torch.Tensor:
        """[rotated node features, edge features] (bond frame, m-major), scaled per (l, channel) by the radial MLP."""
        local = torch.cat([nodes, edges], dim=-1)
        weights = radial(invariants).reshape(len(local), -1, local.shape[-1])
        return local * weights.index_select(1, self.degree)

    def forward(self, x: torch.Tensor, e: torch.Tensor, ctx: EdgeContext, chunk: int | None = None
                ) -> tuple[torch.Tensor, torch.Tensor]:
        """x (N, rows, C) node features (global frame, standard layout), e (E, rows, C) edge features
        (bond frame, m-major) -> updated (x, e)."""
        xn = self.norm_node(x)
        head_dim = self.att_value.c_out // self.n_heads
        softmax = OnlineSoftmax(ctx.n_atoms, self.n_heads, (self.rows, head_dim), x)
        new_edges = []
        for s in edge_chunks(len(e), chunk):
            frames, recv, send, inv = ctx.frames.select(s), ctx.receiver[s], ctx.sender[s], ctx.invariants[s]
            nodes = frames.to_local(torch.cat([xn[recv], xn[send]], dim=-1))
            h = self._modulated(nodes, self.norm_edge(e[s]), self.edge_radial, inv)
            e_s = e[s] + self.edge_out(self.edge_gate(self.edge_in(h)))
            new_edges.append(e_s)
            a = self.att_gate(self.att_in(self._modulated(nodes, self.norm_message(e_s), self.att_radial, inv)))
            logits = self.att_logits(a[:, :self.lmax + 1].reshape(len(a), -1))
            values = frames.to_global(self.att_value(a)).reshape(len(a), self.rows, self.n_heads, head_dim)
            softmax.add(recv, logits, values)
        e = new_edges[0] if len(new_edges) == 1 else torch.cat(new_edges)
        x = x + self.att_out(softmax.result().reshape(ctx.n_atoms, self.rows, -1))
        x = x + self.ffn(self.norm_ffn(x))
        return x, e
