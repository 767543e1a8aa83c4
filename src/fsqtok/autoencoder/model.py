"""The byte auto-encoder: chunk bytes -> conv encoder -> FSQ code -> decoder -> byte logits.

The decoder is autoregressive by default (`decoder: ar`: an MLP gives every position its share
of the code, causal convs add the bytes already spelled), or an MLP that spells all positions at
once (`decoder: mlp`), or the seed's transposed-conv stack (`decoder: deconv`). Model code only:
forward passes, no loss, no optimizer, no data packing, no tokenizer. Inputs are padded byte ids
(B, T) with PAD = 256; the decoder predicts 257 classes per position, class 256 meaning "end of
chunk", so the chunk length is recovered.
"""

from __future__ import annotations

import math

import torch
from torch import nn
from torch.nn import functional as F

from fsqtok.autoencoder.fsq import FSQ
from fsqtok.config import AutoencoderConfig
from fsqtok.runtime.dense import Dense, linear

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
        self.to_latent = Dense(pooled, config.d_latent)
        self.fsq = FSQ(levels)
        self.to_fsq = Dense(config.d_latent, self.fsq.dim)
        # Unit variance per FSQ dim across the batch: without it, pad-dominated chunks start on a
        # handful of codes and the encoder never learns to spread them (codebook collapse).
        self.fsq_norm = nn.BatchNorm1d(self.fsq.dim, affine=False)
        decoders = {"ar": AutoregressiveDecoder, "mlp": MLPDecoder, "deconv": DeconvDecoder}
        self.decoder = decoders[config.decoder](self.fsq.dim, config, max_chunk_bytes)

    @property
    def spells_autoregressively(self) -> bool:
        """Whether teacher forcing changes the logits (only the `ar` decoder reads the true bytes)."""
        return self.config.decoder == "ar"

    def encode_latent(self, byte_ids: torch.Tensor) -> torch.Tensor:
        """byte_ids (B, T) -> pre-quantization latent (B, D)."""
        first, *others = self.convs  # (a ModuleList's slice builds a new ModuleList: 10 us a chunk)
        h = F.gelu(conv_of_embedding(byte_ids, self.embed.weight, first))  # (B, T / strides[0], C)
        for conv in others:
            pad = conv.padding[0]
            h = F.gelu(conv_channels_last(h, conv, pad, pad))  # (B, T / prod(strides so far), C)
        # flattened (C, T')-major: the order to_latent's weights have in every bundle
        h = h.transpose(1, 2).flatten(1) if self.config.pooling == "flatten" else h.mean(dim=1)  # (B, pooled)
        # norm_scale > 1 puts more of the unit-variance latent on the outer FSQ levels (fewer codes share a cell)
        return self.fsq_norm(self.to_fsq(F.gelu(self.to_latent(h)))) * self.config.norm_scale  # (B, D)

    def encode(self, byte_ids: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """byte_ids (B, T) -> codes (B, D) in [-1, 1], indices (B,) int64."""
        return self.fsq(self.encode_latent(byte_ids))

    def decode(self, codes: torch.Tensor, targets: torch.Tensor | None = None) -> torch.Tensor:
        """codes (B, D) -> logits (B, T, 257). An autoregressive decoder spells greedily, or, given
        the true bytes `targets` (B, T), predicts each from the true bytes before it (teacher forcing)."""
        return self.decoder(codes.float(), targets)

    def decode_through_end(self, codes: torch.Tensor, targets: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """codes (B, D), true bytes (B, T) -> teacher-forced logits (N, 257) of the positions a
        reader needs and where they are, (N,) flat indices into (B, T): the autoregressive decoder
        spells each row only through the span that holds its end symbol (what follows is "end"
        by construction); the other decoders give every position."""
        if self.spells_autoregressively:
            return self.decoder.spell_through_end(codes.float(), targets)
        return self.decode(codes, targets).reshape(-1, N_CLASSES), torch.arange(targets.numel(), device=targets.device)

    def forward(self, byte_ids: torch.Tensor, teacher_forcing: bool = False,
                through_end: bool = False) -> tuple[torch.Tensor, torch.Tensor]:
        """byte_ids (B, T) -> logits (B, T, 257), indices (B,). Training passes through_end=True
        (teacher forcing implied) and gets `decode_through_end`'s logits (N, 257) and positions (N,)."""
        codes, indices = self.encode(byte_ids)
        if through_end:
            return self.decode_through_end(codes, byte_ids)
        return self.decode(codes, byte_ids if teacher_forcing else None), indices

    def code_features(self, indices: torch.Tensor) -> torch.Tensor:
        """Code indices (N,) -> the decoder's first hidden layer (N, F): what it spells bytes from."""
        return self.decoder.features(self.fsq.indices_to_codes(indices))


def conv_channels_last(h: torch.Tensor, conv: nn.Conv1d, left: int, right: int) -> torch.Tensor:
    """`conv` over h (B, T, C_in) zero-padded by `left` and `right` positions -> (B, T', C_out),
    computed as one matrix product: the kernel's k taps (dilated and strided as `conv` says) of
    each output position side by side (B, T', k * C_in) times the weight laid out tap-major.

    Why not conv(h): oneDNN's 1-D convolutions of these sizes (3 taps, 4-18 positions) run at a
    fraction of a GEMM's speed, in the backward pass most; one pretrain step measured 1.35x the
    steps/s under fp32 on AVX2, 1.45x in bf16 and 1.09x in fp32 on AVX-512 (docs/experiments.md).
    The Conv1d modules stay the parameters' home, so bundles and checkpoints keep their layout."""
    taps = torch.cat(conv_taps(F.pad(h, (0, 0, left, right)), conv), -1)  # (B, T', k * C_in)
    weight = conv.weight.permute(0, 2, 1).reshape(conv.out_channels, -1)  # (C_out, k * C_in), tap-major like taps
    return linear(taps, weight, conv.bias)


def conv_of_embedding(ids: torch.Tensor, embedding: torch.Tensor, conv: nn.Conv1d) -> torch.Tensor:
    """`conv` over the rows of `embedding` (N, C_in) that ids (B, T) pick, zero-padded as `conv`
    says -> (B, T', C_out). With at least N + 1 ids, without the (B, T, C_in) input: each tap's
    product with the embedding is a table (N + 1, C_out), its last row the zero padding's, and an
    output position is the sum of the k rows its window's ids pick, plus the bias.

    Why: the k tables cost what the convolution costs over N + 1 positions, so from a batch of
    that many ids on they are cheaper, and the backward is an index-add into them instead of two
    matrix products: a pretrain step (256 x 16 ids) 16.7 -> 17.5 steps/s under the AVX2 imitation,
    the same on AVX-512 (stop 41). Fewer ids (one chunk: 16) take the convolution."""
    (k,), (pad,) = conv.kernel_size, conv.padding
    rows = len(embedding) + 1  # rows per tap's table; id len(embedding) is a padded position
    if ids.numel() < rows:
        return conv_channels_last(F.embedding(ids, embedding), conv, pad, pad)
    taps = conv_taps(F.pad(ids, (pad, pad), value=rows - 1), conv)  # k of (B, T')
    window = torch.stack([tap + i * rows for i, tap in enumerate(taps)], -1)  # (B, T', k): rows of the stacked tables
    tables = F.pad(embedding, (0, 0, 0, 1)) @ conv.weight.permute(2, 1, 0)  # (k, N + 1, C_out)
    out = F.embedding_bag(window.view(-1, k), tables.reshape(k * rows, -1), mode="sum")  # (B * T', C_out)
    return (out + conv.bias).view(*window.shape[:2], -1)


def conv_taps(padded: torch.Tensor, conv: nn.Conv1d) -> list[torch.Tensor]:
    """`padded` (B, L, ...) -> the k views (B, T', ...) of the positions each of `conv`'s taps
    reads (dilated and strided as `conv` says), tap 0 first. Example (k 3, stride 2, L 6):
    positions [0, 2], [1, 3], [2, 4]"""
    (k,), (dilation,), (stride,) = conv.kernel_size, conv.dilation, conv.stride
    length = (padded.shape[1] - dilation * (k - 1) - 1) // stride + 1
    return [padded[:, i * dilation : i * dilation + stride * (length - 1) + 1 : stride] for i in range(k)]


def positions_to_end(ids: torch.Tensor) -> torch.Tensor:
    """(B, T) padded ids -> (B,) positions through each row's first end symbol (T if it has none):
    all a reader of the row looks at. Example: [[104, 105, 256, 256], [1, 2, 3, 4]] -> [3, 4]"""
    is_end = ids == PAD
    return torch.where(is_end.any(1), is_end.int().argmax(1) + 1, ids.shape[1])


class MLPDecoder(nn.Module):
    """code (B, D) -> two hidden layers -> logits for every position at once (B, T, 257)."""

    def __init__(self, code_dim: int, config: AutoencoderConfig, max_chunk_bytes: int):
        super().__init__()
        width = config.decoder_hidden
        self.net = nn.Sequential(
            Dense(code_dim, width), nn.GELU(),
            Dense(width, width), nn.GELU(),
            Dense(width, max_chunk_bytes * N_CLASSES),
        )

    def features(self, codes: torch.Tensor) -> torch.Tensor:
        """codes (B, D) -> first hidden layer (B, width)."""
        return self.net[1](self.net[0](codes))

    def forward(self, codes: torch.Tensor, targets: torch.Tensor | None = None) -> torch.Tensor:
        return self.net(codes).view(codes.shape[0], -1, N_CLASSES)


class AutoregressiveDecoder(nn.Module):
    """code (B, D) -> an MLP's per-position conditioning (B, T, W); byte t is predicted from it and
    the bytes before t, through `ar_layers` residual causal convs (dilations 1, 2, 4, ...).

    Why: the MLP decoder spells every position independently, so a code it has not quite learned
    comes out blurred (" freedom" -> " Friehtn"); here each byte also sees the bytes already
    spelled, and the code only has to pick among plausible continuations."""

    START = N_CLASSES  # the "previous byte" of position 0
    # Training spells a row only through the shortest of these spans (and the full length) that
    # holds its end symbol: most train chunks are a word or less, so the last MLP layer, the
    # convs and the 257-way head run on about half the positions (the causal convs give each
    # position the same logits as a full-length pass).
    SPANS = (4, 8)
    # Each group's rows start at a multiple of ROW_ALIGN (the rows before a boundary are spelled
    # through the next span: their extra positions are "end", as their targets say): oneDNN builds
    # a kernel for each matrix shape, and its cache of them thrashed on new sizes every step.
    ROW_ALIGN = 32

    def __init__(self, code_dim: int, config: AutoencoderConfig, max_chunk_bytes: int):
        super().__init__()
        width, self.ar_width, self.length = config.decoder_hidden, config.ar_width, max_chunk_bytes
        self.net = nn.Sequential(
            Dense(code_dim, width), nn.GELU(),
            Dense(width, width), nn.GELU(),
            Dense(width, max_chunk_bytes * config.ar_width),
        )
        self.previous = nn.Embedding(N_CLASSES + 1, config.ar_width)  # bytes, end, START
        self.convs = nn.ModuleList(nn.Conv1d(config.ar_width, config.ar_width, 3, dilation=2**i)
                                   for i in range(config.ar_layers))
        self.head = Dense(config.ar_width, N_CLASSES)

    def features(self, codes: torch.Tensor) -> torch.Tensor:
        """codes (B, D) -> first hidden layer (B, width)."""
        return self.net[1](self.net[0](codes))

    def forward(self, codes: torch.Tensor, targets: torch.Tensor | None = None) -> torch.Tensor:
        condition = self.net(codes).view(len(codes), self.length, self.ar_width)  # (B, T, W)
        return self.greedy(condition) if targets is None else self.spell(condition, targets)

    def spell(self, condition: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        """condition (B, S, W), true bytes (B, S) -> logits (B, S, 257): byte t from the bytes before it."""
        start = torch.full_like(targets[:, :1], self.START)
        h = condition + self.previous(torch.cat([start, targets[:, :-1]], 1))  # (B, S, W)
        for conv in self.convs:
            h = h + F.gelu(conv_channels_last(h, conv, 2 * conv.dilation[0], 0))  # left padding keeps it causal
        return self.head(h)  # (B, S, 257)

    def spell_through_end(self, codes: torch.Tensor, targets: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """codes (B, D), true bytes (B, T) -> logits (N, 257) of each row's positions through its
        span (SPANS or T; see ROW_ALIGN) and their flat indices (N,) into (B, T). Rows are grouped by span; the
        last layer's output is position-major, so its weight splits into blocks of positions
        (0-3, 4-7, 8-15) and each block runs only for the rows whose span reaches it (split, not
        sliced: the backward then joins the blocks' gradients instead of zero-filling the whole
        weight once per slice)."""
        spans = [s for s in self.SPANS if s < self.length] + [self.length]
        group = torch.bucketize(positions_to_end(targets), torch.tensor(spans, device=targets.device))  # (B,)
        order = torch.argsort(group, stable=True)
        hidden, targets = self.net[:-1](codes)[order], targets[order]  # (B, width), (B, T): by span
        ends = torch.bincount(group, minlength=len(spans)).cumsum(0).tolist()[:-1]  # where each group's rows end
        firsts = [0] + [end // self.ROW_ALIGN * self.ROW_ALIGN for end in ends]  # each group's first row, aligned
        counts = [after - first for first, after in zip(firsts, [*firsts[1:], len(targets)], strict=True)]
        lengths = [end - start for start, end in zip([0, *spans[:-1]], spans, strict=True)]  # positions per block
        widths, last = [length * self.ar_width for length in lengths], self.net[-1]
        blocks = [linear(hidden[first:], weight, bias).view(len(hidden) - first, length, self.ar_width)
                  for first, length, weight, bias in zip(firsts, lengths, last.weight.split(widths),
                                                         last.bias.split(widths), strict=True)]
        # block j: (the rows of groups >= j, its positions, W)
        logits, positions = [], []
        for g, (span, first, count) in enumerate(zip(spans, firsts, counts, strict=True)):
            if count:
                condition = torch.cat([blocks[j][first - firsts[j] : first - firsts[j] + count] for j in range(g + 1)],
                                      1)  # (count, span, W)
                logits.append(self.spell(condition, targets[first : first + count, :span]).reshape(-1, N_CLASSES))
                rows = order[first : first + count, None] * self.length  # (count, 1) flat offsets in (B, T)
                positions.append((rows + torch.arange(span, device=rows.device)).flatten())
        return torch.cat(logits), torch.cat(positions)  # (N, 257), (N,)

    @torch.no_grad()  # argmax spelling has no gradient; its buffers are written in place
    def greedy(self, condition: torch.Tensor) -> torch.Tensor:
        """(B, T, W) -> logits (B, T, 257), spelling one position at a time; each conv sees the
        same window of its input as in the teacher-forced pass, so both give the same logits."""
        batch = len(condition)
        inputs = [condition.new_zeros(batch, self.length, self.ar_width) for _ in range(len(self.convs) + 1)]
        logits = condition.new_empty(batch, self.length, N_CLASSES)
        previous = torch.full((batch,), self.START, dtype=torch.long, device=condition.device)
        for t in range(self.length):
            inputs[0][:, t] = condition[:, t] + self.previous(previous)
            for i, conv in enumerate(self.convs):
                reach = 2 * conv.dilation[0]  # how far back the conv looks
                window = inputs[i][:, max(0, t - reach) : t + 1]  # (B, <= reach + 1, W)
                step = conv_channels_last(window, conv, max(0, reach - t), 0)  # (B, 1, W)
                inputs[i + 1][:, t] = inputs[i][:, t] + F.gelu(step[:, 0])
            logits[:, t] = self.head(inputs[-1][:, t])
            previous = logits[:, t].argmax(-1)
        return logits


class DeconvDecoder(nn.Module):
    """The seed's decoder: code -> linear -> (C, T / prod(strides)) -> transposed convs -> logits."""

    def __init__(self, code_dim: int, config: AutoencoderConfig, max_chunk_bytes: int):
        super().__init__()
        k, top = config.kernel_size, config.conv_channels[-1]
        self.latent_len = max_chunk_bytes // math.prod(config.strides)
        self.from_code = Dense(code_dim, config.d_latent)
        self.from_latent = Dense(config.d_latent, top * self.latent_len)
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

    def forward(self, codes: torch.Tensor, targets: torch.Tensor | None = None) -> torch.Tensor:
        h = self.features(codes)  # (B, d_latent)
        h = F.gelu(self.from_latent(h)).view(codes.shape[0], -1, self.latent_len)  # (B, C, T_latent)
        for deconv in self.deconvs:
            h = F.gelu(deconv(h))  # (B, C', 2 T) or (B, C', T)
        return self.head(h).transpose(1, 2)  # (B, T, 257)
