"""Where tensors run: `device: auto` picks CUDA when present; CPU threads sized for small machines."""

from __future__ import annotations

import os
from contextlib import nullcontext

import torch

from fsqtok.errors import FsqtokError


def resolve_device(name: str) -> torch.device:
    """auto -> cuda if available else cpu; cuda without a GPU is a clear error."""
    if name == "cuda" and not torch.cuda.is_available():
        raise FsqtokError("device: cuda was asked for but no CUDA GPU is visible; use device: auto or cpu")
    if name == "auto":
        name = "cuda" if torch.cuda.is_available() else "cpu"
    return torch.device(name)


def set_threads(threads: int) -> None:
    """0 = one thread per core (os.sched_getaffinity respects cgroup/taskset limits)."""
    torch.set_num_threads(threads or len(os.sched_getaffinity(0)))


def autocast(device: torch.device):
    """bf16 autocast on CUDA; plain fp32 on CPU (bf16 on small CPUs is slower, not faster)."""
    if device.type == "cuda":
        return torch.autocast("cuda", dtype=torch.bfloat16)
    return nullcontext()
