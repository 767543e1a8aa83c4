"""The Hugging Face export gives exactly fsqtok's ids, through `tokenizers` and `transformers`."""

import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from tokenizers import Tokenizer as HFTokenizer

from conftest import FIXTURE_4K, run, shipped_texts
from fsqtok.eval.bench import hf_batch_ids
from fsqtok.text.chunking import PRETOKEN, pretokenize
from fsqtok.tokenizers.base import validation_battery
from fsqtok.tokenizers.candidates import candidate_counts, select_candidates
from fsqtok.tokenizers.fsqtok import AutoEncoderTokenizer, PieceTokenizer
from fsqtok.tokenizers.hf import byte_level_pattern, byte_symbols, export_hf

TEXTS = ["In the beginning God created the heaven and the earth.\n\nAnd the earth was without form, and void;",
         "Café society's 1920s: naïve  résumés, 東京 and Zürich — \"quoted\" (parens) it's 3.14!\r\n\tTabbed.",
         "  leading spaces, trailing spaces   \n\n\nthree newlines, the end of the line of the day"] * 3


@pytest.fixture(scope="module")
def tokenizer():
    """Pieces as prune would pick them (whole chunks, pre-token runs like " of the", inner pieces
    and whitespace runs), without the auto-encoder: the export needs only the vocabulary."""
    chunks, joins = candidate_counts(TEXTS, 16)
    pieces = [p for p in select_candidates(chunks, joins, 400, min_count=1)]
    return AutoEncoderTokenizer(pieces, list(range(len(pieces))), 16)


@pytest.fixture(scope="module")
def exported(tokenizer, tmp_path_factory):
    return export_hf(tokenizer, tmp_path_factory.mktemp("hf"))


@settings(max_examples=300)
@given(st.lists(st.sampled_from([b" ", b"\n", b"  ", b"a", b"Z", b"1", b".", b"'s", b"'", b"\t", b"\xc3\xa9", b"\xff",
                                 b"a" * 40, b" " * 40, b"7" * 40, b"!" * 40, b"\r\n"]), max_size=10))
def test_byte_level_pattern_splits_like_pretokenize(parts):
    from tokenizers import Regex, pre_tokenizers

    data = b"".join(parts)
    symbol = byte_symbols()
    splitter = pre_tokenizers.Split(Regex(byte_level_pattern(PRETOKEN.pattern)), behavior="isolated")
    pieces = [piece for piece, _ in splitter.pre_tokenize_str("".join(symbol[b] for b in data))]
    assert pieces == ["".join(symbol[b] for b in token) for token in pretokenize(data)]


def test_export_has_joins_and_the_three_files(tokenizer, exported):
    assert sorted(p.name for p in exported.iterdir()) == ["special_tokens_map.json", "tokenizer.json",
                                                           "tokenizer_config.json"]
    hf = HFTokenizer.from_file(str(exported / "tokenizer.json"))
    assert hf.get_vocab_size() == tokenizer.vocab_size
    assert any(len(p.split()) > 1 for p in (q.decode() for q in tokenizer.vocab.pieces))  # " of the"-like pieces
    text = " ".join(TEXTS)
    assert hf.encode(text, add_special_tokens=False).ids == tokenizer.encode(text)
    assert json.loads((exported / "special_tokens_map.json").read_text())["bos_token"] == "<bos>"


TEXT_PARTS = st.one_of(
    st.text(max_size=30),
    st.sampled_from([" the", " of the", "\n\n", "   ", "\t", "\r\n", "'s", "'t", " 2024", "123", "!!", "—", "é",
                     "東京", "  the", " \n", "\u00a0", "\u2028", "a" * 40, " cafés", "<pad>", "<bos>"]),
)


@settings(max_examples=400)
@given(st.lists(TEXT_PARTS, max_size=12))
def test_hf_ids_equal_fsqtok_on_any_text(tokenizer, exported, parts):
    text = "".join(parts)
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:  # lone surrogates are not text either library accepts
        return
    hf = HFTokenizer.from_file(str(exported / "tokenizer.json"))
    ids = hf.encode(text, add_special_tokens=False).ids
    assert ids == tokenizer.encode(text)
    assert hf.decode(ids) == text


AB_PIECES = [b"ab", b"ba", b"aa", b"aab", b"abb", b"bab", b"abab", b"bbbb", b"aaaa"]  # a tie almost everywhere


@settings(max_examples=300)
@given(st.lists(st.sampled_from(["a", "b", "ab", "bb", "aaa", " ", " a", "x"]), max_size=14))
def test_hf_breaks_ties_as_fsqtok_does(tmp_path_factory, parts):
    tokenizer = AutoEncoderTokenizer(AB_PIECES, list(range(len(AB_PIECES))), 16)
    hf = HFTokenizer.from_file(str(export_hf(tokenizer, tmp_path_factory.mktemp("ab")) / "tokenizer.json"))
    text = "".join(parts)
    assert hf.encode(text, add_special_tokens=False).ids == tokenizer.encode(text)


def test_transformers_loads_the_export(tokenizer, exported):
    transformers = pytest.importorskip("transformers")
    auto = transformers.AutoTokenizer.from_pretrained(str(exported))
    fast = transformers.PreTrainedTokenizerFast(tokenizer_file=str(exported / "tokenizer.json"))
    text = TEXTS[1] + " <pad> and <eos> as text"
    expected = tokenizer.encode(text)
    assert auto(text, add_special_tokens=False)["input_ids"] == expected
    assert fast(text, add_special_tokens=False)["input_ids"] == expected
    assert (auto.pad_token_id, auto.bos_token_id, auto.eos_token_id) == (0, 1, 2)
    assert auto.decode(expected) == text


def test_cli_export(tokenizer, tmp_path):
    from fsqtok.autoencoder.model import ByteAutoEncoder
    from fsqtok.config import params_from_dict

    params = params_from_dict({"autoencoder": {"conv_channels": [8, 8, 8], "deconv_channels": [8, 8, 8],
                                               "d_latent": 16, "decoder_hidden": 16}})
    model = ByteAutoEncoder(params.autoencoder, params.fsq.levels, 16)
    AutoEncoderTokenizer(tokenizer.vocab.pieces, tokenizer.codes, 16, model=model).save(tmp_path / "tok")
    result = run(["fsqtok", "export-hf", "-t", "tok", "--out", "hf"], tmp_path)
    assert "wrote hf/tokenizer.json" in result.stdout
    hf = HFTokenizer.from_file(str(tmp_path / "hf/tokenizer.json"))
    assert hf.encode(TEXTS[0], add_special_tokens=False).ids == tokenizer.encode(TEXTS[0])


def test_export_of_a_real_4k_vocabulary_gives_fsqtok_ids(tmp_path):
    """The default run's 3,837 pieces (joins such as " of the" included), on text of both shipped
    corpora and on every text of the validation battery."""
    tokenizer = PieceTokenizer.load(FIXTURE_4K)
    hf = HFTokenizer.from_file(str(export_hf(tokenizer, tmp_path) / "tokenizer.json"))
    texts = shipped_texts(3, 100)
    texts += [data.decode() for data in validation_battery()[:10]]  # its texts; the rest are random bytes
    assert len(texts) > 100
    for text in texts:
        assert hf.encode(text, add_special_tokens=False).ids == tokenizer.encode(text), text[:60]
    assert hf_batch_ids(hf, texts) == tokenizer.encode_batch(texts)  # the ids-only batch that `make bench` times
    joined = "\n".join(texts)
    ids = tokenizer.encode(joined)
    assert hf.encode(joined, add_special_tokens=False).ids == ids and any(3 <= i < 259 for i in ids)  # fallback
    assert hf.encode("<bos>x", add_special_tokens=False).ids == tokenizer.encode("<bos>x")  # specials: text
    assert hf.token_to_id("<eos>") == 2
