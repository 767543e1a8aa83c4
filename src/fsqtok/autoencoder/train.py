"""Auto-encoder pre-training on the one training loop: the seeded data order, the loss, the
evaluation that keeps the best weights, and checkpoints that resume exactly.

Apart from the model: the loss is per-position cross-entropy over 257 classes (bytes + end),
so the model learns both the bytes and where the chunk stops.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import torch

from fsqtok.autoencoder.data import (
    ChunkStream,
    MixedStream,
    PhasedStream,
    TrainStream,
    capped_rows,
)
from fsqtok.autoencoder.infer import BATCH_CHUNKS
from fsqtok.autoencoder.metrics import evaluate_chunks, reconstruction_loss
from fsqtok.autoencoder.model import ByteAutoEncoder
from fsqtok.config import Params, PretrainConfig
from fsqtok.errors import FsqtokError
from fsqtok.runtime.distributed import World, wrap
from fsqtok.runtime.optim import adamw, optimizer_step
from fsqtok.runtime.precision import autocast
from fsqtok.runtime.trainer import TrainLoop
from fsqtok.store.checkpoint import Checkpointer, load_checkpoint
from fsqtok.store.provenance import run_key


@dataclass
class TrainState:
    """Everything a resumed run needs besides the weights, optimizer and data order."""

    step: int = 0
    best_exact: float = -1.0
    best_step: int = 0
    best_model: dict | None = None  # CPU copy of the weights at best_step (saved in every checkpoint)
    history: list[dict] = field(default_factory=list)  # one row per evaluation (the curve)


CHECKPOINT_KEYS = {"model", "optimizer", "torch_rng", "data", "step", "best_exact", "best_step", "best_model",
                   "history", "fingerprint"}


def training_fingerprint(params: Params, data_files: list[Path]) -> str:
    """Checkpoints are reused only by a run of the same params, data and training code."""
    sections = params.digest("seed", "corpus", "split", "chunking", "autoencoder", "fsq", "pretrain")
    return run_key(sections, data_files, ("autoencoder", "runtime", "text"))


def make_checkpoint(model, optimizer, stream: TrainStream, state: TrainState, fingerprint: str) -> dict:
    return {
        "model": model.state_dict(),
        "optimizer": optimizer.state_dict(),
        "torch_rng": torch.get_rng_state(),
        "data": stream.state(),
        "step": state.step,
        "best_exact": state.best_exact,
        "best_step": state.best_step,
        "best_model": state.best_model,
        "history": state.history,
        "fingerprint": fingerprint,
    }


def check_resumable(checkpoint: dict, source: Path, fingerprint: str, model) -> None:
    """An explicit --resume must be a full checkpoint of this very data, code and config."""
    missing = CHECKPOINT_KEYS - set(checkpoint)
    if missing:
        raise FsqtokError(f"{source}: not a resumable pretrain checkpoint (lacks {', '.join(sorted(missing))}); "
                          "pass a step_XXXXXXXX.pt file")
    if checkpoint["fingerprint"] != fingerprint:
        raise FsqtokError(f"{source}: made from other data, code or params (key {checkpoint['fingerprint']}, "
                          f"this run {fingerprint}); drop --resume to train this configuration")
    shapes = {k: tuple(v.shape) for k, v in model.state_dict().items()}
    if {k: tuple(v.shape) for k, v in checkpoint["model"].items()} != shapes:
        raise FsqtokError(f"{source}: its weights have other shapes than the autoencoder params describe")


def restore(checkpoint: dict, model, optimizer, stream: TrainStream) -> TrainState:
    model.load_state_dict(checkpoint["model"])
    optimizer.load_state_dict(checkpoint["optimizer"])
    torch.set_rng_state(checkpoint["torch_rng"])
    stream.load_state(checkpoint["data"])
    return TrainState(checkpoint["step"], checkpoint["best_exact"], checkpoint["best_step"],
                      checkpoint["best_model"], list(checkpoint["history"]))


def make_optimizer(model, config: PretrainConfig) -> torch.optim.Optimizer:
    """AdamW; biases, norms and the byte embedding are not decayed."""
    return adamw(model, config.lr, config.weight_decay, decay_embeddings=False)


def pretrain_loss(model: ByteAutoEncoder, batch: torch.Tensor, precision: str) -> torch.Tensor:
    """The reconstruction loss of `batch` (B, T) padded byte ids, the decoder teacher-forced."""
    with autocast(batch.device, precision):
        logits, positions = model(batch, through_end=True)  # (N, 257), (N,)
    return reconstruction_loss(logits, batch.reshape(-1)[positions], batch.numel())


def train_step(model: ByteAutoEncoder, optimizer: torch.optim.Optimizer, batch: torch.Tensor,
               precision: str, grad_clip: float) -> float:
    """One optimizer step on `batch`, outside the training loop (the benchmark times it)."""
    return optimizer_step(model, optimizer, pretrain_loss(model, batch, precision), grad_clip,
                          "pretrain: the loss became {loss}")


@dataclass
class PretrainRun:
    params: Params
    train_chunks: torch.Tensor  # (N, T) padded byte ids
    val_chunks: torch.Tensor  # (M, T)
    checkpoints: Checkpointer  # a folder of this run's fingerprint
    fingerprint: str  # training_fingerprint of params, data and code
    device: torch.device
    val_train_counts: torch.Tensor | None = None  # (M,) times each val chunk occurs in train: bucket metrics
    lexicon_chunks: torch.Tensor | None = None  # (L, T) word forms, pretrain.lexicon_rate of each batch
    vocab_chunks: torch.Tensor | None = None  # (V, T) the fsqtok_noae pieces, pretrain.vocab_rate of each batch
    on_eval: Callable[[dict], None] = lambda row: None  # e.g. log to MLflow
    progress: bool = True
    world: World = World()  # the processes torchrun started; rank 0 evaluates and writes

    def run(self, resume_from: Path | None = None, stop_after: int | None = None) -> tuple[ByteAutoEncoder, TrainState]:
        """Train to params.pretrain.steps, or stop once step `stop_after` (an absolute step) is
        done; returns the best model (by val exact match) and the final state."""
        torch.manual_seed(self.params.seed)
        model = ByteAutoEncoder(self.params.autoencoder, self.params.fsq.levels,
                                self.params.chunking.max_chunk_bytes).to(self.device)
        optimizer = make_optimizer(model, self.params.pretrain)
        stream = self._stream()
        state = TrainState()
        if resume_from is not None:
            checkpoint, source = load_checkpoint(resume_from, explicit=True), resume_from
            check_resumable(checkpoint, source, self.fingerprint, model)
        else:
            checkpoint, source = self.checkpoints.resume()
        if checkpoint is not None:
            state = restore(checkpoint, model, optimizer, stream)
            print(f"pretrain: resumed from {source} at step {state.step}")
        end = min(self.params.pretrain.steps, stop_after or self.params.pretrain.steps)
        self._loop(model, wrap(model, self.world, self.device), optimizer, stream, state, end)
        if state.best_model is not None:
            model.load_state_dict(state.best_model)
        return model.cpu().eval(), state

    def _stream(self) -> TrainStream:
        """The train batches: corpus segments by occurrence (after pretrain.repeat_cap_after of the
        steps with each chunk's repeats capped), with pretrain.lexicon_rate of each batch from the
        lexicon and pretrain.vocab_rate from the pieces the vocabulary needs."""
        config, seed = self.params.pretrain, self.params.seed
        stream = ChunkStream(self.train_chunks, seed)
        if config.repeat_cap:
            # the frequent chunks are learned by then; their repeats would fill most of each batch
            capped = ChunkStream(capped_rows(self.train_chunks, config.repeat_cap, seed), seed + 2)
            stream = PhasedStream(stream, capped, round(config.repeat_cap_after * config.steps))
        others = [(ChunkStream(rows, seed + offset), share) for rows, share, offset in (
            (self.lexicon_chunks, config.lexicon_rate, 1), (self.vocab_chunks, config.vocab_rate, 3))
            if rows is not None and share]
        return MixedStream(stream, others) if others else stream

    def _loop(self, model, trained, optimizer, stream, state: TrainState, end: int) -> None:
        """`trained` is `model` as the world trains it (DDP over several processes)."""
        config = self.params.pretrain
        freeze_step = round(config.norm_freeze * config.steps)

        def loss(step: int) -> tuple[torch.Tensor, dict]:
            # After freeze_step the norm before FSQ uses its running statistics: a chunk's code then
            # no longer jitters with the batch it is in, so the decoder sees one code per chunk.
            model.fsq_norm.train(step < freeze_step)
            x = self.world.shard(stream.next_batch(config.batch_size)).to(self.device)  # (B / W, T)
            return pretrain_loss(trained, x, self.params.precision), {}

        def save(step: int) -> None:
            state.step = step
            self.checkpoints.save(make_checkpoint(model, optimizer, stream, state, self.fingerprint), step)

        loop = TrainLoop("pretrain", config, trained, optimizer, loss,
                         "pretrain: the loss became {loss} at step {step}; lower pretrain.lr (the checkpoints "
                         "written so far are kept)", evaluate=lambda row: self._evaluate(model, state, row),
                         on_eval=self.on_eval, checkpoint_every=config.checkpoint_every, save=save,
                         world=self.world, progress=self.progress)
        state.step = loop.run(state.step, end, state.history)

    def _evaluate(self, model, state: TrainState, row: dict) -> dict:
        """Val metrics of the step in `row`; keeps the best weights (by exact match) in `state`."""
        metrics = evaluate_chunks(model, self.val_chunks, BATCH_CHUNKS, self.device, self.val_train_counts)
        if metrics["exact_match"] > state.best_exact:
            state.best_exact, state.best_step = metrics["exact_match"], row["step"]
            state.best_model = {k: v.detach().cpu().clone() for k, v in model.state_dict().items()}
        return metrics