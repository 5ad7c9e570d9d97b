"""Small training setups on real data, shared by the training tests."""

from __future__ import annotations

from pathlib import Path

from ase_deeph2.training.config import config_from_dict
from conftest import shared_path


def corpus_subset(tmp_path: Path, n: int = 8) -> Path:
    """A folder with symlinks to the first ``n`` structures of the shared graphene corpus."""
    corpus = shared_path("graphene3x3")
    folder = tmp_path / "corpus"
    folder.mkdir(exist_ok=True)
    for src in sorted(corpus.iterdir())[:n]:
        link = folder / src.name
        if not link.exists():
            link.symlink_to(src)
    return folder


def tiny_config(tmp_path: Path, sources: list[str], out: str = "run", **training) -> dict:
    raw = {
        "data": {"sources": sources, "cache": str(tmp_path / "dataset.h5"), "split": [0.5, 0.25, 0.25]},
        "model": {"channels": 8, "hidden": 8, "n_blocks": 1, "n_heads": 2, "lmax": 4},
        "training": {"epochs": 3, "batch_size": 2, "lr": 5e-3, "warmup_epochs": 1, "threads": 1, **training},
        "output": {"dir": str(tmp_path / out), "plots": False},
    }
    return raw


def make(raw: dict, tmp_path: Path):
    return config_from_dict(raw, base_dir=tmp_path)
