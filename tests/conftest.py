"""Shared fixtures: the OpenMX runs in tests/data (always present) and ../shared/data (CI has it)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

TESTS = Path(__file__).resolve().parent
LOCAL_RUNS = TESTS / "data"
SHARED = TESTS.parent.parent / "shared" / "data"
SHARED_RUNS = SHARED / "openmx" / "runs"
SHARED_PAO = SHARED / "openmx" / "PAO"
SHARED_CORPUS = SHARED / "graphene3x3"


def shared_path(*parts: str) -> Path:
    """A path inside ../shared/data, or skip the test with the reason."""
    path = SHARED.joinpath(*parts)
    if not path.exists():
        pytest.skip(f"{path} is absent (the shared OpenMX data is expected beside the checkout)")
    return path


def run_dir(name: str) -> Path:
    """Folder of an OpenMX run: tests/data for the small ones, ../shared/data otherwise."""
    local = LOCAL_RUNS / name
    return local if local.exists() else shared_path("openmx", "runs", name)


def snap_kpts(kpts: np.ndarray, mesh) -> np.ndarray:
    """OpenMX prints k to 5 decimals: snap to multiples of 1/(2n) of the Monkhorst-Pack mesh."""
    mesh = np.asarray(mesh, dtype=float)
    return np.round(np.asarray(kpts) * 2 * mesh) / (2 * mesh)


ALL_RUNS = ["graphene_1x1", "mos2_1x1", "graphene_3x3_perturbed", "mos2_3x3_perturbed"]
SMALL_RUNS = ["graphene_1x1", "mos2_1x1"]


@pytest.fixture(scope="session")
def tiny_model_file(tmp_path_factory):
    """A small random model of graphene's basis (C6.0-s2p2d1) with exact overlap tables and
    training-like metadata: for calculator mechanics, not accuracy."""
    import torch

    from ase_deeph2.io import read_scfout
    from ase_deeph2.model import ELCT, ELCTConfig, save_model
    from ase_deeph2.overlap import OverlapTables

    basis = read_scfout(run_dir("graphene_1x1") / "openmx.scfout").basis
    torch.manual_seed(0)
    config = ELCTConfig(basis=basis.to_strings(), lmax=4, channels=4, hidden=4, n_blocks=1, n_heads=1)
    tables = OverlapTables.from_pao(basis, [shared_path("openmx", "PAO")])
    meta = {"distance_range": {"C-C": [1.30, 6.35]}, "valence_electrons": {"C": 4.0},
            "fermi_level_eV": [-3.9, -3.7, -3.6]}
    path = tmp_path_factory.mktemp("model") / "tiny.pt"
    return save_model(path, ELCT(config), metadata=meta, extras={"overlap": tables.to_state()})
