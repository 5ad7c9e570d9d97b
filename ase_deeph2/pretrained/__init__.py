"""Models shipped inside the package, by name (``DeepH2Calculator("graphene-openmx")``).

Each ``<name>.pt`` is an ordinary model file (see :mod:`ase_deeph2.model.io`) with its overlap
tables, training metadata and held-out errors inside; ``<name>.json`` is a readable copy of the
metadata (how it was trained, on what, and how well it does).
"""

from __future__ import annotations

import json
from pathlib import Path

__all__ = ["available", "pretrained_path", "card"]

HERE = Path(__file__).resolve().parent


def available() -> list[str]:
    """Names of the shipped models."""
    return sorted(p.stem for p in HERE.glob("*.pt"))


def pretrained_path(name: str) -> Path:
    """The file of a shipped model; a ValueError lists the available names."""
    path = HERE / f"{name}.pt"
    if not path.is_file():
        raise ValueError(f"no shipped model named {name!r}; available: {available()} "
                         "(or give the path of a model file)")
    return path


def card(name: str) -> dict:
    """The readable description (``<name>.json``) of a shipped model."""
    pretrained_path(name)
    card = HERE / f"{name}.json"
    return json.loads(card.read_text()) if card.is_file() else {}
