"""training.checkpoints.needs_growth: which starting models load as they are, grow, or are refused up front."""

import pytest

from ase_deeph2.model import ELCTConfig
from ase_deeph2.training.checkpoints import needs_growth

BASE = ELCTConfig(basis={"C": "C6.0-s2p2d1"}, channels=8, hidden=8, n_blocks=2, n_heads=2).to_dict()


@pytest.mark.parametrize("changes, grows", [
    ({}, False),
    ({"avg_neighbors": 12.0}, False),  # fitted, not architecture
    ({"n_blocks": 3}, True),
    ({"channels": 16, "hidden": 24}, True),
    ({"n_rbf": 24, "radial_hidden": 128}, True),
])
def test_a_run_loads_or_grows_the_models_it_can_start_from(changes, grows):
    assert needs_growth({**BASE, **changes}, BASE, "start.pt") is grows


@pytest.mark.parametrize("changes, message", [
    ({"channels": 12}, r"channels \(8 vs 12\)"),
    ({"radial_hidden": 96}, r"radial_hidden \(64 vs 96\)"),
    ({"n_rbf": 8}, r"n_rbf \(16 vs 8\)"),
    ({"n_rbf": 17}, r"start.pt: cannot refine the radial basis from 16 to 17 Gaussians"),
    ({"lmax": 6}, r"lmax \(4 vs 6\)"),
])
def test_a_run_refuses_a_start_it_cannot_grow_from_naming_the_field(changes, message):
    with pytest.raises(ValueError, match=message):
        needs_growth({**BASE, **changes}, BASE, "start.pt")
