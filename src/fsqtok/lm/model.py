"""A small decoder-only transformer: pre-norm, causal SDPA attention, learned positions.

Knows only its config (vocab size and dims); imports neither tokenizers nor the trainer.
Positions and the attention mask come from the caller, so packed documents stay apart.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import nn
from torch.nn import functional as F

from fsqtok.runtime.dense import Dense


@dataclass
class TransformerConfig:
    """The model's shape; its values come from params `lm` (config.LMConfig holds the defaults)."""

    vocab_size: int  # every id the tokenizer can emit, specials included
    n_layer: int
    n_head: int
    d_model: int
    max_positions: int  # longest sequence (positions restart per document)


def sdpa(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, attn_mask: torch.Tensor | None = None,
         is_causal: bool = False) -> torch.Tensor:
    """F.scaled_dot_product_attention of q, k, v (B, nh, T, hs), but on CPU in fp32 even under bf16
    autocast: there the fused kernel is 3x slower in bf16 (forward + backward at B 16, T 128,
    hs 32: 12.7 ms against 4.0 ms in fp32). The flow's attention uses it too."""
    if q.device.type == "cpu" and torch.is_autocast_enabled("cpu"):
        with torch.autocast("cpu", enabled=False):
            return F.scaled_dot_product_attention(q.float(), k.float(), v.float(), attn_mask=attn_mask,
                                                  is_causal=is_causal)
    return F.scaled_dot_product_attention(q, k, v, attn_mask=attn_mask, is_causal=is_causal)


def attention(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, mask: torch.Tensor | None) -> torch.Tensor:
    """Causal attention of q (B, nh, T, hs) over k, v (B, nh, L, hs), L >= T (keys of earlier
    positions from a KVCache first); mask (B, T, L) bool, True = may attend, or None (L = T)."""
    if mask is None:
        return sdpa(q, k, v, is_causal=True)
    return sdpa(q, k, v, attn_mask=mask.unsqueeze(1))  # mask (B, 1, T, L)


class KVCache:
    """Every block's keys and values (B, nh, L, hs) of the positions run so far, so that sampling
    runs each new position alone instead of its whole window again."""

    def __init__(self):
        self.layers: list[tuple[torch.Tensor, torch.Tensor]] = []

    def extend(self, layer: int, k: torch.Tensor, v: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Appends block `layer`'s new k, v (B, nh, T, hs); returns all of its k, v (B, nh, L + T, hs)."""
        if layer < len(self.layers):
            k, v = (torch.cat([old, new], 2) for old, new in zip(self.layers[layer], (k, v), strict=True))
            self.layers[layer] = (k, v)
        else:
            self.layers.append((k, v))
        return k, v

    def keep(self, rows: torch.Tensor) -> None:
        """Keep only these rows (B',) of the batch."""
        self.layers = [(k[rows], v[rows]) for k, v in self.layers]


class Block(nn.Module):
    def __init__(self, config: TransformerConfig):
        super().__init__()
        self.n_head = config.n_head
        self.ln1 = nn.LayerNorm(config.d_model)
        self.qkv = Dense(config.d_model, 3 * config.d_model)
        self.proj = Dense(config.d_model, config.d_model)
        self.ln2 = nn.LayerNorm(config.d_model)
        self.mlp = nn.Sequential(Dense(config.d_model, 4 * config.d_model), nn.GELU(),
                                 Dense(4 * config.d_model, config.d_model))

    def forward(self, x: torch.Tensor, mask: torch.Tensor | None, cache: KVCache | None = None,
                layer: int = 0) -> torch.Tensor:
        B, T, C = x.shape
        q, k, v = self.qkv(self.ln1(x)).split(C, dim=2)
        q, k, v = (t.view(B, T, self.n_head, C // self.n_head).transpose(1, 2) for t in (q, k, v))  # (B, nh, T, hs)
        if cache is not None:
            k, v = cache.extend(layer, k, v)  # (B, nh, L, hs)
        y = attention(q, k, v, mask)  # (B, nh, T, hs)
        x = x + self.proj(y.transpose(1, 2).reshape(B, T, C))
        return x + self.mlp(self.ln2(x))


class Transformer(nn.Module):
    def __init__(self, config: TransformerConfig):
        super().__init__()
        self.config = config
        self.token_embedding = nn.Embedding(config.vocab_size, config.d_model)
        self.position_embedding = nn.Embedding(config.max_positions, config.d_model)
        self.blocks = nn.ModuleList(Block(config) for _ in range(config.n_layer))
        self.ln_f = nn.LayerNorm(config.d_model)
        self.head = Dense(config.d_model, config.vocab_size, bias=False)
        self.head.weight = self.token_embedding.weight  # tied, as in GPT-2
        self.apply(self._init)
        for name, p in self.named_parameters():
            if name.endswith("proj.weight") or name.endswith("mlp.2.weight"):  # scaled residual init
                nn.init.normal_(p, std=0.02 / math.sqrt(2 * config.n_layer))

    @staticmethod
    def _init(module: nn.Module) -> None:
        if isinstance(module, (nn.Linear, nn.Embedding)):
            nn.init.normal_(module.weight, std=0.02)
        if isinstance(module, nn.Linear) and module.bias is not None:
            nn.init.zeros_(module.bias)

    def forward(self, ids: torch.Tensor, attn_mask: torch.Tensor | None = None,
                positions: torch.Tensor | None = None, last_only: bool = False,
                cache: KVCache | None = None) -> torch.Tensor:
        """ids (B, T) -> logits (B, T, vocab), or (B, 1, vocab) with last_only (sampling needs only
        the next token's: the vocabulary head is most of the work). attn_mask (B, T, L) bool,
        True = may attend; positions (B, T), default 0..T-1. With `cache`, the ids follow the L - T
        positions it holds (their keys and values are read from it, the new ones added)."""
        if positions is None:
            positions = torch.arange(ids.shape[1], device=ids.device).expand_as(ids)
        x = self.token_embedding(ids) + self.position_embedding(positions)  # (B, T, C)
        for layer, block in enumerate(self.blocks):
            x = block(x, attn_mask, cache, layer)
        return self.head(self.ln_f(x[:, -1:] if last_only else x))

    def parameter_counts(self) -> dict[str, int]:
        total = sum(p.numel() for p in self.parameters())  # the tied head is counted once
        embeddings = self.token_embedding.weight.numel() + self.position_embedding.weight.numel()
        return {"params": total, "params_without_embeddings": total - embeddings}
