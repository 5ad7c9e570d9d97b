"""Grow a trained ELCT deeper without changing what it predicts (net2net-style).

Every :class:`~.block.ELCTBlock` is residual: ``e += edge_out(...)``, ``x += att_out(...)`` and
``x += ffn(...)``. A block whose three output maps are zero is therefore the identity. A model
with more blocks starts from a trained one when it takes over all of the trained weights and adds
its extra blocks at the end with zero output maps: it predicts exactly the trained model's blocks.
The zero maps get gradient at once, because the features that feed them are not zero. Training
then goes on from the trained function, with the larger receptive field and capacity of the
deeper network, instead of starting from random weights.
"""

from __future__ import annotations

import torch
from torch import nn

__all__ = ["grow_blocks"]


def _zero_outputs(block: nn.Module) -> None:
    with torch.no_grad():
        for layer in (block.edge_out, block.att_out, block.ffn.outer):
            for p in layer.parameters():
                p.zero_()


def grow_blocks(trained: nn.Module, grown: nn.Module) -> None:
    """Copy the weights of ``trained`` (an ELCT) into ``grown`` in place. ``grown`` is the same
    architecture with more blocks (``n_blocks``). Its extra blocks come last and start as the
    identity, so ``grown`` predicts the same blocks as ``trained``.

    Raises:
        ValueError: the two models differ in more than their depth, or ``grown`` is not deeper.
    """
    n_old, n_new = len(trained.blocks), len(grown.blocks)
    if n_new <= n_old:
        raise ValueError(f"cannot grow a model of {n_old} blocks into one of {n_new}: it must get deeper")
    mine = grown.state_dict()
    for name, value in trained.state_dict().items():
        if name not in mine or mine[name].shape != value.shape:
            raise ValueError(f"cannot grow the model: its {name} {tuple(value.shape)} has no counterpart of "
                             f"that shape in the deeper one (they must differ in n_blocks only)")
        mine[name] = value
    grown.load_state_dict(mine)
    for block in list(grown.blocks)[n_old:]:
        _zero_outputs(block)
