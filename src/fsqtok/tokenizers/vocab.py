"""A vocabulary of pieces and its lossless encoder: per pre-token, the longest run of at least two
whole pre-tokens that is a piece wins (" of the"); otherwise the pre-token is split into the
fewest tokens (then the fewest byte tokens: bytes no piece covers), ties broken as `_core.pyx` says.

The work is done by the compiled core (`_core.pyx`), which releases the GIL, so `encode_many`
spreads documents over threads.
"""

from __future__ import annotations

import os
from array import array
from concurrent.futures import ThreadPoolExecutor
from functools import cache

from fsqtok.tokenizers._core import PieceCore
from fsqtok.tokenizers.base import FIRST_LEARNED_ID


@cache
def thread_pool() -> ThreadPoolExecutor:
    """One pool for every batch call: starting threads per call would cost more than small batches."""
    return ThreadPoolExecutor(max_workers=os.cpu_count() or 1, thread_name_prefix="fsqtok-encode")


def shards(sizes: list[int], count: int) -> list[range]:
    """Cut positions 0..len(sizes) into up to `count` contiguous ranges of about equal total size.
    Example: ([5, 1, 1, 5], 2) -> [range(0, 2), range(2, 4)]"""
    total, bounds, running = sum(sizes), [0], 0
    for i, size in enumerate(sizes):
        running += size
        if len(bounds) < count and running * count >= total * len(bounds) and i + 1 < len(sizes):
            bounds.append(i + 1)
    bounds.append(len(sizes))
    return [range(a, b) for a, b in zip(bounds, bounds[1:], strict=False) if b > a]


class ChunkVocabulary:
    """Pieces (bytes) in id order and the fewest-tokens encoder over them.
    Example: pieces [b" the", b" of the"] -> encode_bytes(b" of the") == [260]"""

    def __init__(self, pieces: list[bytes], max_piece_bytes: int):
        self.pieces = pieces
        self.max_piece_bytes = max_piece_bytes
        self.piece_to_id = {p: FIRST_LEARNED_ID + i for i, p in enumerate(pieces)}
        self.core = PieceCore(pieces, max_piece_bytes)

    def encode_bytes(self, data: bytes) -> list[int]:
        return self.core.encode(data)

    def encode_array(self, data: bytes) -> array:
        """encode_bytes as an array('I'): 4 bytes per id, for inputs of any size."""
        return self.core.encode_array(data)

    def encode_many(self, documents: list, num_threads: int | None = None, to_bytes=bytes) -> list[list[int]]:
        """encode_bytes of each document (`to_bytes` turns one into bytes, inside the worker
        threads), shards of the list on `num_threads` threads (default: every core) at once;
        the same ids as one call per document."""
        return self._sharded(lambda part: self.core.encode_many(list(map(to_bytes, part))), documents,
                             list(map(len, documents)), num_threads)

    def decode_bytes(self, ids) -> bytes:
        """Concatenated bytes of `ids`; specials are empty."""
        return self.core.decode(ids)

    def decode_many(self, batch: list, num_threads: int | None = None) -> list[bytes]:
        """decode_bytes of each list of ids, shards of the batch on `num_threads` threads."""
        return self._sharded(self.core.decode_many, batch, list(map(len, batch)), num_threads)

    def _sharded(self, run, items: list, sizes: list[int], num_threads: int | None) -> list:
        """run(items) as the concatenation of run(shard) over contiguous shards of about equal
        total size, one per thread (default: every core)."""
        threads = min(num_threads or os.cpu_count() or 1, len(items))
        if threads <= 1:
            return run(items)
        parts = thread_pool().map(lambda part: run(items[part.start : part.stop]), shards(sizes, threads))
        return [result for part in parts for result in part]
