"""The one training loop of the auto-encoder, the LMs and the flow model: warmup-and-decay learning
rate, one optimizer step per batch (gradient clipping, a NaN or infinite loss stops the run
before the step), a progress bar, and on rank 0 the evaluation and checkpoint cadence that
builds the curve. What a step computes, what an evaluation measures and what a checkpoint
holds are the caller's."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

import torch
from tqdm import tqdm

from fsqtok.config import OptimConfig
from fsqtok.runtime.distributed import World
from fsqtok.runtime.optim import MicroBatches, lr_factor, optimizer_step, set_lr


@dataclass
class TrainLoop:
    name: str  # the progress bar's label
    config: OptimConfig  # steps, lr, schedule, grad_clip, eval_every
    model: torch.nn.Module  # as the world trains it (DDP over several processes)
    optimizer: torch.optim.Optimizer
    # step (counted from 0) -> (this rank's loss of the global batch, or its micro-batches' (see
    # optim.optimizer_step), named parts to put on the curve)
    loss: Callable[[int], tuple[torch.Tensor | MicroBatches, dict]]
    # "{loss}" and "{step}" filled in: what happened and what to do, e.g. "...; lower pretrain.lr"
    diverged: str
    # rank 0, every config.eval_every steps and at the last: row so far (step, train loss and
    # parts, steps_per_s) -> the numbers to add to it
    evaluate: Callable[[dict], dict] = lambda row: {}
    on_eval: Callable[[dict], None] = lambda row: None  # rank 0: the finished row (e.g. to MLflow)
    checkpoint_every: int = 0  # 0: never
    save: Callable[[int], None] = lambda step: None  # rank 0: write a checkpoint after `step` steps
    world: World = field(default_factory=World)
    progress: bool = True

    def run(self, start: int, end: int, history: list[dict]) -> int:
        """Steps `start` .. `end` - 1, appending one row per evaluation to `history`; returns the
        step reached."""
        config, main = self.config, self.world.is_main
        bar = tqdm(total=end, initial=start, desc=self.name, disable=not (self.progress and main), mininterval=2)
        started = time.perf_counter()
        for step in range(start, end):
            set_lr(self.optimizer, config.lr * lr_factor(step, config.steps, config.warmup_steps,
                                                         config.min_lr_ratio, config.schedule))
            loss, parts = self.loss(step)
            value = optimizer_step(self.model, self.optimizer, loss, config.grad_clip,
                                   self.diverged.replace("{step}", str(step + 1)), self.world)
            done = step + 1
            bar.update(1)
            bar.set_postfix(loss=f"{value:.3f}", refresh=False)
            if main and (done % config.eval_every == 0 or done == config.steps):
                row = {"step": done, "train_loss": value, **{f"train_{k}": v for k, v in parts.items()},
                       "steps_per_s": (done - start) / (time.perf_counter() - started)}
                row.update(self.evaluate(row))
                history.append(row)
                self.on_eval(row)
            if main and self.checkpoint_every and (done % self.checkpoint_every == 0 or done == config.steps):
                self.save(done)
        bar.close()
        return max(start, end)
