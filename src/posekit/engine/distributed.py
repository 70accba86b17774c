"""Data-parallel training across the processes torchrun starts (gloo on CPU, NCCL on CUDA).

    torchrun --nproc-per-node 2 -m posekit.cli train RECIPE.yaml

Without torchrun's environment (WORLD_SIZE unset or 1) every function here is a no-op for one
process, so the Trainer calls them unconditionally. The recipe's `batch_size` is the global batch:
each of N processes trains on batch_size / N samples, so a recipe means the same at any scale.
"""

from __future__ import annotations

import contextlib
import os

import torch
import torch.distributed as dist

from posekit.core.errors import ConfigError


def init_from_env(device: torch.device) -> torch.device:
    """Join torchrun's process group once per process; returns this process's device (CUDA: its
    LOCAL_RANK's GPU)."""
    if int(os.environ.get("WORLD_SIZE", "1")) <= 1:
        return device
    if device.type == "cuda":
        device = torch.device("cuda", int(os.environ.get("LOCAL_RANK", "0")))
        torch.cuda.set_device(device)
    if not dist.is_initialized():
        dist.init_process_group("nccl" if device.type == "cuda" else "gloo")
    return device


def world_size() -> int:
    return dist.get_world_size() if dist.is_available() and dist.is_initialized() else 1


def rank() -> int:
    return dist.get_rank() if world_size() > 1 else 0


def is_main() -> bool:
    return rank() == 0


def barrier() -> None:
    if world_size() > 1:
        dist.barrier()


@contextlib.contextmanager
def main_first():
    """The main process runs the block (say, generating a dataset) before the others start it."""
    if not is_main():
        barrier()
    yield
    if is_main():
        barrier()


def reduce_float(value: float, op: str = "max") -> float:
    """`value` reduced over all processes ("max" or "sum")."""
    if world_size() == 1:
        return value
    t = torch.tensor([value], dtype=torch.float64)
    dist.all_reduce(t, op=dist.ReduceOp.MAX if op == "max" else dist.ReduceOp.SUM)
    return float(t)


def per_process_batch(batch_size: int) -> int:
    n = world_size()
    if batch_size % n:
        raise ConfigError(f"batch_size {batch_size} does not split over {n} processes: it is the global "
                          f"batch, so make it a multiple of {n}")
    return batch_size // n


def wrap(model: torch.nn.Module, device: torch.device) -> torch.nn.Module:
    """The module that training calls: DistributedDataParallel over `model` when there are several
    processes (gradients averaged during backward), else `model` itself."""
    if world_size() == 1:
        return model
    return torch.nn.parallel.DistributedDataParallel(model, device_ids=[device.index] if device.type == "cuda" else None)
