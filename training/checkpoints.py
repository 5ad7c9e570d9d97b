"""Training checkpoints: everything to continue a run exactly (weights, optimiser, schedule, EMA,
random state, progress), written atomically and read back without executing code."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import torch

from ase_deeph2.files import atomic_path
from ase_deeph2.model.grow import radial_projection

if TYPE_CHECKING:
    from .loop import Trainer

__all__ = ["CHECKPOINT_FORMAT", "save_checkpoint", "load_checkpoint", "plain", "architecture_differences",
           "needs_growth", "GROWABLE"]

CHECKPOINT_FORMAT = "ase_deeph2-checkpoint"

#: model configuration fields set from the training data, not by the architecture
FITTED_FIELDS = frozenset({"avg_neighbors"})


def architecture_differences(mine: dict, theirs: dict) -> list[str]:
    """Fields of two model configurations (``ELCTConfig.to_dict()``) that differ, apart from the
    fitted ones: weights move between the two only when this is empty."""
    return sorted(k for k in (set(mine) | set(theirs)) - FITTED_FIELDS if mine.get(k) != theirs.get(k))


#: fields in which a trained model grows into a larger one (model.grow): more blocks and radial basis
#: functions; channels, hidden and radial_hidden times a whole factor
GROWABLE = frozenset({"n_blocks", "n_rbf", "channels", "hidden", "radial_hidden"})


def needs_growth(mine: dict, theirs: dict, source: str) -> bool:
    """Whether a run of model configuration ``mine`` that starts from the model ``source`` of configuration
    ``theirs`` (both ``ELCTConfig.to_dict()``) must grow it first (False: its weights load as they are).
    Raises ValueError naming ``source`` and the fields when neither works."""
    differ = architecture_differences(mine, theirs)

    def grows(k: str) -> bool:
        return k in GROWABLE and mine[k] >= theirs[k] and (k in ("n_blocks", "n_rbf") or mine[k] % theirs[k] == 0)

    if not all(grows(k) for k in differ):
        raise ValueError(f"training.init_from {source}: that model differs from this run's in "
                         f"{', '.join(f'{k} ({theirs.get(k)!r} vs {mine.get(k)!r})' for k in differ)}"
                         " (only model.n_blocks and model.n_rbf may grow, and model.channels, model.hidden and"
                         " model.radial_hidden by a whole factor)")
    if "n_rbf" in differ:
        try:
            radial_projection(theirs["n_rbf"], mine["n_rbf"])
        except ValueError as err:
            raise ValueError(f"training.init_from {source}: {err}") from None
    return bool(differ)


def plain(obj):
    """Config data with tuples as lists and paths as strings (loadable with weights_only=True)."""
    if isinstance(obj, dict):
        return {k: plain(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [plain(v) for v in obj]
    return str(obj) if isinstance(obj, Path) else obj


def save_checkpoint(path: Path, trainer: "Trainer") -> None:
    """Write the trainer's full state to ``path`` atomically."""
    rng = {"torch": torch.get_rng_state()}
    if torch.cuda.is_available():
        rng["cuda"] = torch.cuda.get_rng_state_all()
    state = {
        "format": CHECKPOINT_FORMAT, "version": 1, "run_config": plain(trainer.cfg.to_dict()),
        "model_config": trainer.model_config.to_dict(), "model": trainer.model.state_dict(),
        "optimizer": trainer.optimizer.state_dict(), "scheduler": trainer.scheduler.state_dict(),
        "ema": trainer.ema.state_dict() if trainer.ema is not None else None, "rng": rng, "state": trainer.state,
    }
    with atomic_path(path) as tmp:
        torch.save(state, tmp)


def load_checkpoint(path: Path, trainer: "Trainer") -> None:
    """Restore the trainer from ``path``; a checkpoint of another model configuration is refused."""
    ckpt = torch.load(path, map_location=trainer.dist.device, weights_only=True)
    if ckpt.get("format") != CHECKPOINT_FORMAT:
        raise ValueError(f"{path}: not a training checkpoint of ase_deeph2")
    if architecture_differences(trainer.model_config.to_dict(), ckpt["model_config"]):
        raise ValueError(f"{path}: checkpoint was made with another model configuration; use a new output "
                         "folder or delete the checkpoints to start over")
    trainer.model_config.avg_neighbors = ckpt["model_config"]["avg_neighbors"]
    trainer.model.load_state_dict(ckpt["model"])
    trainer.optimizer.load_state_dict(ckpt["optimizer"])
    trainer.scheduler.load_state_dict(ckpt["scheduler"])
    if trainer.ema is not None and ckpt["ema"] is not None:
        trainer.ema.load_state_dict(ckpt["ema"])
    torch.set_rng_state(ckpt["rng"]["torch"].cpu())
    if "cuda" in ckpt["rng"] and torch.cuda.is_available():
        torch.cuda.set_rng_state_all([r.cpu() for r in ckpt["rng"]["cuda"]])
    trainer.state = ckpt["state"]
