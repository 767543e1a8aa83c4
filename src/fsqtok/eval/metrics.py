"""Metrics: reconstruction quality of the neural path and tokenization quality of any tokenizer.

Pure functions over strings, bytes and id lists; each has a hand-computed test.
"""

from __future__ import annotations

import re
import statistics
import time
from collections.abc import Callable, Sequence

from fsqtok.tokenizers.base import FIRST_LEARNED_ID, N_SPECIAL, Tokenizer


def levenshtein(a: Sequence, b: Sequence) -> int:
    """Edit distance (insert, delete, substitute each cost 1).
    Example: levenshtein("kitten", "sitting") == 3"""
    previous = list(range(len(b) + 1))
    for i, x in enumerate(a, 1):
        current = [i]
        for j, y in enumerate(b, 1):
            current.append(min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (x != y)))
        previous = current
    return previous[-1]


def normalized_levenshtein(a: Sequence, b: Sequence) -> float:
    """Edit distance / longer length; 0 for two empty sequences.
    Example: ("abcd", "abxd") -> 0.25"""
    longest = max(len(a), len(b))
    return levenshtein(a, b) / longest if longest else 0.0


def aligned_accuracy(original: Sequence, reconstruction: Sequence) -> float:
    """Share of positions of `original` that `reconstruction` has equal at the same index.
    Example: ("hello", "hallo!") -> 0.8"""
    if not original:
        return 1.0
    return sum(x == y for x, y in zip(original, reconstruction, strict=False)) / len(original)


def reconstruction_case(text: str, reconstruction: str) -> dict:
    """One test case through the lossy path: byte and character accuracy, exact, edit distance."""
    original_bytes, recon_bytes = text.encode("utf-8"), reconstruction.encode("utf-8")
    return {
        "input": text,
        "reconstruction": reconstruction,
        "byte_accuracy": aligned_accuracy(original_bytes, recon_bytes),
        "char_accuracy": aligned_accuracy(text, reconstruction),
        "exact": text == reconstruction,
        "normalized_levenshtein": normalized_levenshtein(text, reconstruction),
    }


def summarize_cases(cases: list[dict]) -> dict:
    """Means over test cases; `exact_matches` counts perfect reconstructions."""
    n = max(1, len(cases))
    return {
        "byte_accuracy": sum(c["byte_accuracy"] for c in cases) / n,
        "char_accuracy": sum(c["char_accuracy"] for c in cases) / n,
        "exact_matches": sum(c["exact"] for c in cases),
        "cases": len(cases),
        "normalized_levenshtein": sum(c["normalized_levenshtein"] for c in cases) / n,
    }


WORDS = re.compile(r"\S+")


def tokenization_metrics(tokenizer: Tokenizer, texts: list[str]) -> dict:
    """Compression and coverage of `tokenizer` on `texts`; learned tokens are ids >= 259."""
    n_bytes = n_tokens = n_words = lossless = learned_bytes = 0
    used: set[int] = set()
    for text in texts:
        data = text.encode("utf-8")
        ids = tokenizer.encode_bytes(data)
        n_bytes += len(data)
        n_tokens += len(ids)
        n_words += len(WORDS.findall(text))
        lossless += tokenizer.decode_bytes(ids) == data
        used.update(ids)
        learned_bytes += sum(len(tokenizer.decode_bytes([i])) for i in ids if i >= FIRST_LEARNED_ID)
    return {
        "bytes": n_bytes,
        "tokens": n_tokens,
        "bytes_per_token": n_bytes / max(1, n_tokens),
        "tokens_per_word": n_tokens / max(1, n_words),
        "learned_byte_share": learned_bytes / max(1, n_bytes),
        "vocab_utilization": len(used) / (tokenizer.vocab_size - N_SPECIAL),
        "lossless_rate": lossless / max(1, len(texts)),
    }


def median_seconds(run: Callable[[], object], repeats: int) -> float:
    """Median wall time of `repeats` calls."""
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        run()
        times.append(time.perf_counter() - start)
    return statistics.median(times)
