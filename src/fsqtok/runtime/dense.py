"""The models' dense layers (nn.Linear's maths) on the faster of the CPU's two matrix libraries.

PyTorch computes an fp32 `F.linear` with MKL, which on AMD CPUs runs its AVX2 code even where
the CPU has AVX-512; oneDNN picks its kernels by instruction set alone. On a 2-core AMD EPYC
(Zen 5, AVX-512) oneDNN's 1x1 convolution, used as the matrix product, ran the auto-encoder's
and the LMs' layer sizes (forward + backward) at 1.6-2x MKL's GFLOP/s (docs/experiments.md).
bf16 under autocast already runs in oneDNN; Intel CPUs and AVX2-only ones keep MKL.
"""

from __future__ import annotations

import functools

import torch
from torch import nn
from torch.nn import functional as F

from fsqtok.runtime.device import cpuinfo_text


@functools.cache  # asked on every layer call; the answer never changes within a process
def onednn_is_faster(cpuinfo: str | None = None) -> bool:
    """True on AMD CPUs where PyTorch runs its AVX-512 kernels (ATEN_CPU_CAPABILITY unset or
    avx512) and oneDNN is built in. `cpuinfo` defaults to this machine's /proc/cpuinfo."""
    cpuinfo = cpuinfo_text() if cpuinfo is None else cpuinfo
    amd = any(line.startswith("vendor_id") and "AuthenticAMD" in line for line in cpuinfo.splitlines())
    return amd and torch.backends.cpu.get_cpu_capability().startswith("AVX512") and torch.backends.mkldnn.is_available()


# Inputs of at most this many values stay with F.linear: PyTorch gives a one-image convolution
# that small to its slow reference kernel, not to oneDNN (16 x 192: 111 us against F.linear's 91,
# forward + backward; 128 x 128 to 4,100: 2.8 ms against 2.6).
MAX_REFERENCE_CONV_VALUES = 20480


def linear(x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor | None = None) -> torch.Tensor:
    """F.linear(x, weight, bias): x (..., K), weight (N_out, K) -> (..., N_out). For fp32 on a CPU
    where `onednn_is_faster`, computed as a 1x1 convolution over the rows of x seen as a
    channels-last image (x (M, K) is the NHWC image (1, M, 1, K) without a copy), which PyTorch
    gives to oneDNN for the forward and the backward pass (onednn_linear)."""
    if (x.dtype != torch.float32 or x.device.type != "cpu" or torch.is_autocast_enabled("cpu")
            or x.numel() <= MAX_REFERENCE_CONV_VALUES or not onednn_is_faster()):
        return F.linear(x, weight, bias)
    return onednn_linear(x, weight, bias)


def onednn_linear(x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor | None = None) -> torch.Tensor:
    """`linear`'s oneDNN route on any CPU: x (..., K) fp32 with at least one row."""
    rows = x.reshape(-1, x.shape[-1])  # (M, K)
    image = rows.view(1, len(rows), 1, rows.shape[1]).permute(0, 3, 1, 2)  # (1, K, M, 1), channels-last strides
    out = F.conv2d(image, weight[:, :, None, None], bias)  # (1, N_out, M, 1), channels-last
    return out.permute(0, 2, 3, 1).reshape(*x.shape[:-1], weight.shape[0])


class Dense(nn.Linear):
    """nn.Linear (the same parameters, init and state-dict keys) computed by `linear`."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return linear(x, self.weight, self.bias)
