"""Growing a trained model deeper: the deeper one predicts the same blocks, its new blocks learn,
it stays equivariant once they have, and growing refuses anything but more blocks."""

import numpy as np
import pytest
import torch

from ase_deeph2.basis import BasisSet
from ase_deeph2.model import ELCT, ELCTConfig, build_graph, predict
from ase_deeph2.model.grow import grow_blocks
from ase_deeph2.model.io import _default_dtype
from model_helpers import distorted_molecule, equivariance_error, make_model, rotated

MOS2 = BasisSet.from_strings({"Mo": "Mo7.0-s3p2d2", "S": "S7.0-s2p2d1"})


def deeper(model: ELCT, **changes) -> ELCT:
    torch.manual_seed(1)
    with _default_dtype(torch.float64):
        return ELCT(ELCTConfig.from_dict({**model.config.to_dict(), **changes}))


def test_a_grown_model_predicts_the_same_blocks_and_its_new_block_learns():
    atoms = distorted_molecule()
    small = make_model(MOS2)  # 2 blocks
    big = deeper(small, n_blocks=3)
    grow_blocks(small, big)
    before, after = predict(small, atoms).hamiltonian.data, predict(big, atoms).hamiltonian.data
    assert np.abs(before).max() > 0.1
    np.testing.assert_allclose(after, before, rtol=0, atol=1e-12 * np.abs(before).max())
    big(build_graph(atoms, big.config)).pow(2).sum().backward()
    new = big.blocks[2]
    for layer in (new.edge_out, new.att_out, new.ffn.outer):
        assert all(float(p.detach().abs().max()) == 0.0 for p in layer.parameters())
        assert any(float(p.grad.abs().max()) > 0.0 for p in layer.parameters())


def test_a_grown_model_stays_equivariant_once_its_new_block_is_not_the_identity():
    atoms = distorted_molecule()
    big = deeper(make_model(MOS2), n_blocks=3)
    grow_blocks(make_model(MOS2), big)
    with torch.no_grad():
        for p in big.blocks[2].parameters():
            p.add_(0.1 * torch.randn_like(p))
    h, h_rot = (predict(big, a).hamiltonian for a in (atoms, rotated(atoms)))
    scale = np.abs(h.data).max()
    assert equivariance_error(h, h_rot, MOS2, atoms.get_chemical_symbols()) <= 1000 * np.finfo(float).eps * scale


@pytest.mark.parametrize("changes, message", [
    ({"n_blocks": 2}, "it must get deeper"),
    ({"n_blocks": 1}, "it must get deeper"),
    ({"n_blocks": 3, "channels": 4, "hidden": 4}, "has no counterpart of that shape"),
])
def test_growing_refuses_anything_but_more_blocks(changes, message):
    small = make_model(MOS2)
    with pytest.raises(ValueError, match=message):
        grow_blocks(small, deeper(small, **changes))
