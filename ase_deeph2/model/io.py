"""Model files: weights + configuration + metadata in one file, loaded without executing code.

The file is a ``torch.save`` of a dict holding only tensors and plain Python values, read back
with ``torch.load(weights_only=True)``:

=====================  ===========================================================
key                    content
=====================  ===========================================================
``format``             ``"ase_deeph2-model"``
``format_version``     int (this layout)
``convention_version`` ``ase_deeph2.CONVENTION_VERSION`` (units, orbital order, blocks)
``package_version``    version of ase_deeph2 that wrote it
``units``              ``{"length": "Angstrom", "energy": "eV"}``
``config``             ``ELCTConfig.to_dict()`` (elements and basis strings inside)
``state_dict``         the network weights
``metadata``           ``ModelMetadata.to_dict()``: valence electrons, Fermi levels, training
                       domain, and a free-form training record
``extras``             plain data stored by other parts (e.g. overlap tables); numpy arrays
                       are stored as tensors and given back as numpy arrays
=====================  ===========================================================
"""

from __future__ import annotations

from os import PathLike
from pathlib import Path
from typing import Any

import numpy as np
import torch

from .. import CONVENTION_VERSION, __version__
from ..files import atomic_path
from .config import ELCTConfig
from .elct import ELCT
from .metadata import ModelMetadata

__all__ = ["save_model", "load_model", "LoadedModel", "ModelFileError"]

FORMAT = "ase_deeph2-model"
FORMAT_VERSION = 2  # 2: typed metadata, smooth norms (models of format 1 must be retrained)


class ModelFileError(ValueError):
    """A model file that cannot be used (wrong kind, newer conventions, mismatched weights)."""


class LoadedModel:
    """A model with the metadata and extras of its file."""

    def __init__(self, model: ELCT, metadata: ModelMetadata, extras: dict[str, Any], path: str):
        self.model, self.metadata, self.extras, self.path = model, metadata, extras, path

    @property
    def config(self) -> ELCTConfig:
        return self.model.config

    def __repr__(self) -> str:
        return f"LoadedModel({self.path!r}, elements={self.config.elements}, {self.model.n_parameters()} parameters)"


def _to_tensors(obj):
    if isinstance(obj, np.ndarray):
        return torch.from_numpy(np.ascontiguousarray(obj))
    if isinstance(obj, dict):
        return {k: _to_tensors(v) for k, v in obj.items()}
    return obj


def _to_numpy(obj):
    if isinstance(obj, torch.Tensor):
        return obj.numpy()
    if isinstance(obj, dict):
        return {k: _to_numpy(v) for k, v in obj.items()}
    return obj


def save_model(path: str | PathLike, model: ELCT, metadata: ModelMetadata | None = None,
               extras: dict[str, Any] | None = None) -> Path:
    """Write ``model`` (weights as they are, float32 or float64) with its metadata, atomically."""
    path = Path(path)
    payload = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "convention_version": CONVENTION_VERSION,
        "package_version": __version__,
        "units": {"length": "Angstrom", "energy": "eV"},
        "config": model.config.to_dict(),
        "state_dict": {k: v.detach().cpu() for k, v in model.state_dict().items()},
        "metadata": (metadata or ModelMetadata()).to_dict(),
        "extras": _to_tensors(dict(extras or {})),
    }
    with atomic_path(path) as tmp:
        torch.save(payload, tmp)
    return path


def load_model(path: str | PathLike, device: torch.device | str | None = None,
               dtype: torch.dtype | None = None) -> LoadedModel:
    """Read a model file (no code is executed: ``weights_only=True``).

    Args:
        device: where to put the model (default: CUDA if available, else CPU).
        dtype: float32 (default: as stored) or float64.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"model file {path} does not exist")
    try:
        payload = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:  # pickle errors come in many types, with torch's multi-line advice
        raise ModelFileError(f"{path}: not an ase_deeph2 model file (torch cannot read it: "
                             f"{type(err).__name__})") from None
    if not isinstance(payload, dict) or payload.get("format") != FORMAT:
        raise ModelFileError(f"{path}: not an ase_deeph2 model file (no '{FORMAT}' header)")
    if payload.get("format_version", 0) < FORMAT_VERSION:
        raise ModelFileError(f"{path}: model file format {payload.get('format_version')} of ase_deeph2 "
                             f"{payload.get('package_version')} predates this version's format {FORMAT_VERSION} "
                             "(smooth norms, typed metadata): retrain it with this version")
    if payload["format_version"] > FORMAT_VERSION or payload["convention_version"] > CONVENTION_VERSION:
        raise ModelFileError(
            f"{path}: written by ase_deeph2 {payload.get('package_version')} with file format "
            f"{payload['format_version']} / conventions {payload['convention_version']}; this version "
            f"({__version__}) reads format <= {FORMAT_VERSION}, conventions <= {CONVENTION_VERSION}: upgrade ase_deeph2")
    if payload["convention_version"] < CONVENTION_VERSION:
        raise ModelFileError(f"{path}: uses conventions version {payload['convention_version']}, this version "
                             f"needs {CONVENTION_VERSION}; re-train or convert the model")
    try:
        config = ELCTConfig.from_dict(payload["config"])
        metadata = ModelMetadata.from_dict(payload.get("metadata", {}))
    except (TypeError, ValueError) as err:
        raise ModelFileError(f"{path}: {err}") from None
    state = payload["state_dict"]
    stored_dtype = next(iter(state.values())).dtype if state else torch.float32
    dtype = dtype or (stored_dtype if stored_dtype.is_floating_point else torch.float32)
    device = torch.device(device) if device is not None else torch.device("cuda" if torch.cuda.is_available() else "cpu")
    with _default_dtype(dtype):
        model = ELCT(config)
    try:
        model.load_state_dict(state)
    except RuntimeError as err:
        raise ModelFileError(f"{path}: weights do not fit the stored configuration ({str(err).splitlines()[0]})") from None
    model = model.to(device=device, dtype=dtype).eval()
    return LoadedModel(model, metadata, _to_numpy(payload.get("extras", {})), str(path))


class _default_dtype:
    """Context manager setting torch's default dtype (for buffers created at construction)."""

    def __init__(self, dtype: torch.dtype):
        self.dtype, self.old = dtype, torch.get_default_dtype()

    def __enter__(self):
        torch.set_default_dtype(self.dtype)

    def __exit__(self, *exc):
        torch.set_default_dtype(self.old)
