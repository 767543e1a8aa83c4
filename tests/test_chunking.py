from hypothesis import given
from hypothesis import strategies as st

from fsqtok.text.chunking import chunk_bytes, pretokenize, split_long


def test_pretokens_hand_computed():
    assert pretokenize(b"Hello, world  2024!") == [b"Hello", b",", b" world", b" ", b" 2024", b"!"]
    assert pretokenize(b"don't stop\n\nnow  x") == [b"don", b"'t", b" stop", b"\n", b"\n", b"now", b" ", b" x"]
    assert pretokenize("café 東京".encode()) == ["café".encode(), " 東京".encode()]
    # runs are cut every 64 bytes; a cut whitespace run still leaves its last space to the word
    assert [len(t) for t in pretokenize(b"a" * 130 + b" " + b"\n" * 66 + b"x")] == [64, 64, 2, 64, 2, 1, 1]
    assert pretokenize(b" " + b"b" * 70) == [b" " + b"b" * 64, b"b" * 6]


def test_split_long_and_chunks():
    assert split_long(b"abcdefg", 3) == [b"abc", b"def", b"g"]
    assert chunk_bytes(b" internationalization", 8) == [b" interna", b"tionaliz", b"ation"]


@given(st.binary(max_size=300), st.integers(1, 20))
def test_chunks_concatenate_back_to_any_bytes(data, max_bytes):
    chunks = chunk_bytes(data, max_bytes)
    assert b"".join(chunks) == data
    assert all(1 <= len(c) <= max_bytes for c in chunks)


@given(st.binary(max_size=300), st.integers(0, 10), st.floats(0, 0.5), st.floats(0, 0.5))
def test_training_segments_cover_the_bytes(data, seed, join_rate, split_rate):
    import random

    from fsqtok.text.chunking import training_segments

    segments = training_segments(data, 16, random.Random(seed), join_rate, split_rate)
    assert b"".join(segments) == data
    assert all(1 <= len(s) <= 16 for s in segments)


def test_training_segments_mix_joins_and_pieces():
    import random

    from fsqtok.text.chunking import training_segments

    text = b" and the earth and the heaven and the waters" * 50
    segments = training_segments(text, 16, random.Random(0), 0.3, 0.3)
    assert b" and the" in segments  # a run of two pre-tokens
    assert any(len(pretokenize(s)) == 1 and s not in pretokenize(text) for s in segments)  # a piece
    assert training_segments(text, 16, random.Random(0), 0.0, 0.0) == chunk_bytes(text, 16)
