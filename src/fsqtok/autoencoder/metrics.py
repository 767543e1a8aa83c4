"""Auto-encoder objective and reconstruction metrics (loss, byte accuracy, exact match, code use)."""

from __future__ import annotations

import torch
from torch.nn import functional as F

from fsqtok.autoencoder.model import N_CLASSES, PAD, ByteAutoEncoder
from fsqtok.runtime.device import evaluating


def reconstruction_loss(logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    """logits (B, T, 257), targets (B, T) -> mean cross-entropy over every position."""
    return F.cross_entropy(logits.float().reshape(-1, N_CLASSES), targets.reshape(-1))


def code_perplexity(weights: torch.Tensor) -> float:
    """exp(entropy) of the code distribution given by per-code occurrence `weights`.
    Example: [1., 1., 2.] -> 2 ** 1.5 = 2.83 (two codes at 1/4, one at 1/2)"""
    p = weights / weights.sum()
    return float(torch.exp(-(p * p.clamp_min(1e-12).log()).sum()))


def evaluate_chunks(model: ByteAutoEncoder, chunks: torch.Tensor, batch_size: int, device) -> dict:
    """Reconstruction metrics on chunk occurrences (M, T); distinct chunks are run once.
    Runs in eval mode and fp32 (as the tokenizer encodes) and leaves the model in the mode it was in."""
    distinct, inverse = torch.unique(chunks, dim=0, return_inverse=True)
    counts = torch.bincount(inverse, minlength=len(distinct)).float()  # (U,)
    losses, correct, exact, codes = [], [], [], []
    with evaluating(model):
        for start in range(0, len(distinct), batch_size):
            x = distinct[start : start + batch_size].to(device)
            logits, indices = model(x)
            losses.append(F.cross_entropy(logits.float().transpose(1, 2), x, reduction="none").mean(1).cpu())
            hit = logits.argmax(-1) == x  # (b, T)
            correct.append(((hit & (x != PAD)).sum(1)).cpu())
            exact.append(hit.all(1).cpu())
            codes.append(indices.cpu())
    real = (distinct != PAD).sum(1).float()  # real bytes per distinct chunk
    exact_u = torch.cat(exact).float()
    code_counts = torch.bincount(torch.unique(torch.cat(codes), return_inverse=True)[1], weights=counts)
    return {
        "loss": float((torch.cat(losses) * counts).sum() / counts.sum()),
        "byte_accuracy": float((torch.cat(correct).float() * counts).sum() / (real * counts).sum()),
        "exact_match": float((exact_u * counts).sum() / counts.sum()),
        "exact_match_distinct": float(exact_u.mean()),
        "codes_used": int(len(code_counts)),
        "code_perplexity": code_perplexity(code_counts),
    }
