"""Auto-encoder data: chunks packed as padded byte ids, the seeded training stream, val samples."""

from __future__ import annotations

import random
from collections import Counter

import numpy as np
import torch

from fsqtok.autoencoder.model import PAD
from fsqtok.config import PretrainConfig
from fsqtok.errors import FsqtokError
from fsqtok.text.chunking import iter_text_chunks, training_segments
from fsqtok.text.lexicon import english_words, lexicon_segments


def pack_chunks(chunks: list[bytes], max_chunk_bytes: int) -> torch.Tensor:
    """Chunks -> (N, max_chunk_bytes) int64 ids, PAD after each chunk's end.
    Example: ([b"hi"], 4) -> [[104, 105, 256, 256]]"""
    out = torch.full((len(chunks), max_chunk_bytes), PAD, dtype=torch.int64)
    joined = b"".join(chunks)
    if joined:  # torch.frombuffer refuses an empty buffer (chunks all empty: all PAD)
        flat = torch.frombuffer(bytearray(joined), dtype=torch.uint8).long()
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


def segment_tensor(texts, config: PretrainConfig, max_chunk_bytes: int, seed: int) -> torch.Tensor:
    """Train segment occurrences (chunks, pre-token runs, pieces; see training_segments) as ids."""
    rng = random.Random(seed)
    segments = [s for text in texts for s in training_segments(
        text.encode("utf-8", "surrogatepass"), max_chunk_bytes, rng, config.join_rate, config.split_rate)]
    return pack_chunks(segments, max_chunk_bytes)


def lexicon_tensor(config: PretrainConfig, max_chunk_bytes: int, seed: int, train_rows: int) -> torch.Tensor | None:
    """Lexicon word forms as ids (see lexicon_segments): as many rows as the lexicon's share of
    one pass over `train_rows` corpus segments, so both streams cycle at about the same pace.
    None when pretrain.lexicon_rate is 0 (the corpus alone)."""
    if not config.lexicon_rate:
        return None
    rows = max(1, round(train_rows * config.lexicon_rate / (1 - config.lexicon_rate)))
    words = english_words(config.lexicon_words, max_chunk_bytes)
    return pack_chunks(lexicon_segments(words, rows, seed), max_chunk_bytes)


def capped_rows(chunks: torch.Tensor, cap: int, seed: int) -> torch.Tensor:
    """The rows of (N, T) with each distinct chunk kept at most `cap` times (a seeded choice of
    which occurrences), in a seeded order. Example: cap 2 on rows [a, a, a, b] -> two a's and b."""
    generator = torch.Generator().manual_seed(seed)
    shuffled = chunks[torch.randperm(len(chunks), generator=generator)]
    # (N,) an id per distinct chunk: rows as 2T-byte records sorted by numpy (torch.unique(dim=0)
    # took 2.5 s on the 1.6 M train rows, this 0.4 s); only which rows share an id matters here
    records = np.ascontiguousarray(shuffled.to(torch.int16).numpy()).view(np.dtype((np.void, 2 * chunks.shape[1])))
    group = torch.from_numpy(np.unique(records[:, 0], return_inverse=True)[1].reshape(-1))
    order = torch.argsort(group, stable=True)  # rows grouped by chunk, shuffled order within
    sorted_group = group[order]
    rank = torch.empty_like(order)  # how many earlier rows of the shuffle hold the same chunk
    rank[order] = torch.arange(len(order)) - torch.searchsorted(sorted_group, sorted_group)
    return shuffled[rank < cap]


def chunk_tensor(texts, max_chunk_bytes: int, limit: int = 0, seed: int = 0) -> torch.Tensor:
    """Every chunk occurrence of `texts` as (N, max_chunk_bytes) ids; with `limit`, a seeded
    random sample of that many occurrences (documents are stored grouped by source)."""
    chunks = pack_chunks(list(iter_text_chunks(texts, max_chunk_bytes)), max_chunk_bytes)
    if limit and len(chunks) > limit:
        generator = torch.Generator().manual_seed(seed)
        chunks = chunks[torch.randperm(len(chunks), generator=generator)[:limit]]
    return chunks


def train_frequency(chunks: torch.Tensor, texts, max_chunk_bytes: int) -> torch.Tensor:
    """How often each chunk row of (M, T) occurs as a chunk of `texts`: (M,) int64.
    Example: ([[104, 105, 256]], ["hi hi"], 3) -> [1] (the chunks are b"hi" and b" hi")"""
    counts = Counter(iter_text_chunks(texts, max_chunk_bytes))
    return torch.tensor([counts[chunk] for chunk in unpack_chunks(chunks)], dtype=torch.int64)


class ChunkStream:
    """Train chunk occurrences (N, T) in a seeded order: epoch e is permutation(seed + e).
    Its whole state is (epoch, offset), so a resumed run sees exactly the same batches."""

    def __init__(self, chunks: torch.Tensor, seed: int, epoch: int = 0, offset: int = 0):
        if len(chunks) == 0:
            raise FsqtokError("pretrain: the train split has 0 chunks to train on; check data/split/train.parquet")
        self.chunks, self.seed, self.epoch, self.offset = chunks, seed, epoch, offset
        self._perm_epoch, self._perm = -1, torch.empty(0, dtype=torch.int64)

    def _permutation(self) -> torch.Tensor:
        if self._perm_epoch != self.epoch:
            generator = torch.Generator().manual_seed(self.seed * 1_000_003 + self.epoch)
            self._perm = torch.randperm(len(self.chunks), generator=generator)
            self._perm_epoch = self.epoch
        return self._perm

    def next_batch(self, size: int) -> torch.Tensor:
        """(size, T): the next `size` occurrences, continuing into the next epoch when needed."""
        parts, needed = [], size
        while needed:
            if self.offset >= len(self.chunks):
                self.epoch, self.offset = self.epoch + 1, 0
            take = self._permutation()[self.offset : self.offset + needed]
            parts.append(take)
            self.offset += len(take)
            needed -= len(take)
        return self.chunks[torch.cat(parts)]

    def state(self) -> dict:
        return {"epoch": self.epoch, "offset": self.offset}

    def load_state(self, state: dict) -> None:
        self.epoch, self.offset = state["epoch"], state["offset"]


class MixedStream:
    """Batches of corpus rows with fixed shares from other streams (the lexicon, the vocabulary's
    pieces): a batch of B is the corpus stream's next B - sum(k) rows, then each other stream's
    next k = round(B * share) rows, in order. Its state is every stream's state, so a resumed run
    sees exactly the same batches."""

    def __init__(self, corpus: ChunkStream | PhasedStream, others: list[tuple[ChunkStream, float]]):
        self.corpus, self.others = corpus, others

    def next_batch(self, size: int) -> torch.Tensor:
        """(size, T): corpus rows first, then each other stream's rows."""
        taken = [(stream, round(size * share)) for stream, share in self.others]
        parts = [stream.next_batch(k) for stream, k in taken if k]
        return torch.cat([self.corpus.next_batch(size - sum(k for _, k in taken)), *parts])

    def state(self) -> dict:
        return {"corpus": self.corpus.state(), "others": [stream.state() for stream, _ in self.others]}

    def load_state(self, state: dict) -> None:
        self.corpus.load_state(state["corpus"])
        for (stream, _), saved in zip(self.others, state["others"], strict=True):
            stream.load_state(saved)


class PhasedStream:
    """One stream for the first `switch` batches, another after: the corpus by occurrence while
    the model learns the frequent chunks, then with repeats capped (see capped_rows).
    Its state is both streams' states and the batches drawn, so a resumed run sees the same batches."""

    def __init__(self, before: ChunkStream, after: ChunkStream, switch: int):
        self.before, self.after, self.switch, self.batches = before, after, switch, 0

    def next_batch(self, size: int) -> torch.Tensor:
        """(size, T) from `before` until `switch` batches are drawn, then from `after`."""
        stream = self.before if self.batches < self.switch else self.after
        self.batches += 1
        return stream.next_batch(size)

    def state(self) -> dict:
        return {"before": self.before.state(), "after": self.after.state(), "batches": self.batches}

    def load_state(self, state: dict) -> None:
        self.before.load_state(state["before"])
        self.after.load_state(state["after"])
        self.batches = state["batches"]


TrainStream = ChunkStream | PhasedStream | MixedStream  # what a pretrain run draws its batches from
