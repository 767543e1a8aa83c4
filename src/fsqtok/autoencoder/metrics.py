"""Auto-encoder objective and reconstruction metrics (loss, byte accuracy, exact match, code use,
byte accuracy by how often a chunk occurs in train)."""

from __future__ import annotations

import math

import torch
from torch.nn import functional as F

from fsqtok.autoencoder.model import PAD, ByteAutoEncoder, positions_to_end
from fsqtok.runtime.device import evaluating
from fsqtok.runtime.losses import token_nll

# Val chunks grouped by how often the same chunk occurs in train: name -> (fewest, most) times.
# Frequent chunks are memorised first; the rarer buckets show what more training would buy.
FREQUENCY_BUCKETS = {"over_100": (101, math.inf), "11_100": (11, 100), "3_10": (3, 10), "0_2": (0, 2)}


def bucket_label(name: str) -> str:
    """Example: "11_100" -> "11-100 times", "over_100" -> "over 100 times" (for tables and plots)."""
    low, high = FREQUENCY_BUCKETS[name]
    return f"over {low - 1} times" if high == math.inf else f"{low}-{high} times"


BUCKET_ACCURACIES = [f"byte_accuracy_train_{name}" for name in FREQUENCY_BUCKETS]  # curve columns


def bucket_masks(train_counts: torch.Tensor) -> dict[str, torch.Tensor]:
    """train_counts (N,) -> {bucket: (N,) bool}. Example: [0, 5, 500] -> 0_2 [T, F, F], 3_10 [F, T, F], ..."""
    return {name: (train_counts >= low) & (train_counts <= high) for name, (low, high) in FREQUENCY_BUCKETS.items()}


def bucket_byte_shares(chunks: torch.Tensor, train_counts: torch.Tensor) -> dict[str, float]:
    """Share of the real bytes of chunk occurrences (M, T) in each train-frequency bucket."""
    real = (chunks != PAD).sum(1).float()  # (M,)
    return {f"byte_share_train_{name}": float(real[mask].sum() / real.sum())
            for name, mask in bucket_masks(train_counts).items()}


def reconstruction_loss(logits: torch.Tensor, targets: torch.Tensor, positions: int) -> torch.Tensor:
    """logits (N, 257), targets (N,) of the positions `decode_through_end` spelled -> their summed
    cross-entropy over all `positions` (B * T) of the batch: those it left out are "end" by
    construction and count as certain."""
    return token_nll(logits, targets).sum() / positions


def code_perplexity(weights: torch.Tensor) -> float:
    """exp(entropy) of the code distribution given by per-code occurrence `weights`.
    Example: [1., 1., 2.] -> 2 ** 1.5 = 2.83 (two codes at 1/4, one at 1/2)"""
    p = weights / weights.sum()
    return float(torch.exp(-(p * p.clamp_min(1e-12).log()).sum()))


def evaluate_chunks(model: ByteAutoEncoder, chunks: torch.Tensor, batch_size: int, device,
                    train_counts: torch.Tensor | None = None) -> dict:
    """Reconstruction metrics on chunk occurrences (M, T); distinct chunks are run once. With
    `train_counts` (M,) (how often each occurrence's chunk is in train), also the byte accuracy
    of each FREQUENCY_BUCKETS bucket that has val chunks.
    Runs in eval mode and fp32 (as the tokenizer encodes) and leaves the model in the mode it was in."""
    distinct, inverse = torch.unique(chunks, dim=0, return_inverse=True)
    counts = torch.bincount(inverse, minlength=len(distinct)).float()  # (U,)
    losses, correct, exact, codes = [], [], [], []
    with evaluating(model):
        for start in range(0, len(distinct), batch_size):
            x = distinct[start : start + batch_size].to(device)
            logits, indices = model(x)  # greedy: what the tokenizer spells
            # the loss training lowers; only the autoregressive decoder reads the true bytes
            forced = model(x, teacher_forcing=True)[0] if model.spells_autoregressively else logits
            losses.append(F.cross_entropy(forced.float().transpose(1, 2), x, reduction="none").mean(1).cpu())
            hit = logits.argmax(-1) == x  # (b, T)
            correct.append(((hit & (x != PAD)).sum(1)).cpu())
            # exact: right through the first end symbol; what follows it is never read (unpack_chunks)
            read = torch.arange(x.shape[1], device=x.device) < positions_to_end(x)[:, None]  # (b, T)
            exact.append((hit | ~read).all(1).cpu())
            codes.append(indices.cpu())
    real = (distinct != PAD).sum(1).float()  # real bytes per distinct chunk
    exact_u = torch.cat(exact).float()
    code_counts = torch.bincount(torch.unique(torch.cat(codes), return_inverse=True)[1], weights=counts)
    correct_u = torch.cat(correct).float()
    buckets = {}
    if train_counts is not None:
        distinct_counts = torch.zeros(len(distinct), dtype=torch.int64).scatter_(0, inverse, train_counts)
        for name, mask in bucket_masks(distinct_counts).items():
            if mask.any():  # a bucket without val chunks has no accuracy (and no key)
                buckets[f"byte_accuracy_train_{name}"] = float(
                    (correct_u * counts)[mask].sum() / (real * counts)[mask].sum())
    return {
        "loss": float((torch.cat(losses) * counts).sum() / counts.sum()),
        "byte_accuracy": float((correct_u * counts).sum() / (real * counts).sum()),
        "exact_match": float((exact_u * counts).sum() / counts.sum()),
        "exact_match_distinct": float(exact_u.mean()),
        "codes_used": int(len(code_counts)),
        "code_perplexity": code_perplexity(code_counts),
        **buckets,
    }
