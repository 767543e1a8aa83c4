"""Sampling from a trained LM: temperature, top-k and top-p; stops at <eos>. Several prompts are
sampled side by side in one batch, each from its own random stream. Apart from the model, it
knows only a tokenizer's byte decoding (unconditional_samples)."""

from __future__ import annotations

from collections.abc import Callable

import torch

from fsqtok.lm.model import KVCache, Transformer

UNTRUNCATED = (1.0, 0, 1.0)  # temperature, top_k, top_p: samples of the model's own distribution


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


def left_padded(windows: list[list[int]]) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Rows of different lengths as one batch: (ids (B, T) padded on the left with 0, attention
    mask (B, T, T): causal over the real ids, a padding position sees only itself, positions
    (B, T) counted from each row's first real id).
    Example: [[1, 5], [1]] -> ids [[1, 5], [0, 1]], positions [[0, 1], [0, 0]]"""
    width = max(map(len, windows))
    pads = torch.tensor([width - len(w) for w in windows])  # (B,)
    column = torch.arange(width)
    real = column[None, :] >= pads[:, None]  # (B, T)
    causal = torch.ones(width, width, dtype=torch.bool).tril()
    mask = (causal & real[:, None, :]) | torch.eye(width, dtype=torch.bool)
    ids = torch.tensor([[0] * (width - len(w)) + w for w in windows])
    return ids, mask, (column[None, :] - pads[:, None]).clamp(min=0)


@torch.no_grad()
def generate_many(model: Transformer, prompts: list[list[int]], max_new: int, eos_id: int, seeds: list[int],
                  temperature: float = 1.0, top_k: int = 0, top_p: float = 1.0,
                  enough: Callable[[int, list[int]], bool] | None = None) -> list[list[int]]:
    """Continue each prompt (ids, starting with <bos>) by up to max_new ids, all rows in one batch;
    prompt i draws from a generator seeded seeds[i], and stops early once enough(i, its new ids)
    holds. The results exclude the prompts. A step runs only each row's newest id against a
    KVCache of the ones before, until a row outgrows the model's window (then whole windows)."""
    model.eval()
    device, window = next(model.parameters()).device, model.config.max_positions
    generators = [torch.Generator().manual_seed(seed) for seed in seeds]
    ids, out = [list(p) for p in prompts], [[] for _ in prompts]
    active = list(range(len(prompts)))
    cache, real = None, None  # real (B, L): the cached positions that hold ids (not left padding)
    for _ in range(max_new):
        if not active:
            break
        if max(len(ids[i]) for i in active) > window:
            # a window slid: every position moved, so no cached key is valid; run the windows whole
            cache = None
            batch, mask, positions = left_padded([ids[i][-window:] for i in active])
        elif cache is None:
            cache = KVCache()
            batch, mask, positions = left_padded([ids[i] for i in active])
            real = mask[:, -1]  # the last position of a row sees exactly its ids
        else:  # only the newest id of each row, against the cached ones
            batch = torch.tensor([[ids[i][-1]] for i in active])  # (B, 1)
            real = torch.cat([real, torch.ones(len(active), 1, dtype=torch.bool)], 1)  # (B, L + 1)
            mask, positions = real[:, None, :], torch.tensor([[len(ids[i]) - 1] for i in active])
        logits = model(batch.to(device), mask.to(device), positions.to(device), last_only=True,
                       cache=cache)[:, -1].float().cpu()
        logits = logits / temperature
        still, kept = [], []
        for row, i in enumerate(active):
            probs = torch.softmax(filter_logits(logits[row], top_k, top_p), dim=-1)
            next_id = int(torch.multinomial(probs, 1, generator=generators[i]))
            if next_id != eos_id:
                ids[i].append(next_id)
                out[i].append(next_id)
                if enough is None or not enough(i, out[i]):
                    still.append(i)
                    kept.append(row)
        if cache is not None and len(kept) < len(active):
            cache.keep(torch.tensor(kept, dtype=torch.long, device=device))
            real = real[kept]
        active = still
    return out


def generate(model: Transformer, prompt: list[int], max_new: int, eos_id: int, temperature: float = 1.0,
             top_k: int = 0, top_p: float = 1.0, seed: int = 0) -> list[int]:
    """One prompt's continuation (see generate_many)."""
    return generate_many(model, [prompt], max_new, eos_id, [seed], temperature, top_k, top_p)[0]


def unconditional_samples(model: Transformer, decode_bytes, bos_id: int, eos_id: int, n: int, n_bytes: int,
                          temperature: float, top_k: int, top_p: float, seed: int) -> list[str]:
    """`n` samples from <bos>, each `n_bytes` UTF-8 bytes long: a document that ends early is
    followed by the next (after a newline). Sample i, attempt a uses seed
    seed * 100_003 + i * 101 + a; the samples still short are drawn side by side. `decode_bytes`
    turns ids into bytes (the tokenizer's)."""
    data, attempt = [b""] * n, 0
    while short := [i for i in range(n) if len(data[i]) < n_bytes]:
        missing = [n_bytes - len(data[i]) for i in short]  # a row stops once it has decoded this many bytes
        drawn = generate_many(model, [[bos_id]] * len(short), n_bytes, eos_id,
                              [seed * 100_003 + i * 101 + attempt for i in short], temperature, top_k, top_p,
                              enough=lambda row, ids, missing=missing: len(decode_bytes(ids)) >= missing[row])
        for i, ids in zip(short, drawn, strict=True):
            data[i] += decode_bytes(ids) + b"\n"
        attempt += 1
    return [d[:n_bytes].decode("utf-8", "replace") for d in data]
