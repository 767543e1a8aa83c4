"""The one place that knows about processes: PyTorch's own engine, torchrun + DDP.

A stage started with `distributed.nproc_per_node` > 1 re-launches itself through
`torch.distributed.run --standalone`; each process then reads RANK / WORLD_SIZE / LOCAL_RANK,
joins the group (nccl on CUDA, gloo on CPU) and trains its slice of every global batch. Every
process draws the same seeded global batch and keeps rows [rank * B / W, (rank + 1) * B / W),
so the ranks together see exactly the single-process batch; DDP averages the gradients. Only
rank 0 evaluates and writes (checkpoints, bundles, metrics, MLflow). Without torchrun every
call here is the single-process path.
"""

from __future__ import annotations

import os
import sys
import warnings
from dataclasses import dataclass

import torch
from torch import nn

from fsqtok.errors import FsqtokError


@dataclass(frozen=True)
class World:
    rank: int = 0
    size: int = 1

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    def shard(self, batch: torch.Tensor) -> torch.Tensor:
        """This rank's rows of a global batch (B, ...); B must divide by the world size."""
        if len(batch) % self.size:
            raise FsqtokError(f"distributed: a batch of {len(batch)} does not split over {self.size} processes; "
                              "make the batch size a multiple of distributed.nproc_per_node")
        per = len(batch) // self.size
        return batch[self.rank * per : (self.rank + 1) * per]

    def sum(self, value: float) -> float:
        """The sum of `value` over all ranks (the value itself in one process)."""
        if self.size == 1:
            return value
        total = torch.tensor([value], dtype=torch.float64)
        torch.distributed.all_reduce(total)
        return float(total)

    def mean(self, value: float) -> float:
        return self.sum(value) / self.size

    def barrier(self) -> None:
        if self.size > 1:
            torch.distributed.barrier()


def is_main_process() -> bool:
    """Rank 0, or a process torchrun did not start: the one that writes files and logs."""
    return int(os.environ.get("RANK", "0")) == 0


def relaunch(nproc_per_node: int) -> None:
    """Re-run this script under torchrun with `nproc_per_node` processes, unless it already runs
    under torchrun (or one process is asked for). Replaces the current process."""
    if nproc_per_node > 1 and "RANK" not in os.environ:
        sys.stdout.flush()
        os.execv(sys.executable, [sys.executable, "-m", "torch.distributed.run", "--standalone",
                                  f"--nproc_per_node={nproc_per_node}", sys.argv[0], *sys.argv[1:]])


def init_world(device: torch.device) -> tuple[World, torch.device]:
    """Join the process group torchrun set up (nccl on CUDA, gloo on CPU); on CUDA each process
    takes the GPU of its LOCAL_RANK. One process: World() and `device` unchanged."""
    size = int(os.environ.get("WORLD_SIZE", "1"))
    if size == 1:
        return World(), device
    if not torch.distributed.is_initialized():
        torch.distributed.init_process_group("nccl" if device.type == "cuda" else "gloo")
    if device.type == "cuda":
        device = torch.device("cuda", int(os.environ.get("LOCAL_RANK", "0")))
        torch.cuda.set_device(device)
    else:  # the cores are shared between the processes
        torch.set_num_threads(max(1, len(os.sched_getaffinity(0)) // int(os.environ.get("LOCAL_WORLD_SIZE", size))))
    return World(torch.distributed.get_rank(), size), device


def shutdown(world: World) -> None:
    if world.size > 1 and torch.distributed.is_initialized():
        torch.distributed.barrier()
        torch.distributed.destroy_process_group()


def wrap(model: nn.Module, world: World, device: torch.device) -> nn.Module:
    """The model to train: itself in one process; else its batch norms synchronised across ranks
    and the whole in DistributedDataParallel (which averages the gradients)."""
    if world.size == 1:
        return model
    if device.type == "cuda":
        model = nn.SyncBatchNorm.convert_sync_batchnorm(model)
    else:
        model = convert_cpu_batchnorm(model)
    return nn.parallel.DistributedDataParallel(model, device_ids=[device.index] if device.type == "cuda" else None)


def unwrap(model: nn.Module) -> nn.Module:
    return model.module if isinstance(model, nn.parallel.DistributedDataParallel) else model


class AllReduceBatchNorm1d(nn.BatchNorm1d):
    """BatchNorm1d over the global batch on CPU, where nn.SyncBatchNorm refuses CPU tensors: the
    per-channel sums are added across ranks with torch's differentiable all_reduce, so the
    normalisation, its gradient and the running statistics equal one process's on the whole batch."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # x (B, C)
        if not self.training:
            return super().forward(x)
        from torch.distributed.nn.functional import all_reduce  # differentiable; its successor is private

        x = x.float()  # batch norm runs in fp32 under autocast too
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", FutureWarning)
            stats = all_reduce(torch.cat([x.sum(0), (x * x).sum(0), x.new_tensor([float(len(x))])]))
        channels, count = x.shape[1], stats[-1]
        mean = stats[:channels] / count
        var = stats[channels : 2 * channels] / count - mean * mean  # biased, as the forward uses
        with torch.no_grad():
            self.num_batches_tracked += 1
            factor = self.momentum if self.momentum is not None else 1.0 / float(self.num_batches_tracked)
            self.running_mean.lerp_(mean.detach(), factor)
            self.running_var.lerp_((var * count / (count - 1)).detach(), factor)
        out = (x - mean) / torch.sqrt(var + self.eps)
        return out * self.weight + self.bias if self.affine else out


def convert_cpu_batchnorm(module: nn.Module) -> nn.Module:
    """Every BatchNorm1d of `module` replaced by an AllReduceBatchNorm1d with the same state."""
    for name, child in module.named_children():
        if type(child) is nn.BatchNorm1d:
            synced = AllReduceBatchNorm1d(child.num_features, child.eps, child.momentum, child.affine,
                                          child.track_running_stats)
            synced.load_state_dict(child.state_dict())
            setattr(module, name, synced)
        else:
            convert_cpu_batchnorm(child)
    return module

