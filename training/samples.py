"""Model-ready samples (graph + padded target blocks) of cached structures, kept in memory once built."""

from __future__ import annotations

from typing import Sequence

import torch

from ase_deeph2.model import ELCTConfig, GraphBatch, blocks_from_matrix, build_graph, collate

from .dataset import CachedStructures

__all__ = ["Samples"]


class Samples:
    """Graphs and targets of a cache's structures for one model configuration.

    The pairs of each graph are the stored H pairs, so every target block has its output slot.
    Built lazily; with ``keep=True`` (default) each sample is built once and kept.
    """

    def __init__(self, structures: CachedStructures, config: ELCTConfig, dtype: torch.dtype = torch.float32,
                 keep: bool = True):
        self.structures, self.config, self.dtype, self.keep = structures, config, dtype, keep
        self._cache: dict[int, tuple[GraphBatch, torch.Tensor]] = {}

    def __len__(self) -> int:
        return len(self.structures)

    def __getitem__(self, index: int) -> tuple[GraphBatch, torch.Tensor]:
        if index in self._cache:
            return self._cache[index]
        record = self.structures[index]
        try:
            graph = build_graph(record.atoms, self.config, pairs=record.hamiltonian.pairs)
        except ValueError as err:
            raise ValueError(f"{record.name}: {err}") from None
        target = blocks_from_matrix(record.hamiltonian, graph).to(self.dtype)
        if self.keep:
            self._cache[index] = (graph, target)
        return graph, target

    def batch(self, indices: Sequence[int], device: torch.device) -> tuple[GraphBatch, torch.Tensor]:
        """Several structures as one graph on ``device``, with their concatenated targets."""
        items = [self[int(i)] for i in indices]
        graph = collate([g for g, _ in items]).to(device)
        return graph, torch.cat([t for _, t in items]).to(device)
