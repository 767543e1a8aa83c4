"""A bidirectional transformer over chunk latents, conditioned on the flow time t through
adaLN-Zero (DiT): each block's LayerNorms get a shift and scale from t, and each residual branch
a gate from t, all produced by zero-initialised linears, so every block starts as the identity.

Knows only torch and its config (and the LMs' attention call, lm.model.sdpa). Input: noisy
latents x_t (B, S, D) and t (B,); output: the predicted clean latents x1 (B, S, D).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import nn
from torch.nn import functional as F

from fsqtok.lm.model import sdpa
from fsqtok.runtime.dense import Dense


@dataclass
class FlowModelConfig:
    latent_dim: int  # size of one chunk latent (the FSQ code vector: 8)
    d_model: int
    n_layer: int
    n_head: int
    max_positions: int  # longest latent sequence


def time_features(t: torch.Tensor, dim: int) -> torch.Tensor:
    """t (B,) in [0, 1] -> sinusoidal features (B, dim), frequencies from 1 to 1000."""
    half = dim // 2
    frequencies = torch.exp(torch.arange(half, device=t.device) * (-math.log(1000.0) / max(1, half - 1)))
    angles = t.float().unsqueeze(1) * 1000.0 * frequencies  # (B, half)
    return torch.cat([angles.sin(), angles.cos()], dim=1)


def modulate(x: torch.Tensor, shift: torch.Tensor, scale: torch.Tensor) -> torch.Tensor:
    """x (B, S, C) with a per-sample shift and scale (B, C)."""
    return x * (1 + scale.unsqueeze(1)) + shift.unsqueeze(1)


class AdaLNZeroBlock(nn.Module):
    def __init__(self, config: FlowModelConfig):
        super().__init__()
        d = config.d_model
        self.n_head = config.n_head
        self.norm1 = nn.LayerNorm(d, elementwise_affine=False)
        self.qkv = Dense(d, 3 * d)
        self.proj = Dense(d, d)
        self.norm2 = nn.LayerNorm(d, elementwise_affine=False)
        self.mlp = nn.Sequential(Dense(d, 4 * d), nn.GELU(), Dense(4 * d, d))
        self.modulation = Dense(d, 6 * d)  # shift, scale, gate for attention and for the MLP
        nn.init.zeros_(self.modulation.weight)
        nn.init.zeros_(self.modulation.bias)

    def forward(self, x: torch.Tensor, c: torch.Tensor, mask: torch.Tensor | None) -> torch.Tensor:
        """x (B, S, C), c (B, C) the time embedding, mask (B, S) True where a latent is real."""
        shift1, scale1, gate1, shift2, scale2, gate2 = self.modulation(F.silu(c)).chunk(6, dim=1)
        B, S, C = x.shape
        q, k, v = self.qkv(modulate(self.norm1(x), shift1, scale1)).split(C, dim=2)
        q, k, v = (t.view(B, S, self.n_head, C // self.n_head).transpose(1, 2) for t in (q, k, v))  # (B, nh, S, hs)
        attn_mask = None if mask is None else mask[:, None, None, :]  # (B, 1, 1, S): attend to real latents
        y = sdpa(q, k, v, attn_mask=attn_mask).transpose(1, 2).reshape(B, S, C)
        x = x + gate1.unsqueeze(1) * self.proj(y)
        return x + gate2.unsqueeze(1) * self.mlp(modulate(self.norm2(x), shift2, scale2))


class FlowTransformer(nn.Module):
    def __init__(self, config: FlowModelConfig):
        super().__init__()
        self.config = config
        d = config.d_model
        self.input = Dense(config.latent_dim, d)
        self.position = nn.Embedding(config.max_positions, d)
        self.time = nn.Sequential(Dense(2 * (d // 2), d), nn.SiLU(), Dense(d, d))
        self.blocks = nn.ModuleList(AdaLNZeroBlock(config) for _ in range(config.n_layer))
        self.norm = nn.LayerNorm(d, elementwise_affine=False)
        self.final_modulation = Dense(d, 2 * d)  # shift, scale of the last norm
        nn.init.zeros_(self.final_modulation.weight)
        nn.init.zeros_(self.final_modulation.bias)
        self.output = Dense(d, config.latent_dim)

    def forward(self, x_t: torch.Tensor, t: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
        """x_t (B, S, D) latents at time t (B,) -> predicted x1 (B, S, D)."""
        positions = torch.arange(x_t.shape[1], device=x_t.device)
        h = self.input(x_t) + self.position(positions)  # (B, S, C)
        c = self.time(time_features(t, self.config.d_model))  # (B, C)
        for block in self.blocks:
            h = block(h, c, mask)
        shift, scale = self.final_modulation(F.silu(c)).chunk(2, dim=1)
        return self.output(modulate(self.norm(h), shift, scale))
