"""Sampling from a trained LM: temperature, top-k and top-p; stops at <eos>. Apart from the model,
it knows only a tokenizer's byte decoding (unconditional_samples)."""

from __future__ import annotations

import torch

from fsqtok.lm.model import Transformer


def filter_logits(logits: torch.Tensor, top_k: int, top_p: float) -> torch.Tensor:
    """logits (V,) with everything outside the top-k and the top-p nucleus set to -inf.
    Example: [3., 2., 1.], top_k=2 -> [3., 2., -inf]"""
    if 0 < top_k < logits.numel():
        kth = torch.topk(logits, top_k).values[-1]
        logits = logits.masked_fill(logits < kth, float("-inf"))
    if top_p < 1.0:
        sorted_logits, order = torch.sort(logits, descending=True)
        cumulative = torch.softmax(sorted_logits, dim=-1).cumsum(dim=-1)
        drop = cumulative - torch.softmax(sorted_logits, dim=-1) > top_p  # keep the first token past p
        logits = logits.masked_fill(torch.zeros_like(drop).scatter(0, order, drop), float("-inf"))
    return logits


@torch.no_grad()
def generate(model: Transformer, prompt: list[int], max_new: int, eos_id: int, temperature: float = 1.0,
             top_k: int = 0, top_p: float = 1.0, seed: int = 0) -> list[int]:
    """Continue `prompt` (ids, starting with <bos>) by up to max_new ids; the result excludes the prompt."""
    model.eval()
    generator = torch.Generator().manual_seed(seed)
    device = next(model.parameters()).device
    ids = list(prompt)
    out: list[int] = []
    for _ in range(max_new):
        window = torch.tensor([ids[-model.config.max_positions:]], device=device)
        logits = model(window)[0, -1].float().cpu() / temperature
        probs = torch.softmax(filter_logits(logits, top_k, top_p), dim=-1)
        next_id = int(torch.multinomial(probs, 1, generator=generator))
        if next_id == eos_id:
            break
        ids.append(next_id)
        out.append(next_id)
    return out


def unconditional_samples(model: Transformer, decode_bytes, bos_id: int, eos_id: int, n: int, n_bytes: int,
                          temperature: float, top_k: int, top_p: float, seed: int) -> list[str]:
    """`n` samples from <bos>, each `n_bytes` UTF-8 bytes long: a document that ends early is
    followed by the next (after a newline). Sample i, attempt a uses seed
    seed * 100_003 + i * 101 + a. `decode_bytes` turns ids into bytes (the tokenizer's)."""
    samples = []
    for i in range(n):
        data, attempt = b"", 0
        while len(data) < n_bytes:
            ids = generate(model, [bos_id], n_bytes, eos_id, temperature, top_k, top_p,
                           seed * 100_003 + i * 101 + attempt)
            data, attempt = data + decode_bytes(ids) + b"\n", attempt + 1
        samples.append(data[:n_bytes].decode("utf-8", "replace"))
    return samples
