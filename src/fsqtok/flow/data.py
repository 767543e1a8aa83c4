"""Latent sequences for the flow: each document -> chunks -> the frozen encoder's FSQ code vector
per chunk, cut into windows of seq_chunks (the last one padded and masked), with the chunk bytes
beside them for the decoder's cross-entropy."""

from __future__ import annotations

from dataclasses import dataclass

import torch

from fsqtok.autoencoder.data import pack_chunks
from fsqtok.autoencoder.infer import encode_chunks
from fsqtok.autoencoder.model import PAD, ByteAutoEncoder
from fsqtok.text.chunking import chunk_bytes


@dataclass
class LatentWindows:
    codes: torch.Tensor  # (N, S, D) FSQ code vectors in [-1, 1], zeros where masked
    bytes: torch.Tensor  # (N, S, T) the chunk of each position as padded byte ids (PAD where masked)
    mask: torch.Tensor  # (N, S) True where a position holds a real chunk

    def __len__(self) -> int:
        return len(self.codes)

    def select(self, index: torch.Tensor) -> LatentWindows:
        return LatentWindows(self.codes[index], self.bytes[index], self.mask[index])


def document_chunks(texts: list[str], max_chunk_bytes: int) -> list[list[bytes]]:
    """The chunks of each document, in order (empty documents dropped)."""
    chunked = [chunk_bytes(text.encode("utf-8", "surrogatepass"), max_chunk_bytes) for text in texts]
    return [chunks for chunks in chunked if chunks]


def latent_windows(model: ByteAutoEncoder, texts: list[str], seq_chunks: int) -> LatentWindows:
    """Every document cut into windows of `seq_chunks` chunk latents; windows never cross documents.
    Example: documents of 3 and 1 chunks, seq_chunks 2 -> 3 windows, masks [1,1], [1,0], [1,0]"""
    documents = document_chunks(texts, model.max_chunk_bytes)
    windows = [doc[i : i + seq_chunks] for doc in documents for i in range(0, len(doc), seq_chunks)]
    flat = [chunk for window in windows for chunk in window]
    codes = model.fsq.indices_to_codes(encode_chunks(model, flat))  # (M, D)
    n, dim, length = len(windows), model.fsq.dim, model.max_chunk_bytes
    out = LatentWindows(torch.zeros(n, seq_chunks, dim), torch.full((n, seq_chunks, length), PAD),
                        torch.zeros(n, seq_chunks, dtype=torch.bool))
    lengths = torch.tensor([len(w) for w in windows])
    rows = torch.repeat_interleave(torch.arange(n), lengths)
    cols = torch.arange(len(flat)) - torch.repeat_interleave(torch.cumsum(lengths, 0) - lengths, lengths)
    out.codes[rows, cols] = codes
    out.bytes[rows, cols] = pack_chunks(flat, length)
    out.mask[rows, cols] = True
    return out
