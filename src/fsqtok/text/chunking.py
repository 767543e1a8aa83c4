"""Bytes -> pre-tokens -> chunks of at most `max_chunk_bytes`: the unit the auto-encoder sees.

Pre-tokens follow the GPT-2 idea on raw bytes (so invalid UTF-8 is handled like any byte):
contractions, words with their leading space, numbers, punctuation runs and whitespace runs, each
run at most MAX_RUN bytes. Bytes >= 0x80 count as letters, so a UTF-8 word ("café", "東京") stays
in one piece.
The pre-tokens of any byte string concatenate back to it exactly.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator

# fsqtok's one pre-token pattern, from its byte classes (the BPE and word baselines keep their own)
LETTERS = rb"[A-Za-z\x80-\xff]"  # ASCII letters and every byte of a multi-byte UTF-8 character
DIGITS = rb"[0-9]"
PUNCTUATION = rb"[^\sA-Za-z0-9\x80-\xff]"  # neither space, letter nor digit
CONTRACTION_SUFFIX = rb"(?:s|t|re|ve|m|ll|d)(?!" + LETTERS + b")"
MAX_RUN = 64  # bytes of one class in a pre-token; longer runs are cut every MAX_RUN bytes (> any piece)
RUN = b"{1,%d}" % MAX_RUN  # so no encoder, fsqtok's or the HF export's, meets an unbounded pre-token
PRETOKEN = re.compile(
    b"'" + CONTRACTION_SUFFIX  # English contractions
    + b"| ?" + LETTERS + RUN  # a word with its leading space
    + b"| ?" + DIGITS + RUN  # a number
    + b"| ?" + PUNCTUATION + RUN  # a punctuation run
    + rb"|\s" + RUN + rb"(?!\S)"  # a whitespace run, leaving its last space to the next word
    + rb"|\s" + RUN
)


def pretoken_end(token: bytes) -> bytes:
    """A lookahead that holds where a piece whose last pre-token is `token` (met at a pre-token
    start of the text) also ends on a pre-token boundary of the text: PRETOKEN's choice there
    depends on the bytes that follow (a longer word, a longer whitespace run, "'" + "s").
    Derived from PRETOKEN's alternatives; tests check it against `pretokenize` on random text.
    Example: b" the" -> rb"(?![A-Za-z\x80-\xff])": " the" ends in " the cat", not in " theory"."""
    if token.isspace():
        # \s+(?!\S) leaves a run's last byte to what follows, and " " + a non-space is one
        # pre-token (" cat"): the run may end here if one more space and a non-space follow, at
        # the end of the text, or before a non-space when its last byte is not " " ("\n").
        return rb"(?=\s\S|\Z)" if token.endswith(b" ") else rb"(?=\S|\s\S|\Z)"
    core = token.lstrip(b" ")
    if re.fullmatch(LETTERS + b"+", core) or re.fullmatch(b"'" + CONTRACTION_SUFFIX, token):
        return b"(?!" + LETTERS + b")"
    if core.isdigit():
        return b"(?!" + DIGITS + b")"
    punctuation_end = b"(?!" + PUNCTUATION + b")"
    if token == b"'":  # "'" + "s" would be a contraction
        return punctuation_end + b"(?!" + CONTRACTION_SUFFIX + b")"
    return punctuation_end


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
