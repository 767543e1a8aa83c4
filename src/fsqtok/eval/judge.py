"""One judge for every generator: an interpolated Kneser-Ney byte n-gram model learned from train
text that no generator saw (judge_bpb: its bits per byte on a sample), next to the sample's word
unigram entropy and distinct-n, so that repetitive text cannot win on perplexity alone."""

from __future__ import annotations

import math
import re
import statistics
from collections import Counter

from fsqtok.text.split import take_bytes

DISCOUNT = 0.75  # the usual absolute discount of Kneser-Ney
ALPHABET = 256
WORDS = re.compile(r"\S+")


class KneserNeyBytes:
    """P(byte | up to order-1 previous bytes), interpolated Kneser-Ney: the highest order counts
    occurrences, lower orders count distinct left extensions, and the base mixes in a uniform
    distribution over 256 bytes, so every byte has a probability.
    Example: KneserNeyBytes(b"abab", 2).bits_per_byte(b"ab") < KneserNeyBytes(b"abab", 2).bits_per_byte(b"ba")"""

    def __init__(self, data: bytes, order: int):
        self.order = order
        grams = {k: Counter(data[i : i + k] for i in range(len(data) - k + 1)) for k in range(1, order + 1)}
        # order k keeps raw counts at the top and continuation counts N1+(. g) below it
        self.counts = {order: grams[order]}
        for k in range(1, order):
            self.counts[k] = Counter(g[1:] for g in grams[k + 1])
        self.totals: dict[int, Counter] = {}  # context -> sum of its counts
        self.types: dict[int, Counter] = {}  # context -> distinct next bytes
        for k, counts in self.counts.items():
            totals, types = Counter(), Counter()
            for gram, count in counts.items():
                totals[gram[:-1]] += count
                types[gram[:-1]] += 1
            self.totals[k], self.types[k] = totals, types

    def probability(self, history: bytes, byte: int) -> float:
        """P(byte | history), history holding at most order - 1 bytes."""
        p = 1.0 / ALPHABET
        for k in range(1, len(history) + 2):  # from the unigram up to the longest history
            context = history[len(history) - k + 1 :] if k > 1 else b""
            total = self.totals[k].get(context, 0)
            if total == 0:
                continue
            count = self.counts[k].get(context + bytes([byte]), 0)
            p = max(count - DISCOUNT, 0) / total + DISCOUNT * self.types[k][context] / total * p
        return p

    def bits_per_byte(self, data: bytes) -> float:
        if not data:
            return 0.0
        context = self.order - 1
        bits = sum(-math.log2(self.probability(data[max(0, i - context) : i], b)) for i, b in enumerate(data))
        return bits / len(data)


def unigram_entropy(text: str) -> float:
    """Entropy (bits) of the word distribution of `text`. Example: "a b a b" -> 1.0"""
    counts = Counter(WORDS.findall(text))
    total = sum(counts.values())
    return -sum(c / total * math.log2(c / total) for c in counts.values()) if total else 0.0


def distinct_n(text: str, n: int) -> float:
    """Distinct word n-grams / all word n-grams (0 when there are none).
    Example: ("a b a b", 2) -> 2 / 3"""
    words = WORDS.findall(text)
    grams = [tuple(words[i : i + n]) for i in range(len(words) - n + 1)]
    return len(set(grams)) / len(grams) if grams else 0.0


def train_judge(train: list[str], order: int, train_bytes: int) -> KneserNeyBytes:
    """The judge of the pipeline: learnt from the odd train documents (the flow's latents come from
    the even ones), at most `train_bytes` of them."""
    return KneserNeyBytes("\n".join(take_bytes(train[1::2], train_bytes)[0]).encode("utf-8"), order)


def judge_spread(model: KneserNeyBytes, samples: list[str]) -> dict:
    """The judge's bits per byte of each sample: their mean and its standard error.
    Example: two samples scoring 2.0 and 4.0 -> {"judge_bpb": 3.0, "judge_bpb_se": 1.0, "samples": 2}"""
    scores = [model.bits_per_byte(text.encode("utf-8")) for text in samples]
    se = statistics.stdev(scores) / math.sqrt(len(scores)) if len(scores) > 1 else 0.0
    return {"judge_bpb": statistics.mean(scores), "judge_bpb_se": se, "samples": len(scores)}


def judge(model: KneserNeyBytes, samples: list[str]) -> dict:
    """The judge's scores of a generator's samples, pooled over them."""
    text = "\n".join(samples)
    return {"judge_bpb": model.bits_per_byte(text.encode("utf-8")), "unigram_entropy": unigram_entropy(text),
            **{f"distinct_{n}": distinct_n(text, n) for n in (2, 3, 4)}, "bytes": len(text.encode("utf-8"))}
