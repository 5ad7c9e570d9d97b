"""ELCT: the DeepH-2 equivariant local-coordinate transformer, structure -> H(R) blocks (eV)."""

from __future__ import annotations

from typing import Iterable

import torch
from torch import nn

from .block import EdgeContext, ELCTBlock
from .config import ELCTConfig
from .frames import EdgeFrames
from .heads import WignerEckartHead
from .inputs import GraphBatch
from .layers import RadialBasis, RadialMLP

__all__ = ["ELCT"]


class ELCT(nn.Module):
    """Predicts every H block of a structure's BlockMatrix pairs.

    ``model(graph)`` returns (P, n_max, n_max) blocks in eV (zero padded outside each block),
    Hermitian by construction: H_ji(-R) = H_ij(R)^T and on-site blocks symmetric.
    """

    def __init__(self, config: ELCTConfig):
        super().__init__()
        self.config = config
        basis = config.basis_set
        elements = config.elements
        L, C = config.lmax, config.channels
        n_species = len(elements)
        self.register_buffer("cutoffs", torch.tensor([basis[el].cutoff for el in elements]))
        self.n_invariants = config.n_rbf + 2 * config.species_dim
        self.node_embedding = nn.Embedding(n_species, C)
        self.edge_species = nn.Embedding(n_species, config.species_dim)
        self.rbf = RadialBasis(config.n_rbf)
        self.edge_embedding = RadialMLP(self.n_invariants, config.radial_hidden, (L + 1) * C)
        self.blocks = nn.ModuleList(ELCTBlock(config, self.n_invariants) for _ in range(config.n_blocks))
        ls = [basis[el].ls for el in elements]
        self.onsite_heads = nn.ModuleList(WignerEckartHead(L, C, ls[a], ls[a], onsite=True) for a in range(n_species))
        self.edge_heads = nn.ModuleList(WignerEckartHead(L, C, ls[a], ls[b], onsite=False)
                                        for a in range(n_species) for b in range(n_species))
        self.n_max = max(basis[el].n_orbitals for el in elements)

    # ------------------------------------------------------------------ forward
    def _edges(self, graph: GraphBatch, gamma) -> tuple[EdgeContext, torch.Tensor]:
        dtype = self.cutoffs.dtype
        pairs = graph.edges
        recv, send = graph.pair_i[pairs], graph.pair_j[pairs]
        vectors = graph.pair_vectors[pairs]
        si, sj = graph.species[recv], graph.species[send]
        scaled = (vectors.norm(dim=1).to(dtype) / (self.cutoffs[si] + self.cutoffs[sj]))
        invariants = torch.cat([self.rbf(scaled), self.edge_species(si), self.edge_species(sj)], dim=1)
        frames = EdgeFrames(vectors, self.config.layout, dtype, gamma)
        ctx = EdgeContext(recv, send, frames, invariants, graph.n_atoms)
        return ctx, RadialBasis.envelope(scaled)

    def _embed(self, graph: GraphBatch, ctx: EdgeContext) -> tuple[torch.Tensor, torch.Tensor]:
        """Edge features (bond frame, m-major): invariants on the m = 0 rows of every l. Node features:
        species embedding (l = 0) plus the normalised sum of the incoming edge features (global frame)."""
        L, C = self.config.lmax, self.config.channels
        m0 = self.edge_embedding(ctx.invariants).reshape(-1, L + 1, C)
        e = m0.new_zeros(len(m0), (L + 1) ** 2, C)
        e[:, :L + 1] = m0
        x = torch.zeros(graph.n_atoms, (L + 1) ** 2, C, dtype=e.dtype, device=e.device)
        x[:, 0] = self.node_embedding(graph.species)
        x = x.index_add(0, ctx.receiver, ctx.frames.polar_to_global(m0) / self.config.avg_neighbors ** 0.5)
        return x, e

    def forward(self, graph: GraphBatch, edge_chunk: int | None = None, gamma=None,
                node_invariants: bool = False) -> torch.Tensor | tuple[torch.Tensor, torch.Tensor]:
        """Blocks (P, n_max, n_max) in eV for every pair of ``graph``.

        Args:
            edge_chunk: process edges in chunks of this size inside each block (bounded memory for
                large structures; the result is the same).
            gamma: roll of the edge frames about the bonds (None, "random" or a tensor); the output
                does not depend on it (random in training is a cheap consistency check).
            node_invariants: also return the final l = 0 node features (N, channels), the
                network's own rotation-invariant description of each atom's environment.
        """
        ctx, envelope = self._edges(graph, gamma)
        x, e = self._embed(graph, ctx)
        for block in self.blocks:
            x, e = block(x, e, ctx, edge_chunk)
        blocks = self._assemble(graph, x, ctx.frames.to_global(e), envelope, ctx)
        return (blocks, x[:, 0]) if node_invariants else blocks

    def _assemble(self, graph: GraphBatch, x: torch.Tensor, e: torch.Tensor, envelope: torch.Tensor,
                  ctx: EdgeContext) -> torch.Tensor:
        n, n_species = self.n_max, len(self.onsite_heads)
        out = x.new_zeros(graph.n_pairs, n, n)
        onsite_pairs = torch.nonzero(graph.onsite).squeeze(1)
        atoms = graph.pair_i[onsite_pairs]
        for a, head in enumerate(self.onsite_heads):
            sel = torch.nonzero(graph.species[atoms] == a).squeeze(1)
            if len(sel):
                b = head(x[atoms[sel]])
                out[onsite_pairs[sel], :head.n_a, :head.n_b] = 0.5 * (b + b.transpose(1, 2))
        raw = x.new_zeros(len(e), n, n)
        si, sj = graph.species[ctx.receiver], graph.species[ctx.sender]
        for k, head in enumerate(self.edge_heads):
            a, b = divmod(k, n_species)
            sel = torch.nonzero((si == a) & (sj == b)).squeeze(1)
            if len(sel):
                raw[sel, :head.n_a, :head.n_b] = head(e[sel])
        first = torch.nonzero(torch.arange(len(e), device=e.device) < graph.edge_reverse).squeeze(1)
        reverse = graph.edge_reverse[first]
        sym = 0.5 * (raw[first] + raw[reverse].transpose(1, 2)) * envelope[first, None, None]
        out[graph.edges[first]] = sym
        out[graph.edges[reverse]] = sym.transpose(1, 2)  # H_ji(-R) = H_ij(R)^T, exactly
        return out

    # ------------------------------------------------------------------ statistics
    @torch.no_grad()
    def fit_output_statistics(self, samples: Iterable[tuple[GraphBatch, torch.Tensor]]) -> None:
        """Fit the heads' per-path scales and on-site offsets from (graph, target blocks) samples.

        Targets are (P, n_max, n_max) in eV, as :func:`blocks_from_matrix` makes them.
        """
        n_species = len(self.onsite_heads)
        onsite: dict[int, list] = {a: [] for a in range(n_species)}
        offsite: dict[int, list] = {k: [] for k in range(n_species ** 2)}
        neighbours = []
        for graph, target in samples:
            pairs = torch.nonzero(graph.onsite).squeeze(1)
            species = graph.species[graph.pair_i[pairs]]
            for a in range(n_species):
                sel = pairs[species == a]
                onsite[a].append(target[sel])
            si, sj = graph.species[graph.pair_i[graph.edges]], graph.species[graph.pair_j[graph.edges]]
            for k in range(n_species ** 2):
                a, b = divmod(k, n_species)
                offsite[k].append(target[graph.edges[(si == a) & (sj == b)]])
            neighbours.append(len(graph.edges) / max(graph.n_atoms, 1))
        for a, head in enumerate(self.onsite_heads):
            blocks = torch.cat(onsite[a])
            if len(blocks):
                head.fit_statistics(blocks[:, :head.n_a, :head.n_b])
        for k, head in enumerate(self.edge_heads):
            blocks = torch.cat(offsite[k])
            if len(blocks):
                head.fit_statistics(blocks[:, :head.n_a, :head.n_b])
        if neighbours:
            self.config.avg_neighbors = float(sum(neighbours) / len(neighbours))

    def n_parameters(self) -> int:
        return sum(p.numel() for p in self.parameters())
