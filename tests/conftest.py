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
