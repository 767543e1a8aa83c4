"""An English word list with frequencies, and numbers, as extra training strings for the auto-encoder.

A small corpus lacks common words ("hello" never occurs in the King James Bible or the Wikipedia
summaries) and most numbers, and the auto-encoder spells a string it never saw poorly. The list is pyspellchecker's
English frequency table (OpenSubtitles counts, MIT), read from its wheel as a data file, never
imported. Only the auto-encoder trains on it (`pretrain.lexicon_rate`); the corpus, the baselines
and the vocabulary's candidates stay the corpus's own.
"""

from __future__ import annotations

import gzip
import json
import math
import random
import re

from fsqtok.text.corpus import CorpusError, package_data

LEXICON_PACKAGE, LEXICON_FILE = "spellchecker", "resources/en.json.gz"
WORD = re.compile(r"[a-z]+")


def english_words(limit: int, max_bytes: int) -> list[tuple[str, int]]:
    """The `limit` most frequent lowercase a-z words that fit a chunk with a leading space,
    with their counts, most frequent first (ties by word). Example: (2, 16) -> [("the", ...), ("you", ...)]"""
    path = package_data(LEXICON_PACKAGE, LEXICON_FILE,
                        remedy="pip install pyspellchecker, or set pretrain.lexicon_rate: 0")
    try:
        counts = json.loads(gzip.decompress(path.read_bytes()))
    except (OSError, ValueError) as err:
        raise CorpusError(f"{path}: unreadable word list ({type(err).__name__}: {err})") from None
    words = [(w, int(c)) for w, c in counts.items() if WORD.fullmatch(w) and len(w) < max_bytes]
    return sorted(words, key=lambda wc: (-wc[1], wc[0]))[:limit]


# The forms a word is drawn in, as (prefix, capitalised, share): mostly lowercase, since a
# capitalised common word is rarely a string of the corpus and would spend capacity on little.
FORMS = [(" ", False, 0.4), ("", False, 0.4), (" ", True, 0.1), ("", True, 0.1)]


# The share of rows that are a number of 1-4 digits instead of a word: the corpus's numbers are
# mostly years, so "123" was spelled "126" even after 60,000 steps.
NUMBER_SHARE = 0.2
NUMBER_DIGITS = 4


def number_form(rng: random.Random) -> str:
    """A number with 1..NUMBER_DIGITS digits (each length equally likely, no leading zero) and,
    half of the time, a leading space: "7", " 42", " 1990"."""
    digits = rng.randint(1, NUMBER_DIGITS)
    number = rng.randrange(10 ** (digits - 1) if digits > 1 else 0, 10**digits)
    return rng.choice(("", " ")) + str(number)


def lexicon_segments(words: list[tuple[str, int]], rows: int, seed: int) -> list[bytes]:
    """`rows` seeded draws: a number (NUMBER_SHARE of them, see number_form), else a word with
    p ~ sqrt(count) (frequent words often, rare ones still seen) in one of the FORMS: " word" or
    "word" (40 % each), " Word" or "Word" (10 % each)."""
    rng = random.Random(seed)
    drawn = rng.choices([w for w, _ in words], weights=[math.sqrt(c) for _, c in words], k=rows)
    forms = rng.choices(FORMS, weights=[share for _, _, share in FORMS], k=rows)
    return [(number_form(rng) if rng.random() < NUMBER_SHARE
             else prefix + (word.capitalize() if capitalised else word)).encode()
            for word, (prefix, capitalised, _) in zip(drawn, forms, strict=True)]
