"""Flow-matching training of the latent generator: x0 ~ N(0, sigma^2), t ~ U[0, 1],
x_t = (1 - t) x0 + t x1; the model predicts x1 from (x_t, t). Loss: MSE on the latents plus
ce_weight x the cross-entropy of the frozen decoder's bytes spelled from the prediction.
Trained on the one training loop, with checkpoints that resume exactly."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import torch

from fsqtok.autoencoder.metrics import reconstruction_loss
from fsqtok.autoencoder.model import ByteAutoEncoder
from fsqtok.config import FlowConfig
from fsqtok.flow.data import LatentWindows
from fsqtok.flow.model import FlowModelConfig, FlowTransformer
from fsqtok.runtime.device import evaluating
from fsqtok.runtime.distributed import World, wrap
from fsqtok.runtime.optim import adamw
from fsqtok.runtime.precision import autocast
from fsqtok.runtime.trainer import TrainLoop
from fsqtok.store.checkpoint import Checkpointer

VAL_WINDOWS = 256  # val windows the val loss is measured on (a fixed, seeded draw)


def model_config(config: FlowConfig, latent_dim: int) -> FlowModelConfig:
    return FlowModelConfig(latent_dim, config.d_model, config.n_layer, config.n_head, config.seq_chunks)


def flow_loss(flow: FlowTransformer, autoencoder: ByteAutoEncoder, batch: LatentWindows, config: FlowConfig,
              generator: torch.Generator, world: World = World()) -> tuple[torch.Tensor, dict]:
    """The training loss of one global batch, and its parts; all randomness from `generator`,
    drawn for the whole batch on every rank. A rank runs the model on its rows only and divides
    by the global counts, times the world size, so the ranks' average is the whole batch's loss."""
    x1, mask = batch.codes, batch.mask  # (B, S, D), (B, S)
    t = torch.rand(len(x1), generator=generator)  # (B,)
    x0 = torch.randn(x1.shape, generator=generator) * config.noise_std
    real = mask.nonzero()  # (M, 2) positions holding a chunk
    picked = real[torch.randperm(len(real), generator=generator)[: config.ce_positions]]  # (P, 2)
    rows = world.shard(torch.arange(len(x1)))
    first, last = int(rows[0]), int(rows[-1]) + 1
    x_t = (1 - t)[:, None, None] * x0 + t[:, None, None] * x1
    x1_hat = flow(x_t[first:last], t[first:last], mask[first:last])  # (B / W, S, D)
    squared = ((x1_hat - x1[first:last]) ** 2).mean(dim=-1)[mask[first:last]]
    mse = squared.sum() * world.size / mask.sum()
    mine = picked[(picked[:, 0] >= first) & (picked[:, 0] < last)]
    targets = batch.bytes[mine[:, 0], mine[:, 1]]  # (P_rank, T)
    codes = x1_hat[mine[:, 0] - first, mine[:, 1]]  # (P_rank, D)
    logits, positions = autoencoder.decode_through_end(codes, targets)  # (N, 257), (N,)
    # over every position of the global picks: this rank's share, as the ranks' gradients are averaged
    ce = reconstruction_loss(logits, targets.reshape(-1)[positions], len(picked) * targets.shape[-1]) * world.size
    return mse + config.ce_weight * ce, {"mse": world.mean(mse.item()), "ce": world.mean(ce.item())}


@dataclass
class FlowState:
    step: int = 0
    history: list[dict] = field(default_factory=list)  # one row per evaluation (the curve)


@dataclass
class FlowRun:
    config: FlowConfig
    seed: int
    autoencoder: ByteAutoEncoder  # frozen
    train: LatentWindows
    val: LatentWindows
    checkpoints: Checkpointer
    key: str  # the run key the checkpoints are filed under
    on_eval: Callable[[dict], None] = lambda row: None
    progress: bool = True
    world: World = World()  # the processes torchrun started; rank 0 evaluates and writes
    precision: str = "fp32"  # the training steps' (bf16 autocast where precision.uses_bf16); val loss in fp32

    def run(self, stop_after: int | None = None) -> tuple[FlowTransformer, FlowState]:
        """Train to config.steps (or stop once step `stop_after` is done), resuming from the latest
        checkpoint of this run key."""
        self.autoencoder.eval().requires_grad_(False)
        torch.manual_seed(self.seed)
        flow = FlowTransformer(model_config(self.config, self.autoencoder.fsq.dim))
        optimizer = adamw(flow, self.config.lr, self.config.weight_decay, decay_embeddings=False)
        generator = torch.Generator().manual_seed(self.seed)
        state = FlowState()
        checkpoint, source = self.checkpoints.resume()
        if checkpoint is not None:
            flow.load_state_dict(checkpoint["model"])
            optimizer.load_state_dict(checkpoint["optimizer"])
            generator.set_state(checkpoint["generator"])
            state = FlowState(checkpoint["step"], list(checkpoint["history"]))
            print(f"flow: resumed from {source} at step {state.step}")
        end = min(self.config.steps, stop_after or self.config.steps)
        self._loop(flow, wrap(flow, self.world, torch.device("cpu")), optimizer, generator, state, end)
        return flow.eval(), state

    def _loop(self, flow, trained, optimizer, generator: torch.Generator, state: FlowState, end: int) -> None:
        """`trained` is `flow` as the world trains it (DDP over several processes)."""
        config = self.config

        def loss(step: int) -> tuple[torch.Tensor, dict]:
            batch = self.train.select(torch.randint(0, len(self.train), (config.batch_size,), generator=generator))
            with autocast(torch.device("cpu"), self.precision):
                return flow_loss(trained, self.autoencoder, batch, config, generator, self.world)

        def save(step: int) -> None:
            self.checkpoints.save({"model": flow.state_dict(), "optimizer": optimizer.state_dict(),
                                   "generator": generator.get_state(), "step": step,
                                   "history": state.history, "key": self.key}, step)

        loop = TrainLoop("flow", config, trained, optimizer, loss,
                         "flow: the loss became {loss} at step {step}; lower flow.lr",
                         evaluate=lambda row: self.val_loss(flow), on_eval=self.on_eval,
                         checkpoint_every=config.checkpoint_every, save=save, world=self.world,
                         progress=self.progress)
        state.step = loop.run(state.step, end, state.history)

    def val_loss(self, flow: FlowTransformer) -> dict:
        """The loss on a fixed draw of val windows, noise and times (the same at every evaluation)."""
        generator = torch.Generator().manual_seed(self.seed + 1)
        pick = torch.randperm(len(self.val), generator=generator)[:VAL_WINDOWS]
        with evaluating(flow):
            loss, parts = flow_loss(flow, self.autoencoder, self.val.select(pick), self.config, generator)
        return {"val_loss": float(loss), **{f"val_{k}": v for k, v in parts.items()}}
