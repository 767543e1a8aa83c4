"""LM training and bits-per-byte evaluation, apart from the model.

BPB = total NLL (nats) over every within-document target of the val rows / (ln 2 x UTF-8
bytes of those val documents): the same bytes for every tokenizer, so BPB compares them.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from functools import partial

import torch

from fsqtok.config import LMConfig
from fsqtok.lm.data import batch_inputs, target_mask
from fsqtok.lm.model import Transformer
from fsqtok.runtime.device import evaluating
from fsqtok.runtime.distributed import World, wrap
from fsqtok.runtime.losses import token_nll
from fsqtok.runtime.optim import MicroBatches, adamw
from fsqtok.runtime.precision import autocast
from fsqtok.runtime.trainer import TrainLoop


def masked_nll(model: Transformer, rows: tuple[torch.Tensor, torch.Tensor], device,
               precision: str = "fp32") -> tuple[torch.Tensor, int]:
    """(sum of NLL in nats over within-document targets, number of such targets).
    BPB is measured in fp32; training passes its precision (see precision.uses_bf16)."""
    batch = {k: v.to(device) for k, v in batch_inputs(*rows).items()}
    with autocast(device, precision):
        logits = model(batch["ids"], batch["attn_mask"], batch["positions"])
    # over (B * T, vocab) rows: the vocabulary contiguous, 1.4x faster a step than (B, vocab, T)
    nll = token_nll(logits.flatten(0, 1), batch["targets"].flatten())
    nll = nll.view_as(batch["targets"])  # (B, T)
    mask = batch["loss_mask"]
    return (nll * mask).sum(), int(mask.sum())


LOGITS_PER_PASS = 1 << 21  # 8 MB of fp32 logits: what one forward (+ backward) may produce and keep in cache


def rows_per_pass(model: Transformer) -> int:
    """Rows of a batch that run forward (and backward) together: as many as keep their logits
    (rows, T, vocab) within LOGITS_PER_PASS. Vocab 4,096 at T 128: 4 rows, an evaluation 0.6 s
    instead of 1.1 at 64 rows and a training step 1.15-1.3x the steps/s; the byte LM: 63 rows."""
    return max(1, LOGITS_PER_PASS // (model.config.max_positions * model.config.vocab_size))


def in_passes(tokens: torch.Tensor, segments: torch.Tensor, rows: int) -> list[tuple[torch.Tensor, torch.Tensor]]:
    """Packed rows (N, T + 1) and their segments cut into passes of `rows` rows (the last may be shorter)."""
    return [(tokens[i : i + rows], segments[i : i + rows]) for i in range(0, len(tokens), rows)]


def bits_per_byte(model: Transformer, tokens: torch.Tensor, segments: torch.Tensor, n_bytes: int, device) -> dict:
    total, count = 0.0, 0
    with evaluating(model):
        for part in in_passes(tokens, segments, rows_per_pass(model)):
            nll, n = masked_nll(model, part, device)
            total, count = total + float(nll), count + n
    return {"bpb": total / (math.log(2) * n_bytes), "nll_per_token": total / max(1, count), "val_tokens": count}


def train_lm(model: Transformer, tokens: torch.Tensor, segments: torch.Tensor, config: LMConfig,
             device, seed: int, evaluate: Callable[[int], dict], name: str, precision: str = "fp32",
             world: World = World(), micro_rows: int = 0) -> list[dict]:
    """Train on packed rows (N, T + 1) for config.steps; returns the curve (one row per evaluation,
    every config.eval_every steps and at the end; evaluated on rank 0 only). Under torchrun each
    rank trains on its rows of the same seeded global batch; the loss is normalised by the
    global count of targets, so the ranks' averaged gradient is the single-process one. A step
    runs forward and backward over micro-batches of `micro_rows` rows (0: rows_per_pass)."""
    optimizer = adamw(model, config.lr, config.weight_decay, decay_embeddings=True)
    trained = wrap(model, world, device)
    generator = torch.Generator().manual_seed(seed)
    tokens_per_step = config.batch_size * config.context_tokens
    rows = micro_rows or rows_per_pass(model)

    def loss(step: int) -> tuple[MicroBatches, dict]:
        pick = world.shard(torch.randint(0, len(tokens), (config.batch_size,), generator=generator))
        batch = tokens[pick], segments[pick]
        scale = world.size / max(1, world.sum(int(target_mask(batch[1]).sum())))  # the global targets' mean

        def micro(part: tuple[torch.Tensor, torch.Tensor]) -> torch.Tensor:
            return masked_nll(trained, part, device, precision)[0] * scale

        return [partial(micro, part) for part in in_passes(*batch, rows)], {}

    def measure(row: dict) -> dict:
        return {"tokens_seen": row["step"] * tokens_per_step, "tokens_per_s": row["steps_per_s"] * tokens_per_step,
                **evaluate(row["step"])}

    curve: list[dict] = []
    TrainLoop(f"lm {name}", config, trained, optimizer, loss,
              f"integrate: the {name} LM's loss became {{loss}} at step {{step}}; lower lm.lr",
              evaluate=measure, world=world).run(0, config.steps, curve)
    return curve
