"""Process groups for ``torchrun`` launches and the few collectives the loop needs.

``torchrun --nproc_per_node=N -m modist.cli.main pretrain ...`` sets ``RANK``,
``WORLD_SIZE``, ``LOCAL_RANK``, ``MASTER_ADDR`` and ``MASTER_PORT``; with
``train.distributed=auto`` the trainer then joins the group (NCCL on CUDA, gloo on
CPU) and trains with DDP; ``modist eval detect`` shares its keyframes across the ranks
the same way. Without those variables everything here is the single-process identity.

The launch itself is :class:`modist.runtime.TorchrunEnv`.

Example:
    >>> env, device = setup_distributed("off", "cpu")
    >>> env.enabled, env.is_main, device
    (False, True, device(type='cpu'))
"""

from __future__ import annotations

from typing import Any

import torch
import torch.distributed as dist

from modist.runtime import TorchrunEnv, distributed_world, resolve_device, torchrun_env


def setup_distributed(mode: str, device_name: str) -> tuple[TorchrunEnv, torch.device]:
    """Join the process group when launched by torchrun (``mode="auto"``); pick the device.

    Each rank on CUDA uses ``cuda:LOCAL_RANK``. An existing default group (a caller
    that initialised it, e.g. a test) is used as it is.
    """
    env = torchrun_env() if mode == "auto" else TorchrunEnv()
    if dist.is_available() and dist.is_initialized():
        rank, world = distributed_world()
        env = TorchrunEnv(rank, world, env.local_rank)
    if not env.enabled:
        return env, resolve_device(device_name)
    if device_name in ("auto", "cuda") and torch.cuda.is_available():
        device = torch.device("cuda", env.local_rank % torch.cuda.device_count())
    else:
        device = resolve_device(device_name)
    if device.type == "cuda":
        torch.cuda.set_device(device)
    if not dist.is_initialized():
        dist.init_process_group("nccl" if device.type == "cuda" else "gloo", rank=env.rank,
                                world_size=env.world_size, device_id=device if device.type == "cuda" else None)
        env = TorchrunEnv(env.rank, env.world_size, env.local_rank, owns_group=True)
    return env, device


def teardown_distributed(env: TorchrunEnv) -> None:
    """Wait for every rank, then leave the group if the trainer created it."""
    if env.enabled and dist.is_initialized():
        dist.barrier()
        if env.owns_group:
            dist.destroy_process_group()


def mean_across_ranks(values: dict[str, float], device: torch.device) -> dict[str, float]:
    """Average scalar logs over ranks (the loss of the global batch is the ranks' mean)."""
    _, world = distributed_world()
    if world == 1 or not values:
        return values
    keys = sorted(values)
    t = torch.tensor([float(values[k]) for k in keys], dtype=torch.float64, device=device)
    dist.all_reduce(t, op=dist.ReduceOp.SUM)
    t /= world
    return dict(zip(keys, t.tolist()))


def min_across_ranks(value: int, device: torch.device) -> int:
    if distributed_world()[1] == 1:
        return value
    t = torch.tensor([value], dtype=torch.long, device=device)
    dist.all_reduce(t, op=dist.ReduceOp.MIN)
    return int(t.item())


def gather_objects(obj: Any) -> list[Any]:
    """Every rank's ``obj`` (picklable), in rank order."""
    _, world = distributed_world()
    if world == 1:
        return [obj]
    out: list[Any] = [None] * world
    dist.all_gather_object(out, obj)
    return out
