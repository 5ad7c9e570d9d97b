"""Structures from any file ASE reads, with errors that name the file."""

from __future__ import annotations

from os import PathLike
from pathlib import Path

from ase import Atoms

__all__ = ["read_structures"]


def read_structures(path: str | PathLike, index: str | int | slice = ":") -> list[Atoms]:
    """The frames ``index`` (ASE syntax: ":", "-1", a slice, ...) of a structure or trajectory file
    (xyz, extxyz, traj, cif, POSCAR, LAMMPS dump, ...), always as a list."""
    from ase.io import read

    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"structure file {path} does not exist")
    try:
        frames = read(path, index=index)
    except Exception as err:  # ASE raises many kinds for unreadable files
        raise ValueError(f"cannot read structures from {path}: {err}") from None
    return frames if isinstance(frames, list) else [frames]
