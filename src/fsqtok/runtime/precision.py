"""Training precision: bf16 autocast where the hardware computes bf16, fp32 everywhere else."""

from __future__ import annotations

import functools
from contextlib import nullcontext

import torch

from fsqtok.runtime.device import cpuinfo_text


@functools.cache  # autocast asks on every training step; the answer never changes
def cpu_has_native_bf16(cpuinfo: str | None = None) -> bool:
    """True when the CPU computes bf16 in hardware (AVX512-BF16 or AMX); elsewhere bf16 is
    emulated and slower than fp32. `cpuinfo` defaults to this machine's /proc/cpuinfo."""
    cpuinfo = cpuinfo_text() if cpuinfo is None else cpuinfo
    flags = next((line.split(":", 1)[1].split() for line in cpuinfo.splitlines() if line.startswith("flags")), [])
    return "avx512_bf16" in flags or "amx_bf16" in flags


def uses_bf16(device: torch.device, precision: str) -> bool:
    """auto: bf16 on CUDA and on CPUs with native bf16 (measured on a 2-core AVX512-BF16 EPYC:
    1.65x the fp32 steps/s for the auto-encoder, same val accuracy at equal steps)."""
    if precision != "auto":
        return precision == "bf16"
    return device.type == "cuda" or cpu_has_native_bf16()


def autocast(device: torch.device, precision: str):
    """bf16 autocast where `uses_bf16`, else plain fp32 (FSQ always quantizes in fp32)."""
    if uses_bf16(device, precision):
        return torch.autocast(device.type, dtype=torch.bfloat16)
    return nullcontext()
