"""The held-out runs of each shipped model (``held_out.toml``), and where a run's folder is.

``HELD_OUT[model][group]`` is a list of items: ``"@CORPUS/deeph/sNNNN"`` (under ``$DEEPH2_DATA``,
default ~/deeph2-data, made by ``examples/make_training_data.sh``), ``"tests/..."`` (this repository)
or a path under ``../shared/data``. ``held_out.toml`` writes a corpus' cells as ``"@CORPUS INDICES"``
(``deeph2 dft --only`` syntax); :func:`expand` spells them out. The same file decides which cells
``examples/link_training_folders.py`` leaves out of each training folder, so the two cannot disagree.
"""

from __future__ import annotations

import os
import tomllib
from pathlib import Path

from ase_deeph2.training.dft import parse_indices

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
SHARED = REPO.parent / "shared" / "data"
DATA = Path(os.environ.get("DEEPH2_DATA", Path.home() / "deeph2-data"))


def expand(item: str) -> list[str]:
    """``"@CORPUS 7-9,24"`` -> ``["@CORPUS/deeph/s0007", ..., "@CORPUS/deeph/s0024"]``; any other item as it is."""
    corpus, _, indices = item.partition(" ")
    if not indices:
        return [item]
    if not corpus.startswith("@"):
        raise ValueError(f"held_out.toml: {item!r}: only '@CORPUS INDICES' items may list indices")
    try:
        return [f"{corpus}/deeph/s{k:04d}" for k in parse_indices(indices)]
    except ValueError as e:
        raise ValueError(f"held_out.toml: {item!r}: {e}") from None


def load(path: Path = HERE / "held_out.toml") -> dict[str, dict[str, list[str]]]:
    """model -> group -> held-out items (each a run folder, see :func:`resolve`)."""
    with open(path, "rb") as f:
        table = tomllib.load(f)
    return {model: {group: [run for item in items for run in expand(item)] for group, items in groups.items()}
            for model, groups in table.items()}


def resolve(item: str, data: Path = DATA) -> Path:
    """The folder of a held-out item: ``@...`` under ``data`` (default ``$DEEPH2_DATA``), ``tests/...`` here,
    else ../shared/data."""
    if item.startswith("@"):
        return data / item[1:]
    return REPO / item if item.startswith("tests/") else SHARED / item


#: model -> group -> held-out items; none of them is in the model's training data.
HELD_OUT = load()
