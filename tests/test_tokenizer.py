
from functools import cache

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from conftest import FIXTURE_4K, shipped_texts
from fsqtok.errors import FsqtokError
from fsqtok.text.chunking import pretokenize
from fsqtok.tokenizers.base import validation_battery
from fsqtok.tokenizers.fsqtok import AutoEncoderTokenizer, PieceTokenizer
from fsqtok.tokenizers.vocab import ChunkVocabulary, shards

PIECES = [b" the", b" of", b" of the", b"ing", b" th", b"he", b" world"]


def tiny_tokenizer(pieces=PIECES):
    return AutoEncoderTokenizer(pieces, codes=list(range(100, 100 + len(pieces))), max_chunk_bytes=16)


def test_hand_built_vocabulary_gives_exact_ids():
    tok = tiny_tokenizer()
    # " of the" is one piece (259 + 2); " thing" -> " th" + "ing"; "he" inside "hello"; bytes otherwise
    assert tok.encode(" of the thing") == [261, 263, 262]
    assert tok.encode("hello world") == [264, 3 + ord("l"), 3 + ord("l"), 3 + ord("o"), 265]
    assert tok.encode(" of theology") == [260, 259] + [3 + b for b in b"ology"]
    assert tok.encode("x", add_bos=True, add_eos=True) == [1, 3 + ord("x"), 2]
    assert tok.decode([1, 261, 2]) == " of the"
    assert tok.decode([1, 261, 2], skip_special=False) == "<bos> of the<eos>"
    assert tok.decode_batch(tok.encode_batch(["a", " of the"], add_bos=True)) == ["a", " of the"]


def test_ids_layout_and_tables():
    tok = tiny_tokenizer()
    assert tok.vocab_size == 259 + len(PIECES)
    assert tok.special_ids == {"<pad>": 0, "<bos>": 1, "<eos>": 2}
    assert tok.token_to_id(" of the") == 261
    assert tok.token_to_id("A") == 3 + 65
    assert tok.token_to_id("<eos>") == 2
    assert tok.token_to_id("zzz") is None
    assert tok.id_to_token(261) == b" of the"
    assert tok.id_to_token(0) == "<pad>"
    with pytest.raises(FsqtokError, match=rf"token id 999 is out of range \[0, {tok.vocab_size}\) for fsqtok"):
        tok.id_to_token(999)
    with pytest.raises(FsqtokError, match="token id 999 is out of range"):
        tok.decode([999])
    with pytest.raises(FsqtokError, match="out of range"):
        tok.decode([-1])


def test_lone_surrogate_is_a_clear_error():
    with pytest.raises(FsqtokError, match="lone surrogate at index 1"):
        tiny_tokenizer().encode("a\ud800b")


def test_join_prefers_longest_run_of_whole_pretokens():
    vocab = ChunkVocabulary([b" a", b" a b", b" a b c"], 16)
    assert vocab.encode_bytes(b" a b c d") == [261, 3 + ord(" "), 3 + ord("d")]
    assert vocab.encode_bytes(b" a b") == [260]
    assert vocab.encode_bytes(b" a x") == [259, 3 + ord(" "), 3 + ord("x")]


def reference_cover(token: bytes, piece_id: dict) -> list[int]:
    """One pre-token in the fewest tokens, then the fewest byte tokens (a piece costs 128, a byte
    token 129); among those, the one whose last token starts earliest, and so on back to front."""

    @cache
    def best(end: int) -> tuple[int, tuple[int, ...]]:  # (cost, ids) of token[:end]
        if end == 0:
            return 0, ()
        options = []
        for start in range(end):
            piece = token[start:end]
            if len(piece) == 1:
                cost, token_id = 129, 3 + piece[0]
            elif piece in piece_id:
                cost, token_id = 128, piece_id[piece]
            else:
                continue
            before_cost, before_ids = best(start)
            options.append((before_cost + cost, start, before_ids + (token_id,)))
        cost, _, ids = min(options)
        return cost, ids

    return list(best(len(token))[1])


def reference_encode(pieces: list[bytes], data: bytes, max_bytes: int = 16) -> list[int]:
    """The encoding rule spelled out slowly: at each pre-token the longest run of >= 2 whole
    pre-tokens that is a piece wins; else the pre-token as reference_cover splits it. Pieces are
    at most max_bytes long."""
    piece_id = {p: 259 + i for i, p in enumerate(pieces) if 2 <= len(p) <= max_bytes}
    tokens, ids, i = pretokenize(data), [], 0
    while i < len(tokens):
        runs = [j for j in range(i + 2, min(len(tokens), i + max_bytes) + 1) if b"".join(tokens[i:j]) in piece_id]
        if runs:
            ids.append(piece_id[b"".join(tokens[i : runs[-1]])])
            i = runs[-1]
            continue
        ids += reference_cover(tokens[i], piece_id)
        i += 1
    return ids


# Joins whose last pre-token is a word, number, punctuation, "'", a contraction or whitespace
# (each needs its own end-of-pre-token rule in the encoder's regex), and whitespace pieces that
# split into two pre-tokens before a non-space.
TRICKY_PIECES = [b" of", b" of the", b"it's", b"x '", b" a'", b"a\n", b"a \n", b"b  ", b"1 2", b". ",
                 b".\n\n", b"..'", b" b.", b"\n a", b" \n", b"a\t", b"x 's", b"ab", b" 12 3", b"\n\n", b"  \n", b"\nx"]
FRAGMENTS = [b" ", b"\n", b"  ", b"'", b"s", b"t", b"a", b"b", b"x", b"1", b"2", b".", b"\t", b"\xe2",
             b"'s", b"\r\n", b"it", b"of", b"the", b"a" * 40, b" " * 33, b"\n" * 31, b"9" * 50, b"." * 70,
             *TRICKY_PIECES]  # the long runs cross the 64-byte cut of a pre-token


def test_a_pretoken_takes_the_fewest_tokens_then_the_fewest_bytes_then_the_earliest_last_token():
    vocab = ChunkVocabulary([b"ab", b"abc", b"cd", b"bcd", b"aa", b"aaa"], 16)  # ids 259-264
    assert vocab.encode_bytes(b"abcd") == [259, 261]  # ab cd: no byte token (a bcd and abc d have one)
    assert vocab.encode_bytes(b"abcdx") == [259, 261, 3 + ord("x")]  # longest prefix first: abc d x
    assert vocab.encode_bytes(b"aaaaa") == [263, 264]  # aa aaa, not aaa aa: the last token starts earliest


@settings(max_examples=1500)
@given(st.lists(st.sampled_from(FRAGMENTS), max_size=12))
def test_fast_encoder_follows_the_encoding_rule(fragments):
    data = b"".join(fragments)
    assert ChunkVocabulary(TRICKY_PIECES, 16).encode_bytes(data) == reference_encode(TRICKY_PIECES, data)


@settings(max_examples=300)
@given(st.binary(max_size=500))
def test_lossless_on_arbitrary_bytes(data):
    tok = tiny_tokenizer()
    ids = tok.encode_bytes(data)
    assert tok.decode_bytes(ids) == data
    assert all(3 <= i < tok.vocab_size for i in ids)


@settings(max_examples=300)
@given(st.text(max_size=300))
def test_lossless_on_arbitrary_text(text):
    tok = tiny_tokenizer()
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        with pytest.raises(FsqtokError):
            tok.encode(text)
        return
    assert tok.decode(tok.encode(text)) == text


@pytest.fixture(scope="module")
def real_documents() -> list[str]:
    return shipped_texts(5, 150)


def test_compiled_core_matches_the_rule_on_real_text_the_battery_and_noise(real_documents):
    tok = PieceTokenizer.load(FIXTURE_4K)
    pieces = tok.vocab.pieces
    assert tok.vocab_size == 4096 and any(len(pretokenize(p)) > 1 for p in pieces)  # joins included
    text = "\n".join(real_documents).encode()
    assert len(text) > 50_000
    ids = tok.encode_bytes(text)
    assert ids == reference_encode(pieces, text)
    assert tok.decode_bytes(ids) == text and len(text) / len(ids) > 3.0  # real compression
    assert any(3 <= i < 259 for i in ids)  # byte fallback occurs
    for data in validation_battery():
        assert tok.encode_bytes(data) == reference_encode(pieces, data)
    assert tok.vocab.encode_array(text).tolist() == ids


@settings(max_examples=300)
@given(st.binary(max_size=300))
def test_compiled_core_matches_the_rule_on_fuzzed_bytes(data):
    tok = PieceTokenizer.load(FIXTURE_4K)
    assert tok.encode_bytes(data) == reference_encode(tok.vocab.pieces, data)


def test_batches_on_threads_give_the_ids_of_single_calls(real_documents):
    tok = PieceTokenizer.load(FIXTURE_4K)
    docs = real_documents + ["", "\x00\xff ünï", "x"]
    single = [tok.encode(d) for d in docs]
    for threads in (None, 1, 2, 7):
        assert tok.encode_batch(docs, num_threads=threads) == single
        assert tok.decode_batch(single, num_threads=threads) == docs
    assert tok.encode_batch(docs[:2], add_bos=True, add_eos=True) == [[1, *single[0], 2], [1, *single[1], 2]]
    assert tok.encode_batch([]) == [] and tok.decode_batch([]) == []
    with pytest.raises(FsqtokError, match="lone surrogate"):
        tok.encode_batch(["ok", "a\ud800"], num_threads=2)


def test_shards_split_by_size_in_order():
    assert shards([5, 1, 1, 5], 2) == [range(0, 2), range(2, 4)]
    assert shards([1, 1, 1], 5) == [range(0, 1), range(1, 2), range(2, 3)]
    assert shards([9, 0, 0], 2) == [range(0, 1), range(1, 3)]


def test_decode_reads_any_integers_and_names_a_bad_id():
    tok = tiny_tokenizer()
    ids = tok.encode(" of the world")
    assert tok.decode(np.array(ids)) == tok.decode(tuple(ids)) == " of the world"
    assert tok.decode([np.int64(i) for i in ids]) == " of the world"
    for bad, message in ((True, "token id True is not an integer"), (2**70, f"token id {2**70} is out of range"),
                         (-5, "token id -5 is out of range"), (1.0, "token id 1.0 is not an integer")):
        with pytest.raises(FsqtokError, match=message):
            tok.decode([261, bad])
    assert tok.decode_bytes([0, 1, 2]) == b""  # specials decode to nothing
    with pytest.raises(ValueError, match=r"max_piece_bytes must be in \[1, 256\], got 300"):
        ChunkVocabulary([b"ab"], 300)
