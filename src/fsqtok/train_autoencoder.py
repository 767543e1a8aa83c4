"""Auto-encoder pre-training: seeded data order, warmup + cosine AdamW, evaluation, resume.

Apart from the model: the loss is per-position cross-entropy over 257 classes (bytes + end),
so the model learns both the bytes and where the chunk stops.
"""

from __future__ import annotations

import math
import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import torch
from torch.nn import functional as F
from tqdm import tqdm

from fsqtok.autoencoder import N_CLASSES, PAD, ByteAutoEncoder, pack_chunks
from fsqtok.checkpoint import Checkpointer, load_checkpoint
from fsqtok.chunking import iter_text_chunks, training_segments
from fsqtok.config import Params, PretrainConfig
from fsqtok.device import autocast
from fsqtok.optim import adamw


def segment_tensor(texts, config: PretrainConfig, max_chunk_bytes: int, seed: int) -> torch.Tensor:
    """Train segment occurrences (chunks, pre-token runs, pieces; see training_segments) as ids."""
    rng = random.Random(seed)
    segments = [s for text in texts for s in training_segments(
        text.encode("utf-8", "surrogatepass"), max_chunk_bytes, rng, config.join_rate, config.split_rate)]
    return pack_chunks(segments, max_chunk_bytes)


def chunk_tensor(texts, max_chunk_bytes: int, limit: int = 0, seed: int = 0) -> torch.Tensor:
    """Every chunk occurrence of `texts` as (N, max_chunk_bytes) ids; with `limit`, a seeded
    random sample of that many occurrences (documents are stored grouped by source)."""
    chunks = pack_chunks(list(iter_text_chunks(texts, max_chunk_bytes)), max_chunk_bytes)
    if limit and len(chunks) > limit:
        generator = torch.Generator().manual_seed(seed)
        chunks = chunks[torch.randperm(len(chunks), generator=generator)[:limit]]
    return chunks


class ChunkStream:
    """Train chunk occurrences (N, T) in a seeded order: epoch e is permutation(seed + e).
    Its whole state is (epoch, offset), so a resumed run sees exactly the same batches."""

    def __init__(self, chunks: torch.Tensor, seed: int, epoch: int = 0, offset: int = 0):
        self.chunks, self.seed, self.epoch, self.offset = chunks, seed, epoch, offset
        self._perm_epoch, self._perm = -1, torch.empty(0, dtype=torch.int64)

    def _permutation(self) -> torch.Tensor:
        if self._perm_epoch != self.epoch:
            generator = torch.Generator().manual_seed(self.seed * 1_000_003 + self.epoch)
            self._perm = torch.randperm(len(self.chunks), generator=generator)
            self._perm_epoch = self.epoch
        return self._perm

    def next_batch(self, size: int) -> torch.Tensor:
        """(size, T): the next `size` occurrences, continuing into the next epoch when needed."""
        parts, needed = [], size
        while needed:
            if self.offset >= len(self.chunks):
                self.epoch, self.offset = self.epoch + 1, 0
            take = self._permutation()[self.offset : self.offset + needed]
            parts.append(take)
            self.offset += len(take)
            needed -= len(take)
        return self.chunks[torch.cat(parts)]

    def state(self) -> dict:
        return {"epoch": self.epoch, "offset": self.offset}


def lr_factor(step: int, config: PretrainConfig) -> float:
    """Linear warmup to 1, then cosine down to min_lr_ratio at the last step.
    Example (warmup 10, steps 110, min 0): step 0 -> 0.1, step 9 -> 1.0, step 109 -> ~0.0"""
    if step < config.warmup_steps:
        return (step + 1) / config.warmup_steps
    progress = (step - config.warmup_steps) / max(1, config.steps - config.warmup_steps)
    cosine = 0.5 * (1 + math.cos(math.pi * min(1.0, progress)))
    return config.min_lr_ratio + (1 - config.min_lr_ratio) * cosine


def reconstruction_loss(logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    """logits (B, T, 257), targets (B, T) -> mean cross-entropy over every position."""
    return F.cross_entropy(logits.float().reshape(-1, N_CLASSES), targets.reshape(-1))


@torch.no_grad()
def evaluate_chunks(model: ByteAutoEncoder, chunks: torch.Tensor, batch_size: int, device) -> dict:
    """Reconstruction metrics on chunk occurrences (M, T); distinct chunks are run once.
    Runs in eval mode and fp32 (as the tokenizer encodes) and leaves the model in the mode it was in."""
    was_training = model.training
    model.eval()
    distinct, inverse = torch.unique(chunks, dim=0, return_inverse=True)
    counts = torch.bincount(inverse, minlength=len(distinct)).float()  # (U,)
    losses, correct, exact, codes = [], [], [], []
    for start in range(0, len(distinct), batch_size):
        x = distinct[start : start + batch_size].to(device)
        logits, indices = model(x)
        losses.append(F.cross_entropy(logits.float().transpose(1, 2), x, reduction="none").mean(1).cpu())
        hit = logits.argmax(-1) == x  # (b, T)
        correct.append(((hit & (x != PAD)).sum(1)).cpu())
        exact.append(hit.all(1).cpu())
        codes.append(indices.cpu())
    model.train(was_training)
    real = (distinct != PAD).sum(1).float()  # real bytes per distinct chunk
    exact_u = torch.cat(exact).float()
    code_counts = torch.bincount(torch.unique(torch.cat(codes), return_inverse=True)[1], weights=counts)
    p = code_counts / code_counts.sum()
    return {
        "loss": float((torch.cat(losses) * counts).sum() / counts.sum()),
        "byte_accuracy": float((torch.cat(correct).float() * counts).sum() / (real * counts).sum()),
        "exact_match": float((exact_u * counts).sum() / counts.sum()),
        "exact_match_distinct": float(exact_u.mean()),
        "codes_used": int(len(code_counts)),
        "code_perplexity": float(torch.exp(-(p * p.clamp_min(1e-12).log()).sum())),
    }


@dataclass
class TrainState:
    """Everything a resumed run needs besides the weights and optimizer."""

    step: int = 0
    best_exact: float = -1.0
    best_step: int = 0
    history: list[dict] = field(default_factory=list)  # one row per evaluation (the curve)


def training_fingerprint(params: Params) -> str:
    """Checkpoints are reused only by a run with the same data, model and schedule."""
    return params.digest("seed", "corpus", "split", "chunking", "autoencoder", "fsq", "pretrain")


def make_checkpoint(model, optimizer, stream: ChunkStream, state: TrainState, fingerprint: str) -> dict:
    return {
        "model": model.state_dict(),
        "optimizer": optimizer.state_dict(),
        "torch_rng": torch.get_rng_state(),
        "data": stream.state(),
        "step": state.step,
        "best_exact": state.best_exact,
        "best_step": state.best_step,
        "history": state.history,
        "fingerprint": fingerprint,
    }


def restore(checkpoint: dict, model, optimizer, stream: ChunkStream) -> TrainState:
    model.load_state_dict(checkpoint["model"])
    optimizer.load_state_dict(checkpoint["optimizer"])
    torch.set_rng_state(checkpoint["torch_rng"])
    stream.epoch, stream.offset = checkpoint["data"]["epoch"], checkpoint["data"]["offset"]
    return TrainState(checkpoint["step"], checkpoint["best_exact"], checkpoint["best_step"],
                      list(checkpoint["history"]))


def make_optimizer(model, config: PretrainConfig) -> torch.optim.Optimizer:
    """AdamW; biases, norms and the byte embedding are not decayed."""
    return adamw(model, config.lr, config.weight_decay, decay_embeddings=False)


@dataclass
class PretrainRun:
    params: Params
    train_chunks: torch.Tensor  # (N, T) padded byte ids
    val_chunks: torch.Tensor  # (M, T)
    checkpoints: Checkpointer
    device: torch.device
    on_eval: Callable[[dict], None] = lambda row: None  # e.g. log to MLflow
    progress: bool = True

    def run(self, resume_from=None, stop_after: int | None = None) -> tuple[ByteAutoEncoder, TrainState]:
        """Train to params.pretrain.steps (or stop after `stop_after` steps, for tests);
        returns the best model (by val exact match) and the final state."""
        config, fingerprint = self.params.pretrain, training_fingerprint(self.params)
        torch.manual_seed(self.params.seed)
        model = ByteAutoEncoder(self.params.autoencoder, self.params.fsq.levels,
                                self.params.chunking.max_chunk_bytes).to(self.device)
        optimizer = make_optimizer(model, config)
        stream = ChunkStream(self.train_chunks, self.params.seed)
        state = TrainState()
        source = resume_from or self.checkpoints.latest()
        if source is not None:
            checkpoint = load_checkpoint(source)
            if resume_from is not None or checkpoint.get("fingerprint") == fingerprint:
                state = restore(checkpoint, model, optimizer, stream)
                print(f"pretrain: resumed from {source} at step {state.step}")
        end = min(config.steps, stop_after or config.steps)
        self._loop(model, optimizer, stream, state, end, fingerprint)
        return self.best_model(model), state

    def _loop(self, model, optimizer, stream, state: TrainState, end: int, fingerprint: str) -> None:
        config = self.params.pretrain
        bar = tqdm(total=end, initial=state.step, desc="pretrain", disable=not self.progress, mininterval=2)
        started, started_step = time.perf_counter(), state.step
        while state.step < end:
            for group in optimizer.param_groups:
                group["lr"] = config.lr * lr_factor(state.step, config)
            x = stream.next_batch(config.batch_size).to(self.device)
            with autocast(self.device, self.params.precision):
                logits, _ = model(x)
            loss = reconstruction_loss(logits, x)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            if config.grad_clip:
                torch.nn.utils.clip_grad_norm_(model.parameters(), config.grad_clip)
            optimizer.step()
            state.step += 1
            bar.update(1)
            bar.set_postfix(loss=f"{loss.item():.3f}", refresh=False)
            if state.step % config.eval_every == 0 or state.step == config.steps:
                rate = (state.step - started_step) / (time.perf_counter() - started)
                self._evaluate(model, state, float(loss.item()), rate)
                bar.set_postfix(val_acc=f"{state.history[-1]['byte_accuracy']:.3f}")
            if state.step % config.checkpoint_every == 0 or state.step == config.steps:
                self.checkpoints.save(make_checkpoint(model, optimizer, stream, state, fingerprint), state.step)
        bar.close()

    def _evaluate(self, model, state: TrainState, train_loss: float, steps_per_s: float) -> None:
        metrics = evaluate_chunks(model, self.val_chunks, 4096, self.device)
        row = {"step": state.step, "train_loss": train_loss, **metrics, "steps_per_s": steps_per_s}
        state.history.append(row)
        if metrics["exact_match"] > state.best_exact:
            state.best_exact, state.best_step = metrics["exact_match"], state.step
            self.checkpoints.save_best({"model": model.state_dict(), "step": state.step})
        self.on_eval(row)

    def best_model(self, model: ByteAutoEncoder) -> ByteAutoEncoder:
        if self.checkpoints.best_path.exists():
            model.load_state_dict(load_checkpoint(self.checkpoints.best_path)["model"])
        return model.cpu().eval()
