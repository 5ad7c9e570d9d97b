"""What a path holds: the one place that turns "a file or folder of DFT results" into data.

A *source* is an OpenMX ``.scfout`` file, an OpenMX run folder holding one, or a DeepH folder (new
or legacy format). Commands and the training datasets find and read sources through here.
"""

from __future__ import annotations

import os
from os import PathLike
from pathlib import Path

from .data import HamiltonianData
from .deeph import read_deeph
from .openmx import read_scfout

__all__ = ["SourceError", "find_sources", "read_source", "DEEPH_MARKERS"]

#: Files that make a folder a DeepH folder (new format, legacy format).
DEEPH_MARKERS = ("hamiltonian.h5", "hamiltonians.h5")


class SourceError(ValueError):
    """A path that holds no usable DFT result (the message names it and says why)."""


def find_sources(root: str | PathLike) -> list[Path]:
    """Every source under ``root``, sorted: ``.scfout`` files' folders and DeepH folders (symlinked
    folders followed, each real folder once: symlink loops and duplicate links cannot repeat a
    structure); ``root`` itself if it is a file. Folders with an OpenMX input but no result
    (unfinished runs) are listed too, so that reading them reports why they cannot be used."""
    root = Path(root)
    if not root.exists():
        raise FileNotFoundError(f"{root} does not exist")
    if root.is_file():
        return [root]
    found, visited = set(), {os.path.realpath(root)}
    for folder, dirs, files in os.walk(root, followlinks=True):
        # a folder reached twice (a symlink loop, or two links to one folder) is one structure, once
        real = {d: os.path.realpath(os.path.join(folder, d)) for d in dirs}
        dirs[:] = sorted(d for d in dirs if real[d] not in visited)
        visited.update(real[d] for d in dirs)
        if any(f.endswith((".scfout", ".dat")) or f in DEEPH_MARKERS for f in files):
            found.add(Path(folder))
    return sorted(found)


def read_source(path: str | PathLike, orbital_order: str = "auto") -> HamiltonianData:
    """Read one source (see the module docstring); ``orbital_order`` as for :func:`read_deeph`."""
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"{path} does not exist")
    if path.is_file():
        return read_scfout(path)
    if any((path / m).exists() for m in DEEPH_MARKERS):
        return read_deeph(path, orbital_order=orbital_order)
    scfouts = sorted(path.glob("*.scfout"))
    if not scfouts:
        raise SourceError(f"{path}: no .scfout (an unfinished OpenMX run, or HS.fileout off) and no DeepH files")
    if len(scfouts) > 1:
        raise SourceError(f"{path}: several .scfout files ({[p.name for p in scfouts]}); keep one per folder")
    return read_scfout(scfouts[0])
