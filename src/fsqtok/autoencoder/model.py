"""The byte auto-encoder: chunk bytes -> conv encoder -> FSQ code -> decoder -> byte logits.

The decoder is an MLP by default (`decoder: mlp`) or the seed's transposed-conv stack
(`decoder: deconv`). Model code only: forward passes, no loss, no optimizer, no data packing,
no tokenizer. Inputs are padded byte ids (B, T) with PAD = 256; the decoder predicts 257
classes per position, class 256 meaning "end of chunk", so the chunk length is recovered.
"""

from __future__ import annotations

import math

import torch
from torch import nn
from torch.nn import functional as F

from fsqtok.autoencoder.fsq import FSQ
from fsqtok.config import AutoencoderConfig

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

    def code_features(self, indices: torch.Tensor) -> torch.Tensor:
        """Code indices (N,) -> the decoder's first hidden layer (N, F): what it spells bytes from."""
        return self.decoder.features(self.fsq.indices_to_codes(indices))


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

    def features(self, codes: torch.Tensor) -> torch.Tensor:
        """codes (B, D) -> first hidden layer (B, width)."""
        return self.net[1](self.net[0](codes))

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

    def features(self, codes: torch.Tensor) -> torch.Tensor:
        """codes (B, D) -> first hidden layer (B, d_latent)."""
        return F.gelu(self.from_code(codes))

    def forward(self, codes: torch.Tensor) -> torch.Tensor:
        h = self.features(codes)  # (B, d_latent)
        h = F.gelu(self.from_latent(h)).view(codes.shape[0], -1, self.latent_len)  # (B, C, T_latent)
        for deconv in self.deconvs:
            h = F.gelu(deconv(h))  # (B, C', 2 T) or (B, C', T)
        return self.head(h).transpose(1, 2)  # (B, T, 257)
