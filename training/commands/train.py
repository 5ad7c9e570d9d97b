"""``deeph2 train config.toml``: fit an ELCT model (one process, or under ``torchrun`` for DDP)."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

NAME = "train"
HELP = "train an ELCT model from a TOML configuration (resumes from the last checkpoint)"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("config", type=Path, help="TOML file (see ase_deeph2.training.config)")
    parser.add_argument("--restart", action="store_true", help="ignore existing checkpoints and start over")
    parser.add_argument("--no-progress", action="store_true", help="no progress bars")


def run(args: argparse.Namespace) -> int:
    from ..config import load_config
    from ..loop import Trainer

    cfg = load_config(args.config)
    trainer = Trainer(cfg, resume=not args.restart, progress=not args.no_progress)
    metrics = trainer.train()
    if trainer.dist.is_main:
        held_out = metrics.get("test_set") or metrics.get("validation_set")
        print(json.dumps({"model": str(cfg.out_dir / "model.pt"), "stop_reason": metrics["stop_reason"],
                          "held_out_mae_meV": held_out["mae_meV"], "minutes": metrics["elapsed_s"] / 60}))
    return 0
