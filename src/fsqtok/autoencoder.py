"""The byte auto-encoder: chunk bytes -> conv encoder -> FSQ code -> deconv decoder -> byte logits.

Model code only: forward passes, no loss, no optimizer, no tokenizer. Inputs are padded byte
ids (B, T) with PAD = 256; the decoder predicts 257 classes per position, class 256 meaning
"end of chunk", so the chunk length is recovered from the output.
"""

from __future__ import annotations

import math

import torch
from torch import nn
from torch.nn import functional as F

from fsqtok.config import AutoencoderConfig
from fsqtok.fsq import FSQ

PAD = 256  # input id of a position past the chunk's end; also the "end" output class
N_CLASSES = 257  # 256 bytes + end


class ByteAutoEncoder(nn.Module):
    def __init__(self, config: AutoencoderConfig, levels: list[int], max_chunk_bytes: int):
        super().__init__()
        self.config, self.max_chunk_bytes = config, max_chunk_bytes
        self.latent_len = max_chunk_bytes // math.prod(config.strides)  # positions after the convs
        k = config.kernel_size
        self.embed = nn.Embedding(N_CLASSES, config.d_byte)
        widths = [config.d_byte] + config.conv_channels
        self.convs = nn.ModuleList(
            nn.Conv1d(c_in, c_out, k, stride=s, padding=k // 2)
            for c_in, c_out, s in zip(widths[:-1], widths[1:], config.strides, strict=True)
        )
        top = config.conv_channels[-1]
        pooled = top * self.latent_len if config.pooling == "flatten" else top
        self.to_latent = nn.Linear(pooled, config.d_latent)
        self.fsq = FSQ(levels)
        self.to_fsq = nn.Linear(config.d_latent, self.fsq.dim)
        # Unit variance per FSQ dim across the batch: without it, pad-dominated chunks start on a
        # handful of codes and the encoder never learns to spread them (codebook collapse).
        self.fsq_norm = nn.BatchNorm1d(self.fsq.dim, affine=False)
        self.decoder = MLPDecoder(self.fsq.dim, config, max_chunk_bytes) if config.decoder == "mlp" \
            else DeconvDecoder(self.fsq.dim, config, max_chunk_bytes)

    def encode_latent(self, byte_ids: torch.Tensor) -> torch.Tensor:
        """byte_ids (B, T) -> pre-quantization latent (B, D)."""
        h = self.embed(byte_ids).transpose(1, 2)  # (B, d_byte, T)
        for conv in self.convs:
            h = F.gelu(conv(h))  # (B, C, T / prod(strides so far))
        h = h.flatten(1) if self.config.pooling == "flatten" else h.mean(dim=2)  # (B, pooled)
        return self.fsq_norm(self.to_fsq(F.gelu(self.to_latent(h))))  # (B, D)

    def encode(self, byte_ids: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """byte_ids (B, T) -> codes (B, D) in [-1, 1], indices (B,) int64."""
        return self.fsq(self.encode_latent(byte_ids))

    def decode(self, codes: torch.Tensor) -> torch.Tensor:
        """codes (B, D) -> logits (B, T, 257)."""
        return self.decoder(codes.float())

    def forward(self, byte_ids: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """byte_ids (B, T) -> logits (B, T, 257), indices (B,)."""
        codes, indices = self.encode(byte_ids)
        return self.decode(codes), indices


class MLPDecoder(nn.Module):
    """code (B, D) -> two hidden layers -> logits for every position at once (B, T, 257)."""

    def __init__(self, code_dim: int, config: AutoencoderConfig, max_chunk_bytes: int):
        super().__init__()
        width = config.decoder_hidden
        self.net = nn.Sequential(
            nn.Linear(code_dim, width), nn.GELU(),
            nn.Linear(width, width), nn.GELU(),
            nn.Linear(width, max_chunk_bytes * N_CLASSES),
        )

    def forward(self, codes: torch.Tensor) -> torch.Tensor:
        return self.net(codes).view(codes.shape[0], -1, N_CLASSES)


class DeconvDecoder(nn.Module):
    """The seed's decoder: code -> linear -> (C, T / prod(strides)) -> transposed convs -> logits."""

    def __init__(self, code_dim: int, config: AutoencoderConfig, max_chunk_bytes: int):
        super().__init__()
        k, top = config.kernel_size, config.conv_channels[-1]
        self.latent_len = max_chunk_bytes // math.prod(config.strides)
        self.from_code = nn.Linear(code_dim, config.d_latent)
        self.from_latent = nn.Linear(config.d_latent, top * self.latent_len)
        widths = [top] + config.deconv_channels
        self.deconvs = nn.ModuleList(
            nn.ConvTranspose1d(c_in, c_out, k, stride=2, padding=k // 2, output_padding=1)
            if s == 2 else nn.Conv1d(c_in, c_out, k, padding=k // 2)
            for c_in, c_out, s in zip(widths[:-1], widths[1:], reversed(config.strides), strict=True)
        )
        self.head = nn.Conv1d(config.deconv_channels[-1], N_CLASSES, 1)

    def forward(self, codes: torch.Tensor) -> torch.Tensor:
        h = F.gelu(self.from_code(codes))  # (B, d_latent)
        h = F.gelu(self.from_latent(h)).view(codes.shape[0], -1, self.latent_len)  # (B, C, T_latent)
        for deconv in self.deconvs:
            h = F.gelu(deconv(h))  # (B, C', 2 T) or (B, C', T)
        return self.head(h).transpose(1, 2)  # (B, T, 257)


def pack_chunks(chunks: list[bytes], max_chunk_bytes: int) -> torch.Tensor:
    """Chunks -> (N, max_chunk_bytes) int64 ids, PAD after each chunk's end.
    Example: ([b"hi"], 4) -> [[104, 105, 256, 256]]"""
    out = torch.full((len(chunks), max_chunk_bytes), PAD, dtype=torch.int64)
    if chunks:
        flat = torch.frombuffer(bytearray(b"".join(chunks)), dtype=torch.uint8).long()
        lengths = torch.tensor([len(c) for c in chunks])
        rows = torch.repeat_interleave(torch.arange(len(chunks)), lengths)
        cols = torch.arange(len(flat)) - torch.repeat_interleave(torch.cumsum(lengths, 0) - lengths, lengths)
        out[rows, cols] = flat
    return out


def unpack_chunks(ids: torch.Tensor) -> list[bytes]:
    """(N, T) predicted ids -> chunks, each cut at its first end symbol.
    Example: [[104, 105, 256, 104]] -> [b"hi"]"""
    out = []
    for row in ids.tolist():
        end = row.index(PAD) if PAD in row else len(row)
        out.append(bytes(row[:end]))
    return out


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
    from fsqtok.chunking import chunk_bytes

    return b"".join(reconstruct_chunks(model, chunk_bytes(data, model.max_chunk_bytes)))
