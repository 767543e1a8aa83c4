"""Bytes -> pre-tokens -> chunks of at most `max_chunk_bytes`: the unit the auto-encoder sees.

Pre-tokens follow the GPT-2 idea on raw bytes (so invalid UTF-8 is handled like any byte):
contractions, words with their leading space, numbers, punctuation runs and whitespace runs.
Bytes >= 0x80 count as letters, so a UTF-8 word ("café", "東京") stays in one piece.
The pre-tokens of any byte string concatenate back to it exactly.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator

PRETOKEN = re.compile(
    rb"'(?:s|t|re|ve|m|ll|d)(?![A-Za-z\x80-\xff])"  # English contractions
    rb"| ?[A-Za-z\x80-\xff]+"  # a word with its leading space
    rb"| ?[0-9]+"  # a number
    rb"| ?[^\sA-Za-z0-9\x80-\xff]+"  # a punctuation run
    rb"|\s+(?!\S)"  # a whitespace run, leaving its last space to the next word
    rb"|\s+"
)


def pretokenize(data: bytes) -> list[bytes]:
    """Split bytes into pre-tokens.
    Example: b"Hello, world  2024!" -> [b"Hello", b",", b" world", b" ", b" 2024", b"!"]"""
    return PRETOKEN.findall(data)


def split_long(piece: bytes, max_bytes: int) -> list[bytes]:
    """Cut a pre-token into pieces of at most max_bytes.
    Example: (b"abcdefg", 3) -> [b"abc", b"def", b"g"]"""
    return [piece[i : i + max_bytes] for i in range(0, len(piece), max_bytes)] or [piece]


def chunk_bytes(data: bytes, max_bytes: int) -> list[bytes]:
    """All chunks of one byte string, in order; b"".join(result) == data."""
    return [c for p in pretokenize(data) for c in split_long(p, max_bytes)]


def iter_text_chunks(texts: Iterable[str], max_bytes: int) -> Iterator[bytes]:
    """Chunks of many documents, document after document (occurrences, not distinct)."""
    for text in texts:
        yield from chunk_bytes(text.encode("utf-8", "surrogatepass"), max_bytes)


def training_segments(data: bytes, max_bytes: int, rng, join_rate: float, split_rate: float) -> list[bytes]:
    """A random segmentation of `data` into the kinds of strings the vocabulary is built from:
    whole pre-token chunks, runs of 2-3 whole pre-tokens (" of the"), and pieces of a
    pre-token (" begin" + "ning"). `rng` is a random.Random; b"".join(result) == data.
    The auto-encoder trains on these occurrences, so it learns every candidate kind."""
    tokens = chunk_bytes(data, max_bytes)
    out, i = [], 0
    while i < len(tokens):
        token, roll = tokens[i], rng.random()
        if roll < join_rate:
            span = 3 if rng.random() < 0.3 else 2
            joined = b"".join(tokens[i : i + span])
            if i + span <= len(tokens) and len(joined) <= max_bytes:
                out.append(joined)
                i += span
                continue
        if roll > 1 - split_rate and len(token) >= 4:
            cut = rng.randrange(2, len(token) - 1)
            out += [token[:cut], token[cut:]]
        else:
            out.append(token)
        i += 1
    return out
