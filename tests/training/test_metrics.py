"""Training loss: the masked entries only, in eV units, with on-site blocks weighted on request."""

import pytest
import torch

from ase_deeph2.training.metrics import masked_loss


def _blocks():
    pred = torch.tensor([[[0.30, 0.0], [0.0, 0.0]], [[0.01, 0.02], [0.03, 0.04]]], dtype=torch.float64)
    target = torch.zeros_like(pred)
    mask = torch.tensor([[[True, False], [False, False]], [[True, True], [True, True]]])
    return pred, target, mask  # block 0: a 1x1 on-site block padded to 2x2; block 1: a 2x2 hopping


@pytest.mark.parametrize("kind, per_entry", [("mse", lambda d: d * d), ("mae", abs), ("mse+mae", lambda d: d * d + abs(d))])
def test_losses_count_the_real_entries_and_weight_the_chosen_blocks(kind, per_entry):
    pred, target, mask = _blocks()
    entries = [0.30, 0.01, 0.02, 0.03, 0.04]
    plain = sum(per_entry(d) for d in entries) / 5
    assert float(masked_loss(pred, target, mask, kind)) == pytest.approx(plain, rel=1e-12)
    assert float(masked_loss(pred, target, mask, kind, pair_weight=torch.ones(2))) == pytest.approx(plain, rel=1e-12)
    weighted = (10 * per_entry(0.30) + sum(per_entry(d) for d in entries[1:])) / 5
    loss = masked_loss(pred, target, mask, kind, pair_weight=torch.tensor([10.0, 1.0]))
    assert float(loss) == pytest.approx(weighted, rel=1e-12)
    assert float(masked_loss(pred, target, mask, kind, normaliser=10.0)) == pytest.approx(plain / 2, rel=1e-12)


def test_unknown_loss_is_named():
    with pytest.raises(ValueError, match="unknown loss 'huber'"):
        masked_loss(*_blocks(), kind="huber")
