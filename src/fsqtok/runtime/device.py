"""Where tensors run: `device: auto` picks CUDA when present, CPU floats without subnormals;
CPU threads sized for small machines; evaluation mode that gives the model back in the mode it was in."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import torch

from fsqtok.errors import FsqtokError


def cpuinfo_text() -> str:
    """This machine's /proc/cpuinfo ("" where there is none): the CPU facts that the precision,
    the dense layers' library and the benchmark's report go by."""
    try:
        return Path("/proc/cpuinfo").read_text()
    except OSError:
        return ""


def flush_subnormals() -> None:
    """CPU float maths flushes subnormal numbers to zero from here on: an fp32 training run makes
    more of them as it goes, and x86 cores take ~100 cycles per subnormal operand (pretrain measured
    12.6 -> 8.7 steps/s between steps 100 and 400 without the flush). The setting is per thread and
    the thread pool's workers keep the one they started with, so it must come before the first
    parallel op: set after it, only the calling thread flushed and fp32 pretrain still fell from
    12.8 to 9 steps/s on two threads."""
    torch.set_flush_denormal(True)


def resolve_device(name: str) -> torch.device:
    """auto -> cuda if available else cpu; cuda without a GPU is a clear error. Flushes subnormals
    (see flush_subnormals) for callers that did not call set_threads first."""
    if name == "cuda" and not torch.cuda.is_available():
        raise FsqtokError("device: cuda was asked for but no CUDA GPU is visible; use device: auto or cpu")
    if name == "auto":
        name = "cuda" if torch.cuda.is_available() else "cpu"
    flush_subnormals()
    return torch.device(name)


def set_threads(threads: int) -> None:
    """Flush subnormals, then size the thread pool: 0 = one thread per core
    (os.sched_getaffinity respects cgroup/taskset limits). Every stage calls it first."""
    flush_subnormals()
    torch.set_num_threads(threads or len(os.sched_getaffinity(0)))


@contextmanager
def evaluating(model: torch.nn.Module) -> Iterator[torch.nn.Module]:
    """Eval mode without gradients inside the block; the model's previous mode afterwards."""
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad():
            yield model
    finally:
        model.train(was_training)
