from hypothesis import given
from hypothesis import strategies as st

from fsqtok.chunking import chunk_bytes, count_chunks, pretokenize, split_long


def test_pretokens_hand_computed():
    assert pretokenize(b"Hello, world  2024!") == [b"Hello", b",", b" world", b" ", b" 2024", b"!"]
    assert pretokenize(b"don't stop\n\nnow  x") == [b"don", b"'t", b" stop", b"\n", b"\n", b"now", b" ", b" x"]
    assert pretokenize("café 東京".encode()) == ["café".encode(), " 東京".encode()]


def test_split_long_and_chunks():
    assert split_long(b"abcdefg", 3) == [b"abc", b"def", b"g"]
    assert chunk_bytes(b" internationalization", 8) == [b" interna", b"tionaliz", b"ation"]
    assert count_chunks(["a a"], 16) == {b"a": 1, b" a": 1}


@given(st.binary(max_size=300), st.integers(1, 20))
def test_chunks_concatenate_back_to_any_bytes(data, max_bytes):
    chunks = chunk_bytes(data, max_bytes)
    assert b"".join(chunks) == data
    assert all(1 <= len(c) <= max_bytes for c in chunks)
