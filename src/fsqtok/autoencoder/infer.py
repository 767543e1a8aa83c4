"""Batched inference with a trained auto-encoder: chunks -> codes, codes -> chunks, text -> text."""

from __future__ import annotations

import torch

from fsqtok.autoencoder.data import pack_chunks, unpack_chunks
from fsqtok.autoencoder.model import ByteAutoEncoder
from fsqtok.text.chunking import chunk_bytes


@torch.no_grad()
def encode_chunks(model: ByteAutoEncoder, chunks: list[bytes], batch_size: int = 4096) -> torch.Tensor:
    """Chunks -> (N,) FSQ code indices, in batches, on the model's device."""
    device = next(model.parameters()).device
    ids = pack_chunks(chunks, model.max_chunk_bytes)
    out = [model.encode(ids[i : i + batch_size].to(device))[1].cpu() for i in range(0, len(ids), batch_size)]
    return torch.cat(out) if out else torch.empty(0, dtype=torch.int64)


@torch.no_grad()
def decode_indices(model: ByteAutoEncoder, indices: torch.Tensor, batch_size: int = 4096) -> list[bytes]:
    """(N,) code indices -> the decoder's chunk for each code."""
    device = next(model.parameters()).device
    out: list[bytes] = []
    for i in range(0, len(indices), batch_size):
        codes = model.fsq.indices_to_codes(indices[i : i + batch_size].to(device))
        out.extend(unpack_chunks(model.decode(codes).argmax(-1).cpu()))
    return out


def reconstruct_chunks(model: ByteAutoEncoder, chunks: list[bytes]) -> list[bytes]:
    """The lossy neural round trip of each chunk: encode -> code -> decode."""
    return decode_indices(model, encode_chunks(model, chunks))


def reconstruct_text(model: ByteAutoEncoder, data: bytes) -> bytes:
    """Bytes -> chunks -> codes -> decoder -> bytes: the lossy neural path."""
    return b"".join(reconstruct_chunks(model, chunk_bytes(data, model.max_chunk_bytes)))
