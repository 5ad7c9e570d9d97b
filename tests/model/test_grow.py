"""Growing a trained model deeper, wider or with a finer radial part: the grown one predicts the same
blocks, its new parts learn (new blocks get gradient, copied channels drift apart), it stays
equivariant once they have, and growing refuses anything else."""

import numpy as np
import pytest
import torch

from ase_deeph2.basis import BasisSet
from ase_deeph2.model import ELCT, ELCTConfig, build_graph, predict
from ase_deeph2.model.grow import grow, grow_blocks, radial_projection, refine_radial, widen_channels
from ase_deeph2.model.layers import RadialBasis
from ase_deeph2.model.io import _default_dtype
from model_helpers import distorted_molecule, equivariance_error, make_model, rotated

MOS2 = BasisSet.from_strings({"Mo": "Mo7.0-s3p2d2", "S": "S7.0-s2p2d1"})


def deeper(model: ELCT, **changes) -> ELCT:
    torch.manual_seed(1)
    with _default_dtype(torch.float64):
        return ELCT(ELCTConfig.from_dict({**model.config.to_dict(), **changes}))


def assert_equivariant_after_moving(model: ELCT, params, step: float, atoms) -> None:
    """Move ``params`` randomly by ``step`` (so no part is a trivial identity or copy), then check
    that rotating ``atoms`` rotates every predicted block (to rounding)."""
    with torch.no_grad():
        for p in params:
            p.add_(step * torch.randn_like(p))
    h, h_rot = (predict(model, a).hamiltonian for a in (atoms, rotated(atoms)))
    scale = np.abs(h.data).max()
    assert equivariance_error(h, h_rot, MOS2, atoms.get_chemical_symbols()) <= 1000 * np.finfo(float).eps * scale


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
    assert_equivariant_after_moving(big, big.blocks[2].parameters(), 0.1, atoms)


@pytest.mark.parametrize("changes, message", [
    ({"n_blocks": 2}, "it must get deeper"),
    ({"n_blocks": 1}, "it must get deeper"),
    ({"n_blocks": 3, "channels": 4, "hidden": 4}, "has no counterpart of that shape"),
])
def test_growing_refuses_anything_but_more_blocks(changes, message):
    small = make_model(MOS2)
    with pytest.raises(ValueError, match=message):
        grow_blocks(small, deeper(small, **changes))


@pytest.mark.parametrize("changes", [
    {"channels": 16, "hidden": 16},  # both doubled
    {"channels": 24},  # channels x3, hidden kept
    {"hidden": 16},  # hidden only: its copies stay inside their attention heads
    {"channels": 16, "hidden": 16, "n_blocks": 3},  # wider and deeper at once (grow)
])
def test_a_widened_model_predicts_the_same_blocks(changes):
    atoms = distorted_molecule()
    small = make_model(MOS2)  # 8 channels, 8 hidden, 2 heads
    big = deeper(small, **changes)
    grow(small, big, seed=3)
    before, after = predict(small, atoms).hamiltonian.data, predict(big, atoms).hamiltonian.data
    assert np.abs(before).max() > 0.1
    np.testing.assert_allclose(after, before, rtol=0, atol=1e-12 * np.abs(before).max())


def test_the_copies_of_a_widened_channel_get_different_gradients_and_stay_equivariant():
    atoms = distorted_molecule()
    small = make_model(MOS2)
    big = deeper(small, channels=16, hidden=16)
    widen_channels(small, big)
    embedding = big.node_embedding.weight
    assert torch.equal(embedding[:, :8], embedding[:, 8:])  # repeated features...
    big(build_graph(atoms, big.config)).pow(2).sum().backward()
    g = embedding.grad
    assert float((g[:, :8] - g[:, 8:]).abs().max()) > 1e-3 * float(g.abs().max())  # ...that drift apart
    assert_equivariant_after_moving(big, big.parameters(), 0.05, atoms)


@pytest.mark.parametrize("changes, message", [
    ({"channels": 12}, "whole multiple"),
    ({"channels": 4, "hidden": 4}, "whole multiple"),
    ({"channels": 16, "lmax": 5}, "differs in lmax"),
])
def test_widening_refuses_other_changes(changes, message):
    small = make_model(MOS2)
    with pytest.raises(ValueError, match=message):
        widen_channels(small, deeper(small, **changes))


def test_the_refitted_radial_basis_reproduces_the_old_gaussians():
    """Independent of the fit: sample the old and new Gaussians at distances off the fit grid."""
    p = radial_projection(16, 32)
    x = torch.rand(5000, generator=torch.Generator().manual_seed(0), dtype=torch.float64) * 0.95 + 0.05
    old, new = RadialBasis(16).double(), RadialBasis(32).double()
    assert float((new(x) @ p.T - old(x)).abs().max()) < 1e-3
    assert float((new(x) @ p.T - old(x)).abs().max()) < 1e-3 * float(old(x).abs().max())


@pytest.mark.parametrize("changes", [
    {"n_rbf": 32},
    {"radial_hidden": 128},  # x2, exact
    {"n_rbf": 24, "radial_hidden": 192},  # x3
    {"n_rbf": 32, "radial_hidden": 128, "channels": 16, "n_blocks": 3},  # everything at once (grow)
])
def test_a_model_with_a_finer_radial_part_predicts_the_same_blocks(changes):
    atoms = distorted_molecule()
    small = make_model(MOS2)  # n_rbf 16, radial_hidden 64
    fine = deeper(small, **changes)
    grow(small, fine, seed=3)
    before, after = predict(small, atoms).hamiltonian.data, predict(fine, atoms).hamiltonian.data
    scale = np.abs(before).max()
    assert scale > 0.1
    exact = "n_rbf" not in changes
    np.testing.assert_allclose(after, before, rtol=0, atol=(1e-12 if exact else 1e-4) * scale)
    assert exact or np.abs(after - before).max() > 0  # the basis changed: not a copy of the old model


def test_a_refined_radial_part_learns_and_stays_equivariant():
    atoms = distorted_molecule()
    small = make_model(MOS2)
    fine = deeper(small, n_rbf=32, radial_hidden=128)
    refine_radial(small, fine)
    fine(build_graph(atoms, fine.config)).pow(2).sum().backward()
    first = fine.edge_embedding[0].weight
    g = first.grad
    assert float((g[:64] - g[64:]).abs().max()) > 1e-3 * float(g.abs().max())  # the hidden copies drift apart
    assert float(g[:, :32].abs().max()) > 0  # the new Gaussians get gradient
    assert_equivariant_after_moving(fine, fine.parameters(), 0.05, atoms)


@pytest.mark.parametrize("changes, message", [
    ({"n_rbf": 8}, "it must grow"),
    ({"n_rbf": 17}, "use more"),
    ({"radial_hidden": 96}, "whole multiple"),
    ({"n_rbf": 32, "species_dim": 8}, "differs in species_dim"),
])
def test_refining_the_radial_part_refuses_other_changes(changes, message):
    small = make_model(MOS2)
    with pytest.raises(ValueError, match=message):
        refine_radial(small, deeper(small, **changes))
