"""Sampling the flow: Euler integration from noise to latents, snapping each latent to a code the
decoder can spell (the FSQ grid or the nearest verified vocabulary code), decoding to text."""

from __future__ import annotations

from collections.abc import Callable

import torch

from fsqtok.autoencoder.fsq import FSQ
from fsqtok.autoencoder.infer import decode_indices
from fsqtok.autoencoder.model import ByteAutoEncoder
from fsqtok.errors import FsqtokError
from fsqtok.flow.model import FlowTransformer
from fsqtok.runtime.device import evaluating


def euler_sample(predict_x1: Callable[[torch.Tensor, torch.Tensor], torch.Tensor], shape: tuple[int, ...],
                 steps: int, noise_std: float, generator: torch.Generator) -> torch.Tensor:
    """Integrate dx/dt = (x1_hat - x) / (1 - t) from x0 ~ N(0, noise_std^2) at t = 0 in `steps`
    Euler steps of 1/steps. The last step (t = 1 - 1/steps) lands exactly on the prediction,
    so a predictor that always says x1 returns x1 for any step count."""
    x = torch.randn(shape, generator=generator) * noise_std
    for i in range(steps):
        x1_hat = predict_x1(x, torch.full((shape[0],), i / steps))
        if i == steps - 1:
            return x1_hat
        x = x + (x1_hat - x) / (steps - i)  # dt / (1 - t) = 1 / (steps - i)
    return x


def snap_to_grid(latents: torch.Tensor, fsq: FSQ) -> torch.Tensor:
    """Latents (..., D) -> the index of the nearest FSQ grid point (...)."""
    level = (latents.float() * fsq.half_width + fsq.half_width).round()
    level = torch.minimum(level.clamp_min(0), (fsq.levels - 1).float()).long()  # (..., D)
    return (level * fsq.basis).sum(dim=-1)


def snap_to_vocab(latents: torch.Tensor, fsq: FSQ, vocab_indices: torch.Tensor) -> torch.Tensor:
    """Latents (..., D) -> the nearest of the verified vocabulary's codes (...), as an FSQ index."""
    table = fsq.indices_to_codes(vocab_indices)  # (P, D)
    flat = latents.reshape(-1, latents.shape[-1]).float()
    nearest = torch.cdist(flat, table).argmin(dim=1)  # (N,)
    return vocab_indices[nearest].reshape(latents.shape[:-1])


def snap(latents: torch.Tensor, fsq: FSQ, mode: str, vocab_indices: torch.Tensor | None) -> torch.Tensor:
    if mode == "vocab":
        if vocab_indices is None or len(vocab_indices) == 0:
            raise FsqtokError("snap vocab: the tokenizer has no verified vocabulary codes; snap to the grid")
        return snap_to_vocab(latents, fsq, vocab_indices)
    return snap_to_grid(latents, fsq)


def spell(autoencoder: ByteAutoEncoder, indices: torch.Tensor) -> list[bytes]:
    """(B, S) code indices -> B byte strings: each code decoded to its chunk, chunks joined."""
    chunks = decode_indices(autoencoder, indices.reshape(-1))
    S = indices.shape[1]
    return [b"".join(chunks[i * S : (i + 1) * S]) for i in range(indices.shape[0])]


def generate(flow: FlowTransformer, autoencoder: ByteAutoEncoder, n_samples: int, n_chunks: int, steps: int,
             noise_std: float, seed: int, mode: str = "grid", vocab_indices: torch.Tensor | None = None) -> list[bytes]:
    """`n_samples` texts of `n_chunks` chunks each, from noise; seeded and reproducible."""
    if n_chunks > flow.config.max_positions:
        raise ValueError(f"at most {flow.config.max_positions} chunks per sample (flow.seq_chunks)")
    generator = torch.Generator().manual_seed(seed)
    with evaluating(flow):
        latents = euler_sample(flow, (n_samples, n_chunks, flow.config.latent_dim), steps, noise_std, generator)
    return spell(autoencoder, snap(latents, autoencoder.fsq, mode, vocab_indices))
