import math
import random
import re
from collections import Counter

import pytest

from fsqtok.text import lexicon
from fsqtok.text.corpus import CorpusError
from fsqtok.text.lexicon import english_words, lexicon_segments, number_form


def test_english_words_are_the_most_frequent_lowercase_words():
    words = english_words(20000, 16)
    assert len(words) == 20000 and words[0][0] == "the"
    counts = [c for _, c in words]
    assert counts == sorted(counts, reverse=True)
    assert all(w.isascii() and w.isalpha() and w.islower() and len(w) < 16 for w, _ in words)
    assert {"hello", "world", "quick", "brown", "fox", "test"} <= {w for w, _ in words}  # the seed's words
    assert all(len(w) < 5 for w, _ in english_words(200, 5))  # room for the leading space


def test_lexicon_segments_draw_words_by_sqrt_count_in_four_forms_and_numbers():
    segments = lexicon_segments([("hello", 100)], 10000, seed=0)
    numbers = [s for s in segments if re.fullmatch(rb" ?[0-9]+", s)]
    forms = Counter(s for s in segments if s not in numbers)
    assert len(numbers) / 10000 == pytest.approx(0.2, abs=0.02)  # NUMBER_SHARE
    assert set(forms) == {b"hello", b" hello", b"Hello", b" Hello"}
    assert forms[b" hello"] / forms.total() == pytest.approx(0.4, abs=0.03)  # lowercase forms 40 % each
    assert forms[b"Hello"] / forms.total() == pytest.approx(0.1, abs=0.03)  # capitalised ones 10 % each
    assert lexicon_segments([("a", 1), ("bb", 100)], 50, 7) == lexicon_segments([("a", 1), ("bb", 100)], 50, 7)
    drawn = Counter(s.strip().lower() for s in lexicon_segments([("a", 1), ("bb", 100)], 11000, seed=1))
    words = drawn[b"a"] + drawn[b"bb"]
    assert drawn[b"bb"] / words == pytest.approx(math.sqrt(100) / (1 + math.sqrt(100)), abs=0.01)  # 10/11


def test_numbers_have_one_to_four_digits_no_leading_zero_and_half_a_leading_space():
    rng = random.Random(0)
    numbers = [number_form(rng) for _ in range(8000)]
    assert all(re.fullmatch(r" ?(0|[1-9][0-9]{0,3})", n) for n in numbers)
    lengths = Counter(len(n.strip()) for n in numbers)
    assert sorted(lengths) == [1, 2, 3, 4] and all(c / 8000 == pytest.approx(0.25, abs=0.02) for c in lengths.values())
    assert sum(n.startswith(" ") for n in numbers) / 8000 == pytest.approx(0.5, abs=0.02)
    assert len({n.strip() for n in numbers if len(n.strip()) == 1}) == 10  # 0-9


def test_a_missing_word_list_says_what_to_do(monkeypatch):
    monkeypatch.setattr(lexicon, "LEXICON_PACKAGE", "no_such_package_fsqtok")
    with pytest.raises(CorpusError, match=r"^package 'no_such_package_fsqtok' is not installed; pip install "
                                          r"pyspellchecker, or set pretrain.lexicon_rate: 0$"):
        english_words(10, 16)
