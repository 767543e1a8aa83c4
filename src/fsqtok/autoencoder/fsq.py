"""Finite Scalar Quantization (Mentzer et al. 2023): a pure, invertible quantizer, torch only.

Each of the D latent dims is bounded and rounded to one of L_i levels; the implicit codebook
is the grid of all level combinations, size prod(levels). The bound follows
vector-quantize-pytorch (which corrects the paper's notebook for even L).
"""

from __future__ import annotations

import math

import torch
from torch import nn


def round_ste(z: torch.Tensor) -> torch.Tensor:
    """Round in the forward pass, identity gradient in the backward pass."""
    return z + (z.round() - z).detach()


class FSQ(nn.Module):
    def __init__(self, levels: list[int], eps: float = 1e-3):
        super().__init__()
        self.levels_list = list(levels)
        self.eps = eps
        levels_t = torch.tensor(levels, dtype=torch.int64)
        basis = torch.cumprod(torch.tensor([1] + list(levels[:-1]), dtype=torch.int64), dim=0)
        # Non-persistent: derived from `levels`, which travels in config.json.
        self.register_buffer("levels", levels_t, persistent=False)
        self.register_buffer("basis", basis, persistent=False)
        self.register_buffer("half_width", levels_t // 2, persistent=False)

    @property
    def dim(self) -> int:
        return len(self.levels_list)

    @property
    def codebook_size(self) -> int:
        return math.prod(self.levels_list)

    def bound(self, z: torch.Tensor) -> torch.Tensor:
        """(..., D) -> (..., D) in (-half_l - offset, half_l - offset): rounds to L levels."""
        levels = self.levels.to(z.dtype)
        half_l = (levels - 1) * (1 + self.eps) / 2
        offset = torch.where(self.levels % 2 == 0, 0.5, 0.0).to(z.dtype)
        shift = torch.atanh(offset / half_l)
        return torch.tanh(z + shift) * half_l - offset

    def forward(self, z: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """z (..., D) -> codes (..., D) in [-1, 1] (fp32, straight-through), indices (...) int64."""
        with torch.autocast(device_type=z.device.type, enabled=False):
            codes = round_ste(self.bound(z.float())) / self.half_width
        return codes, self.codes_to_indices(codes)

    def codes_to_indices(self, codes: torch.Tensor) -> torch.Tensor:
        """codes (..., D) -> indices (...) in [0, codebook_size)."""
        level_index = (codes.float() * self.half_width + self.half_width).round().long()  # (..., D)
        return (level_index * self.basis).sum(dim=-1)

    def indices_to_codes(self, indices: torch.Tensor) -> torch.Tensor:
        """indices (...) -> codes (..., D) fp32; exact inverse of codes_to_indices."""
        level_index = (indices.long().unsqueeze(-1) // self.basis) % self.levels  # (..., D)
        return (level_index - self.half_width).float() / self.half_width
