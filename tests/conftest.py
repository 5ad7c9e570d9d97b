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


def free_port() -> str:
    """A TCP port free right now, for torchrun's rendezvous (a fixed port collides when two test
    runs share a machine)."""
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return str(sock.getsockname()[1])


def snap_kpts(kpts: np.ndarray, mesh) -> np.ndarray:
    """OpenMX prints k to 5 decimals: snap to multiples of 1/(2n) of the Monkhorst-Pack mesh."""
    mesh = np.asarray(mesh, dtype=float)
    return np.round(np.asarray(kpts) * 2 * mesh) / (2 * mesh)


ALL_RUNS = ["graphene_1x1", "mos2_1x1", "bilayer_graphene_1x1", "graphene_3x3_perturbed", "mos2_3x3_perturbed"]
SMALL_RUNS = ["graphene_1x1", "mos2_1x1"]


@pytest.fixture(scope="session")
def tiny_model_file(tmp_path_factory):
    """A small random model of graphene's basis (C6.0-s2p2d1) with exact overlap tables and
    training-like metadata (its domain: the shared perturbed 3x3 sheet): for calculator mechanics,
    not accuracy."""
    import torch

    from ase_deeph2.graph import overlap_pairs
    from ase_deeph2.io import read_scfout
    from ase_deeph2.model import ELCT, ELCTConfig, FermiLevels, ModelMetadata, TrainingDomain, predict, save_model
    from ase_deeph2.overlap import OverlapTables

    data = read_scfout(run_dir("graphene_3x3_perturbed") / "openmx.scfout")
    torch.manual_seed(0)
    config = ELCTConfig(basis=data.basis.to_strings(), lmax=4, channels=4, hidden=4, n_blocks=1, n_heads=1)
    model = ELCT(config)
    tables = OverlapTables.from_pao(data.basis, [shared_path("openmx", "PAO")])
    found = overlap_pairs(data.atoms, data.basis.cutoffs(data.symbols))
    domain = TrainingDomain.from_structures([(data.atoms, found, predict(model, data.atoms, pairs=found).node_features)])
    meta = ModelMetadata(valence_electrons={"C": 4.0}, fermi_levels=FermiLevels(-3.9, -3.7, -3.6), domain=domain)
    path = tmp_path_factory.mktemp("model") / "tiny.pt"
    return save_model(path, model, metadata=meta, extras={"overlap": tables.to_state()})


SHARED_OPENMX = TESTS.parent.parent / "shared" / "tools" / "openmx"


def openmx_binary() -> Path:
    """The real OpenMX for tests marked ``openmx``: $DEEPH2_OPENMX, or ../shared/tools/openmx/bin/openmx
    with its libraries installed (install-runtime.sh); else the test is skipped with the reason."""
    import os
    import subprocess

    path = Path(os.environ.get("DEEPH2_OPENMX") or SHARED_OPENMX / "bin" / "openmx")
    if not path.is_file():
        pytest.skip(f"no OpenMX at {path} (set DEEPH2_OPENMX or put ../shared/tools/openmx beside the checkout)")
    missing = subprocess.run(["ldd", str(path)], capture_output=True, text=True).stdout
    if "not found" in missing:
        pytest.skip(f"{path} lacks libraries: run ../shared/tools/openmx/install-runtime.sh")
    return path


def openmx_data_path() -> Path:
    path = openmx_binary().resolve().parent.parent / "DFT_DATA19"
    if not (path / "PAO").is_dir():
        pytest.skip(f"no DFT_DATA19 beside {openmx_binary()}")
    return path
