"""Losses and error metrics on H blocks: overall, per species pair, orbital-wise (the paper's Fig. 3)."""

from __future__ import annotations

from typing import Callable

import numpy as np
import torch

from ase_deeph2.basis import BasisSet
from ase_deeph2.model import GraphBatch

__all__ = ["masked_loss", "ErrorAccumulator"]


def masked_loss(pred: torch.Tensor, target: torch.Tensor, mask: torch.Tensor, kind: str = "mse",
                normaliser: float | None = None, pair_weight: torch.Tensor | None = None) -> torch.Tensor:
    """Loss over the real block entries (eV^2 for "mse", eV for "mae", their sum for "mse+mae").

    Args:
        pred, target, mask: (P, n, n) blocks and the mask of their real entries.
        normaliser: number of entries to divide by (default: this batch's); distributed training
            passes the global count times the world size so that averaged gradients equal those of
            one process seeing the whole batch.
        pair_weight: (P,) weight of each block's entries (e.g. on-site blocks weighted up); the
            normaliser still counts entries, so weights of 1 give the plain loss.
    """
    diff = (pred - target)[mask]
    n = float(diff.numel()) if normaliser is None else normaliser
    w = 1.0 if pair_weight is None else pair_weight.to(diff.dtype)[:, None, None].expand_as(mask)[mask]
    if kind == "mse":
        return (w * diff.pow(2)).sum() / n
    if kind == "mae":
        return (w * diff.abs()).sum() / n
    if kind == "mse+mae":
        return (w * (diff.pow(2) + diff.abs())).sum() / n
    raise ValueError(f"unknown loss {kind!r}")


class ErrorAccumulator:
    """Accumulates absolute errors of predicted blocks, reduced over batches (and processes).

    Per ordered species pair (a, b) it keeps the sum of |error| for every orbital entry
    (n_a x n_b), the number of blocks, on-site and off-site separately; plus squares and the max.
    """

    def __init__(self, basis: BasisSet):
        self.basis = basis
        self.elements = basis.elements
        n = len(self.elements)
        self.n_max = max(basis[el].n_orbitals for el in self.elements)
        self.abs_sum = torch.zeros(2, n, n, self.n_max, self.n_max, dtype=torch.float64)  # [onsite?, a, b, i, j]
        self.count = torch.zeros(2, n, n, dtype=torch.float64)
        self.sq_sum = torch.zeros((), dtype=torch.float64)
        self.max = torch.zeros((), dtype=torch.float64)

    @torch.no_grad()
    def add(self, graph: GraphBatch, pred: torch.Tensor, target: torch.Tensor) -> None:
        err = (pred - target).abs().to("cpu", torch.float64)
        err = err * graph.block_mask.to("cpu")
        si = graph.species[graph.pair_i].cpu()
        sj = graph.species[graph.pair_j].cpu()
        onsite = graph.onsite.cpu().long()
        n = len(self.elements)
        key = (onsite * n + si) * n + sj
        flat_sum = self.abs_sum.view(2 * n * n, self.n_max, self.n_max)
        flat_sum.index_add_(0, key, err)
        self.count.view(-1).index_add_(0, key, torch.ones(len(key), dtype=torch.float64))
        self.sq_sum += err.pow(2).sum()
        self.max = torch.maximum(self.max, err.max() if err.numel() else self.max)

    def reduce(self, all_reduce: Callable[[torch.Tensor, str], None]) -> None:
        """Sum (and max) over processes with ``all_reduce(tensor, op)`` (op "sum" or "max"), in place."""
        for t in (self.abs_sum, self.count, self.sq_sum):
            all_reduce(t, "sum")
        all_reduce(self.max, "max")

    def _entries(self, onsite: int | None = None) -> tuple[float, float]:
        """(sum of |error|, number of entries) over the selected blocks."""
        total, entries = 0.0, 0.0
        sel = [0, 1] if onsite is None else [onsite]
        for o in sel:
            for a, ea in enumerate(self.elements):
                for b, eb in enumerate(self.elements):
                    na, nb = self.basis[ea].n_orbitals, self.basis[eb].n_orbitals
                    total += float(self.abs_sum[o, a, b, :na, :nb].sum())
                    entries += float(self.count[o, a, b]) * na * nb
        return total, entries

    def orbital_mae(self, a: int, b: int) -> np.ndarray:
        """(n_a, n_b) MAE in meV of each orbital entry of the (a, b) blocks (on- and off-site)."""
        na, nb = (self.basis[self.elements[k]].n_orbitals for k in (a, b))
        count = float(self.count[:, a, b].sum())
        return (self.abs_sum[:, a, b, :na, :nb].sum(0) / max(count, 1.0)).numpy() * 1000

    def shell_mae(self, a: int, b: int) -> dict[tuple[int, int], float]:
        """MAE (meV) per pair of angular momenta (l1, l2), e.g. {(0, 1): 0.4, ...} for s-p entries."""
        la, lb = self.basis[self.elements[a]].orbital_l, self.basis[self.elements[b]].orbital_l
        mae = self.orbital_mae(a, b)
        return {(int(l1), int(l2)): float(mae[np.ix_(la == l1, lb == l2)].mean())
                for l1 in np.unique(la) for l2 in np.unique(lb)}

    def summary(self) -> dict:
        """MAE/RMSE/max in meV: overall, on-site, off-site, and per species pair ("C-C")."""
        total, entries = self._entries()
        out = {"mae_meV": 1000 * total / max(entries, 1.0),
               "rmse_meV": 1000 * float(np.sqrt(float(self.sq_sum) / max(entries, 1.0))),
               "max_meV": 1000 * float(self.max), "entries": int(entries)}
        for name, o in (("onsite", 1), ("offsite", 0)):
            t, e = self._entries(o)
            out[f"{name}_mae_meV"] = 1000 * t / max(e, 1.0)
        pairs = {}
        for a, ea in enumerate(self.elements):
            for b, eb in enumerate(self.elements):
                if float(self.count[:, a, b].sum()) > 0:
                    pairs[f"{ea}-{eb}"] = float(self.orbital_mae(a, b).mean())
        out["species_pairs_meV"] = pairs
        return out
