"""Where this process runs: its compute device and its place in a ``torchrun`` launch.

A leaf of the package (torch and :mod:`modist.errors` only), so that every layer, from
flow precomputation to evaluation, reads the launch and the device the same way.

Example:
    >>> env = torchrun_env({"RANK": "1", "WORLD_SIZE": "2"})
    >>> env
    TorchrunEnv(rank=1, world_size=2, local_rank=1, owns_group=False)
    >>> env.enabled, env.is_main
    (True, False)
    >>> resolve_device("cpu")
    device(type='cpu')
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass

import torch
import torch.distributed as dist

from modist.errors import ConfigError


def resolve_device(name: str, *, flag: str = "train.device") -> torch.device:
    """``auto`` prefers CUDA, then Apple MPS, then CPU; explicit names are checked.

    ``flag`` is what the user typed the name into (a config key, a command-line flag or
    a parameter); errors name it.
    """
    if name == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        if getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available():
            return torch.device("mps")
        return torch.device("cpu")
    try:
        device = torch.device(name)
    except RuntimeError:
        raise ConfigError(f"invalid value {name!r} for {flag}") from None
    if device.type == "cuda" and not torch.cuda.is_available():
        raise ConfigError(f"{flag}={name} but CUDA is not available on this machine")
    return device


@dataclass(frozen=True)
class TorchrunEnv:
    """This process's place in the launch; ``(0, 1, 0)`` outside torchrun."""

    rank: int = 0
    world_size: int = 1
    local_rank: int = 0
    owns_group: bool = False  # modist.distributed.setup_distributed initialised the process group

    @property
    def enabled(self) -> bool:
        return self.world_size > 1

    @property
    def is_main(self) -> bool:
        return self.rank == 0


def torchrun_env(environ: Mapping[str, str] | None = None) -> TorchrunEnv:
    """``RANK`` / ``WORLD_SIZE`` / ``LOCAL_RANK`` as torchrun sets them (``os.environ`` by default).

    Missing variables mean one process; ``LOCAL_RANK`` defaults to ``RANK``.
    """
    environ = os.environ if environ is None else environ

    def read(name: str, default: int) -> int:
        text = environ.get(name)
        if text is None:
            return default
        try:
            return int(text)
        except ValueError:
            raise ConfigError(f"{name}={text!r} is not an integer (torchrun sets RANK, WORLD_SIZE and "
                              "LOCAL_RANK to integers)") from None

    world = read("WORLD_SIZE", 1)
    rank = read("RANK", 0)
    local = read("LOCAL_RANK", rank)
    if world < 1 or not 0 <= rank < world:
        raise ConfigError(f"RANK={rank} is not within WORLD_SIZE={world}")
    return TorchrunEnv(rank, world, local)


def distributed_world() -> tuple[int, int]:
    """``(rank, world_size)`` of the default process group, ``(0, 1)`` without one."""
    if dist.is_available() and dist.is_initialized():
        return dist.get_rank(), dist.get_world_size()
    return 0, 1
