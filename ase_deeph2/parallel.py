"""Process groups for ``torchrun``: gloo on CPU, nccl on GPU; one owner for training (DDP) and
inference (atom groups shared out over processes).

Run ``torchrun --nproc_per_node N -m ase_deeph2.cli train config.toml`` (or ``predict``); a plain
command is one process and needs no process group.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import torch
import torch.distributed as dist

__all__ = ["Distributed", "init_distributed", "resolve_device"]


def resolve_device(preference: str, local_rank: int = 0) -> torch.device:
    """``"auto"`` -> CUDA (this process's GPU) when present, else CPU; otherwise as given."""
    if preference == "auto":
        return torch.device(f"cuda:{local_rank}") if torch.cuda.is_available() else torch.device("cpu")
    device = torch.device(preference)
    if device.type == "cuda" and not torch.cuda.is_available():
        raise RuntimeError(f"device {preference!r} asked for, but CUDA is not available on this machine")
    return device


@dataclass
class Distributed:
    """This process's place in the job (a single process is rank 0 of 1)."""

    rank: int
    world: int
    local_rank: int
    device: torch.device

    @property
    def enabled(self) -> bool:
        return self.world > 1

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    def all_reduce(self, tensor: torch.Tensor, op: str = "sum") -> None:
        """In-place sum or max over processes (no-op for one process); CPU tensors are moved as needed."""
        if not self.enabled:
            return
        reduce_op = {"sum": dist.ReduceOp.SUM, "max": dist.ReduceOp.MAX}[op]
        if self.device.type == "cuda" and tensor.device.type != "cuda":
            moved = tensor.to(self.device)
            dist.all_reduce(moved, reduce_op)
            tensor.copy_(moved.cpu())
        else:
            dist.all_reduce(tensor, reduce_op)

    def all_gather_object(self, obj) -> list:
        """Every process's ``obj`` (picklable), in rank order ([obj] for one process)."""
        if not self.enabled:
            return [obj]
        out = [None] * self.world
        dist.all_gather_object(out, obj)
        return out

    def barrier(self) -> None:
        if self.enabled:
            dist.barrier()

    def close(self) -> None:
        if self.enabled and dist.is_initialized():
            dist.destroy_process_group()


def init_distributed(device_preference: str = "auto") -> Distributed:
    """Join the process group described by torchrun's environment (RANK, WORLD_SIZE, LOCAL_RANK)."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    rank = int(os.environ.get("RANK", "0"))
    local_rank = int(os.environ.get("LOCAL_RANK", "0"))
    device = resolve_device(device_preference, local_rank)
    if world > 1 and not dist.is_initialized():
        backend = "nccl" if device.type == "cuda" else "gloo"
        if device.type == "cuda":
            torch.cuda.set_device(device)
        dist.init_process_group(backend=backend, rank=rank, world_size=world)
    return Distributed(rank, world, local_rank, device)
