"""Candidate pieces for the vocabulary, counted over the train text: the chunks themselves, runs
of 2..3 whole pre-tokens (" of the") and pieces inside pre-tokens (" inter", "ing"), ranked
by the bytes they would save."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable

from fsqtok.text.chunking import pretokenize, split_long

MAX_JOIN = 3  # most pre-tokens in one multi-piece candidate


def candidate_counts(texts: Iterable[str], max_bytes: int) -> tuple[Counter, Counter]:
    """(chunk occurrences, multi-pre-token run occurrences) over `texts`.
    Example: (["a b"], 16) -> ({b"a": 1, b" b": 1}, {b"a b": 1})"""
    chunks, joins = Counter(), Counter()
    for text in texts:
        tokens = pretokenize(text.encode("utf-8", "surrogatepass"))
        if tokens and max(map(len, tokens)) > max_bytes:
            chunks.update(piece for token in tokens for piece in split_long(token, max_bytes))
        else:
            chunks.update(tokens)  # Counter.update over a list counts in C
        runs = tokens  # runs[i]: the n pre-tokens from tokens[i] on, n = 1 .. MAX_JOIN
        for n in range(2, MAX_JOIN + 1):
            runs = [run + token for run, token in zip(runs, tokens[n - 1 :], strict=False)]  # one run fewer
            joins.update([run for run in runs if len(run) <= max_bytes])
    return chunks, joins


def inner_pieces(chunks: Counter, min_len: int = 2) -> Counter:
    """Proper substrings of chunks, weighted by the chunk's count (an upper bound on use).
    Example: {b"abc": 2} -> {b"ab": 2, b"bc": 2}"""
    pieces: Counter = Counter()
    for chunk, count in chunks.items():
        n = len(chunk)
        for length in range(min_len, n):
            for start in range(n - length + 1):
                pieces[chunk[start : start + length]] += count
    return pieces


def bytes_saved(counts: Counter) -> Counter:
    """Score = occurrences x (length - 1): tokens saved against byte fallback."""
    return Counter({s: c * (len(s) - 1) for s, c in counts.items() if len(s) > 1})


def select_candidates(chunks: Counter, joins: Counter, max_candidates: int, min_count: int = 2) -> Counter:
    """The strongest candidates by bytes saved; inner pieces get half weight, since the whole
    chunk they sit in often wins instead.
    Returns {candidate: occurrences}."""
    inner = inner_pieces(chunks)
    scores = bytes_saved(+chunks) + bytes_saved(+joins)
    for piece, score in bytes_saved(inner).items():
        scores[piece] = max(scores.get(piece, 0), score // 2)
    counts = {**inner, **joins, **chunks}
    best = [s for s, _ in scores.most_common() if counts[s] >= min_count][:max_candidates]
    return Counter({s: counts[s] for s in best})
