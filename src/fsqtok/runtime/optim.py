"""The optimizer recipe every trainer uses: AdamW with weight decay on weight matrices only,
betas (0.9, 0.95), fused (one kernel over all parameters: 1.1-1.3x the auto-encoder's steps/s
on CPU), and one learning-rate schedule: linear warmup, then a cosine or linear decay."""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from contextlib import nullcontext

import torch

from fsqtok.errors import FsqtokError
from fsqtok.runtime.distributed import World


def adamw(model: torch.nn.Module, lr: float, weight_decay: float, decay_embeddings: bool) -> torch.optim.AdamW:
    """Biases and norms (dim < 2) are never decayed; embeddings only when `decay_embeddings`."""

    def decayed(name: str, param: torch.Tensor) -> bool:
        return param.dim() >= 2 and (decay_embeddings or "embed" not in name)

    named = list(model.named_parameters())
    groups = [{"params": [p for n, p in named if decayed(n, p)], "weight_decay": weight_decay},
              {"params": [p for n, p in named if not decayed(n, p)], "weight_decay": 0.0}]
    return torch.optim.AdamW(groups, lr=lr, betas=(0.9, 0.95), fused=True)


def lr_factor(step: int, steps: int, warmup_steps: int, min_lr_ratio: float, schedule: str) -> float:
    """The learning-rate factor at `step`: linear warmup to 1, then down to min_lr_ratio at the
    last step along a half cosine or a straight line (`schedule`). Example (steps 110, warmup 10,
    min 0): step 0 -> 0.1, step 9 -> 1.0, step 35 -> cosine ~0.85 / linear 0.75, step 109 -> ~0.0"""
    if step < warmup_steps:
        return (step + 1) / warmup_steps
    progress = min(1.0, (step - warmup_steps) / max(1, steps - warmup_steps))
    decay = 0.5 * (1 + math.cos(math.pi * progress)) if schedule == "cosine" else 1 - progress
    return min_lr_ratio + (1 - min_lr_ratio) * decay


def set_lr(optimizer: torch.optim.Optimizer, lr: float) -> None:
    for group in optimizer.param_groups:
        group["lr"] = lr


MicroBatches = Sequence[Callable[[], torch.Tensor]]  # each gives one micro-batch's share of the batch loss


def optimizer_step(model: torch.nn.Module, optimizer: torch.optim.Optimizer, loss: torch.Tensor | MicroBatches,
                   grad_clip: float, diverged: str, world: World = World()) -> float:
    """Backward, clip the global grad norm to `grad_clip` (0 = off) and step; returns the loss
    (averaged over the ranks). `loss` is the batch's loss, or its micro-batches' (summing to it):
    each runs forward and backward before the next, so only one micro-batch's activations live
    at a time (and stay in cache), and under DDP the gradients are all-reduced once, with the
    last. A NaN or infinite loss raises on every rank before the step, with `diverged` (what to
    say, what to do) in the message, so the weights and the last checkpoint stay as they were."""
    parts = [lambda: loss] if isinstance(loss, torch.Tensor) else loss
    optimizer.zero_grad(set_to_none=True)
    total = 0.0
    for i, part in enumerate(parts):
        last = i == len(parts) - 1
        with nullcontext() if last or not hasattr(model, "no_sync") else model.no_sync():
            micro = part()
            micro.backward()
        total += micro.item()
    value = world.mean(total)
    if not math.isfinite(value):
        raise FsqtokError(diverged.format(loss=value))
    if grad_clip:
        torch.nn.utils.clip_grad_norm_(model.parameters(), grad_clip)
    optimizer.step()
    return value
