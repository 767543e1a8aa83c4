import json
import random
from collections import Counter

import pytest
import torch
from fsqtok.tokenizers._core import PieceCore
from hypothesis import given, settings
from hypothesis import strategies as st

from fsqtok.autoencoder.codebook import codebook_stats
from fsqtok.autoencoder.data import chunk_tensor, pack_chunks, unpack_chunks
from fsqtok.autoencoder.infer import decode_indices, encode_chunks, spelled_back
from fsqtok.autoencoder.metrics import reconstruction_loss
from fsqtok.autoencoder.model import ByteAutoEncoder
from fsqtok.config import params_from_dict
from fsqtok.errors import FsqtokError
from fsqtok.store.bundle import BundleError, write_bundle
from fsqtok.tokenizers.base import validate
from fsqtok.tokenizers.baselines import BPETokenizer, ByteTokenizer, WordTokenizer
from fsqtok.tokenizers.candidates import bytes_saved, candidate_counts, inner_pieces, select_candidates
from fsqtok.tokenizers.fsqtok import AutoEncoderTokenizer
from fsqtok.tokenizers.loading import load_tokenizer
from fsqtok.tokenizers.select import prune

TEXTS = ["In the beginning God created the heaven and the earth.",
         "And the earth was without form, and void.", "Paris is the capital of France."] * 4


def test_candidates_hand_computed():
    chunks, joins = candidate_counts(["a b"], 16)
    assert chunks == {b"a": 1, b" b": 1}
    assert joins == {b"a b": 1}
    assert inner_pieces(Counter({b"abc": 2})) == {b"ab": 2, b"bc": 2}
    assert bytes_saved(Counter({b"ab": 3, b"x": 9})) == {b"ab": 3}
    picked = select_candidates(Counter({b" the": 5, b" a": 2, b"x": 9}), Counter({b" of the": 3}), 2)
    assert list(picked) == [b" of the", b" the"]


@pytest.fixture(scope="module")
def small_model():
    """A tiny auto-encoder trained until it reconstructs most chunks of TEXTS."""
    torch.manual_seed(0)
    params = params_from_dict({"autoencoder": {"conv_channels": [32, 32, 32], "deconv_channels": [32, 32, 32],
                                               "d_latent": 64, "decoder_hidden": 256}})
    model = ByteAutoEncoder(params.autoencoder, params.fsq.levels, 16)
    chunks = chunk_tensor(TEXTS, 16)
    optimizer = torch.optim.AdamW(model.parameters(), lr=3e-3)
    for _ in range(300):
        logits, positions = model(chunks, through_end=True)  # as pretraining trains it
        loss = reconstruction_loss(logits, chunks.reshape(-1)[positions], chunks.numel())
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    return model.eval()


def test_pruned_pieces_are_verified_fixed_points(small_model):
    chunks, joins = candidate_counts(TEXTS, 16)
    candidates = select_candidates(chunks, joins, 500, min_count=1)
    vocab = prune(small_model, candidates, 50, 256, " ".join(TEXTS).encode(), pool_size=500, keep=0.75)
    assert 10 <= len(vocab.pieces) == len(vocab.codes) <= 50
    assert len(set(vocab.pieces)) == len(vocab.pieces) and all(len(p) > 1 for p in vocab.pieces)
    assert encode_chunks(small_model, vocab.pieces).tolist() == vocab.codes
    assert decode_indices(small_model, torch.tensor(vocab.codes)) == vocab.pieces
    stats, per_code = codebook_stats(small_model, chunks, 256)
    assert stats.codebook_size == 4_096_000 and stats.distinct_chunks == len(chunks)
    assert sum(stats.rank_frequency) == sum(chunks.values()) == sum(per_code.values())


def test_table_ids_equal_neural_ids_where_reconstruction_is_exact(small_model, tmp_path):
    chunks, joins = candidate_counts(TEXTS, 16)
    vocab = prune(small_model, select_candidates(chunks, joins, 500, min_count=1), 100, 256, b"", 500, 0.75)
    tok = AutoEncoderTokenizer(vocab.pieces, vocab.codes, 16, model=small_model)
    exact = [c for c in set(chunks) | set(vocab.pieces) if tok.reconstruct_bytes(c) == c]
    checked = 0
    for chunk, code in zip(exact, tok.neural_codes(exact), strict=True):
        if code in tok.code_to_id:
            assert tok.encode_bytes(chunk) == [tok.code_to_id[code]]
            checked += 1
    assert checked >= len(vocab.pieces) > 0
    path = tok.save(tmp_path / "tok")
    loaded = AutoEncoderTokenizer.load(path)
    assert loaded.encode(" ".join(TEXTS)) == tok.encode(" ".join(TEXTS))
    assert loaded.reconstruct("the earth") == tok.reconstruct("the earth")
    (path / "vocab.json").write_text('{"pieces": ["zz"], "codes": [1]}')
    with pytest.raises(BundleError, match="vocab.json: SHA-256 differs from meta.json"):
        AutoEncoderTokenizer.load(path)
    config = json.loads((path / "config.json").read_text())  # a bundle written with a broken vocabulary
    write_bundle(path, "fsqtok.tokenizer", config, files={"vocab.json": b'{"pieces": ["zz"], "codes": [1]}'})
    with pytest.raises(BundleError, match="vocab.json: malformed vocabulary"):
        AutoEncoderTokenizer.load(path)


@pytest.fixture(scope="module")
def bpe():
    return BPETokenizer.train(TEXTS, 300)


def test_bpe_baseline(bpe, tmp_path):
    assert bpe.vocab_size == 300 and bpe.special_ids == {"<pad>": 0, "<bos>": 1, "<eos>": 2}
    assert bpe.decode_bytes(bpe.encode_bytes(b"bad \xff\xfe bytes \xe2\x82")) == b"bad \xff\xfe bytes \xe2\x82"
    assert len(bpe.encode("the earth")) < len("the earth")
    assert validate(bpe)["ok"], validate(bpe)["problems"]
    loaded = load_tokenizer(bpe.save(tmp_path / "bpe"))
    assert loaded.encode(TEXTS[0]) == bpe.encode(TEXTS[0])


def test_word_and_byte_baselines(tmp_path):
    word = WordTokenizer.train(["the cat, the dog  the"], 262)
    assert word.words == [b"the", b"cat", b"dog"]  # top-k by frequency; single bytes already have ids
    assert word.encode("the  cat") == [259, 3 + 32, 3 + 32, 260]  # "  " is not in the vocabulary
    assert load_tokenizer(word.save(tmp_path / "word")).encode("the cat") == word.encode("the cat")
    assert ByteTokenizer().encode("hi") == [107, 108]
    for tok in (word, ByteTokenizer()):
        assert validate(tok)["ok"]


def test_baselines_reject_ids_outside_their_table(bpe):
    for tok in (bpe, ByteTokenizer(), WordTokenizer([b"the"])):
        assert tok.decode_bytes([tok.vocab_size - 1]) == tok.decode_bytes([tok.vocab_size - 1, 0, 1, 2])
        for bad in (-1, tok.vocab_size):
            with pytest.raises(FsqtokError, match=f"token id {bad!r} is out of range \\[0, {tok.vocab_size}\\) "
                                                  f"for {tok.name}"):
                tok.decode_bytes([3, bad])
        with pytest.raises(FsqtokError, match="token id '3' is not an integer"):
            tok.decode_bytes([3, "3"])


@settings(max_examples=100)
@given(st.binary(max_size=200))
def test_baselines_lossless_on_any_bytes(bpe, data):
    for tok in (bpe, ByteTokenizer(), WordTokenizer([b"the", b" a"])):
        assert tok.decode_bytes(tok.encode_bytes(data)) == data


def test_one_teacher_forced_pass_tells_which_chunks_greedy_spelling_gives_back(small_model):
    seen = [c for t in TEXTS[:3] for c in candidate_counts([t], 16)[0]]  # words, runs, inner pieces
    chunks = seen + [b" zebra", b"quixotic", b" 1987", b"Zz", b"\xff\xfe", b"0123456789abcdef"]  # not trained on
    codes = encode_chunks(small_model, chunks)
    spelled = decode_indices(small_model, codes)  # greedy, position by position
    assert spelled_back(small_model, chunks, codes, 7) == [s == c for s, c in zip(spelled, chunks, strict=True)]
    assert 0 < sum(s == c for s, c in zip(spelled, chunks, strict=True)) < len(chunks)  # both kinds occur
    assert spelled_back(small_model, spelled, codes, 7) == [True] * len(chunks)
    off_by_one_byte = [s[:-1] + bytes([s[-1] ^ 1]) if s else b"x" for s in spelled]
    assert spelled_back(small_model, off_by_one_byte, codes, 7) == [False] * len(chunks)


def test_encode_and_decode_run_each_distinct_chunk_once_with_the_same_results(small_model):
    chunks = [b" the", b"hello", b" the", b"", b"hello", b" zebra", b" the"]
    with torch.no_grad():
        one_by_one = [int(small_model.encode(pack_chunks([c], 16))[1]) for c in chunks]
    codes = encode_chunks(small_model, chunks, batch_size=2)
    assert codes.tolist() == one_by_one and encode_chunks(small_model, []).tolist() == []
    indices = torch.tensor([7, 123456, 7, 4095999, 123456])
    with torch.no_grad():
        alone = [unpack_chunks(small_model.decode(small_model.fsq.indices_to_codes(i[None])).argmax(-1))[0]
                 for i in indices]
    assert decode_indices(small_model, indices, batch_size=2) == alone


def test_pieces_longer_than_a_chunk_count_as_not_verified(small_model):
    from fsqtok.stages.prune import pieces_verified

    class Pieces:  # a BPE-like vocabulary: the specials, the 256 bytes, then these pieces
        pieces = [p for p in candidate_counts(TEXTS[:1], 16)[0] if len(p) > 1][:4] + [b" the heaven and the earth"]
        vocab_size = 259 + len(pieces)

        def decode_bytes(self, ids):
            return self.pieces[ids[0] - 259]

    fitting = Pieces.pieces[:4]
    verified = sum(s == c for s, c in zip(decode_indices(small_model, encode_chunks(small_model, fitting)), fitting,
                                                   strict=True))
    assert pieces_verified(small_model, Pieces(), 64) == verified / 5 and verified > 0


def reference_tokens_without(piece: bytes, pieces: set[bytes]) -> int:
    """Fewest tokens (other pieces, single bytes) that spell `piece`, by brute force over its
    substrings: the core's `tokens_without` must agree."""
    fewest = [0] + [len(piece)] * len(piece)  # fewest[e]: tokens for piece[:e]
    for start in range(len(piece)):
        for end in range(start + 1, len(piece) + 1):
            if end == start + 1 or (end - start < len(piece) and piece[start:end] in pieces):
                fewest[end] = min(fewest[end], fewest[start] + 1)
    return fewest[-1]


def test_tokens_without_a_piece_is_its_fewest_tokens_by_the_others():
    pieces = [b"abcd", b"ab", b"cd", b"bcd", b"abc", b"cde", b"abcde", b"xyz"]
    # b"ab" + b"cd" (never b"abcd" itself); b"a" + b"b"; ...; b"ab" + b"cde" (the longest prefix
    # first would take 3); b"x" + b"y" + b"z"
    assert PieceCore(pieces, 16).tokens_without() == [2, 2, 2, 2, 2, 2, 2, 3]
    rng = random.Random(0)
    for _ in range(20):  # random vocabularies over a small alphabet, so pieces overlap a lot
        pool = {bytes(rng.choice(b"ab c") for _ in range(rng.randint(2, 8))) for _ in range(60)}
        pieces = sorted(pool)
        assert PieceCore(pieces, 8).tokens_without() == [reference_tokens_without(p, pool) for p in pieces]


def test_shrink_keeps_the_pieces_whose_removal_costs_most():
    from fsqtok.tokenizers.select import shrink

    assert shrink([b"ab", b"abc", b"zz"], 1, b"abcabc", max_bytes=16, keep=0.5) == [b"abc"]
    # b" the": 3 uses x 1 more token without it (b" th" + b"e"); b" cat": 1 use x 2 more
    # (b" " + b"c" + b"at"); b" th" and b"at" are never used while b" the" and b" cat" exist
    sample = b" the the the cat"
    assert shrink([b" th", b" the", b" cat", b"at"], 2, sample, max_bytes=16, keep=0.5) == [b" the", b" cat"]
    assert shrink([b" th", b" the"], 5, sample, max_bytes=16, keep=0.5) == [b" th", b" the"]  # already small


def test_shrink_drops_every_unused_piece_in_one_round(monkeypatch):
    import fsqtok.tokenizers.select as select

    rounds = []
    monkeypatch.setattr(select, "PieceCore", lambda pieces, max_bytes: rounds.append(len(pieces))
                        or PieceCore(pieces, max_bytes))
    junk = [bytes([120, 65 + i]) for i in range(40)]  # b"xA", b"xB", ...: never in the sample
    pool = junk[:20] + [b" the", b" cat"] + junk[20:]
    assert select.shrink(pool, 2, b" the the the cat", max_bytes=16, keep=0.99) == [b" the", b" cat"]
    assert rounds == [42]  # keep=0.99 alone would take 42 -> 41 -> ... one piece a round


def naive_merges(documents, id_bytes, n_merges, max_bytes, max_pretokens):
    """Reference stage 2: recount every pair each round, merge the most frequent (ties: smaller
    pair), rewrite each document left to right. Returns (merges, documents after them)."""
    from fsqtok.text.chunking import pretokenize

    documents, id_bytes, merges = [list(d) for d in documents], list(id_bytes), []
    for _ in range(n_merges):
        counts = Counter((a, b) for d in documents for a, b in zip(d, d[1:], strict=False)
                         if len(id_bytes[a] + id_bytes[b]) <= max_bytes
                         and len(pretokenize(id_bytes[a] + id_bytes[b])) <= max_pretokens)
        if not counts:
            break
        best = min(counts, key=lambda pair: (-counts[pair], pair))
        merges.append(best)
        id_bytes.append(id_bytes[best[0]] + id_bytes[best[1]])
        for d in documents:
            out, i = [], 0
            while i < len(d):
                if tuple(d[i : i + 2]) == best:
                    out.append(len(id_bytes) - 1)
                    i += 2
                else:
                    out.append(d[i])
                    i += 1
            d[:] = out
    return merges, documents


def test_multiword_merges_match_a_naive_recount():
    import random

    from fsqtok.tokenizers._merges import MergeTable

    from fsqtok.tokenizers.base import id_table
    from fsqtok.tokenizers.multiword import learn_merges

    rng = random.Random(0)
    words = [b" the", b" of", b"a", b"b", b" c", b"aa", b".", b"\n", b"'s", b"  ", b"\xe2\x80\x94", b"42"]
    for trial in range(100):
        texts = [b"".join(rng.choice(words) for _ in range(rng.randrange(1, 40))) for _ in range(rng.randrange(1, 5))]
        documents = [[3 + b for b in text] for text in texts]
        n_merges, max_bytes, max_pretokens = (15, 8, 2) if trial % 2 else (40, 6, 3)
        merges = learn_merges(documents, id_table([]), n_merges, max_bytes, max_pretokens)
        expected, merged = naive_merges(documents, id_table([]), n_merges, max_bytes, max_pretokens)
        assert merges == expected
        assert [MergeTable(merges, 259).apply(d) for d in documents] == merged
    assert learn_merges([[3 + b for b in b" of the of the"]], id_table([]), 99, 16, 1)[:1] == [(35, 114)]  # " o"
    assert learn_merges([[3, 4], [5, 6]], id_table([]), 9, 16, 3) == [(3, 4), (5, 6)]  # none spans two documents
    table = id_table([])
    for a, b in learn_merges([[3 + b for b in b" of the of the"]], id_table([]), 99, 3, 3):
        table.append(table[a] + table[b])
    assert max(map(len, table)) == 3  # the byte cap holds
    assert MergeTable([(3, 4), (259, 5)], 259).apply([3, 4, 5, 3, 4, 3]) == [260, 259, 3]  # rank order, leftmost


def test_multiword_tokenizer_joins_pretokens_and_is_lossless(tmp_path):
    from fsqtok.tokenizers.multiword import MultiwordTokenizer

    texts = ["the cat sat on the mat. " * 3, "of the people, by the people, for the people"] * 5
    tok = MultiwordTokenizer.train(texts, 290, 270, 16, 3)
    assert (tok.vocab_size, tok.first_merge_id) == (289, 270)  # stage 2 runs out of pairs one short
    stage2 = [tok.decode_bytes([i]) for i in range(270, 289)]
    assert stage2[:4] == [b" the ", b"sat", b" on", b" sat"] and b" the mat." in stage2  # across pre-tokens
    assert all(len(p) <= 16 for p in stage2)
    ids = tok.encode(" of the people")
    assert len(ids) < len(tok.stage1.encode(" of the people")) and tok.decode(ids) == " of the people"
    assert validate(tok)["ok"], validate(tok)["problems"]  # invalid UTF-8 included
    loaded = load_tokenizer(tok.save(tmp_path / "multiword"))
    assert loaded.encode(texts[1]) == tok.encode(texts[1])
    (tmp_path / "multiword" / "merges.json").write_text("[[1, 2]]")
    with pytest.raises(BundleError, match="merges.json: SHA-256 differs from meta.json"):
        load_tokenizer(tmp_path / "multiword")


def test_unigram_baseline_is_lossless_with_fsqtok_ids(tmp_path):
    from fsqtok.tokenizers.unigram import UnigramTokenizer

    texts = [f"In the beginning {i} God created the heaven and the earth.\nAnd the earth was void." for i in range(40)]
    tok = UnigramTokenizer.train(texts, 320)
    assert 259 < tok.vocab_size <= 320 and tok.decode_bytes([3 + 65]) == b"A"
    ids = tok.encode(" the earth")
    assert all(i >= 259 for i in ids) and tok.decode(ids) == " the earth"  # learned pieces, spaces kept
    tricky = "a\u2581b  c\n\n\t".encode() + b"\xff\xfe"  # SentencePiece's own space mark, runs of spaces
    assert tok.decode_bytes(tok.encode_bytes(tricky)) == tricky
    assert tok.encode_bytes("\u2581".encode()) == [3 + 0xE2, 3 + 0x96, 3 + 0x81]
    assert validate(tok)["ok"], validate(tok)["problems"]
    small = UnigramTokenizer.train(texts, 290)  # too few ids for all 31 characters: rare ones go to bytes
    assert small.vocab_size == 290 and small.decode(small.encode(texts[0])) == texts[0]
    with pytest.raises(FsqtokError, match="a vocabulary of 262 ids cannot hold the text's characters"):
        UnigramTokenizer.train(texts, 262)
    loaded = load_tokenizer(tok.save(tmp_path / "unigram"))
    assert loaded.encode(texts[3]) == tok.encode(texts[3])
    config = json.loads((tmp_path / "unigram/config.json").read_text())
    write_bundle(tmp_path / "unigram", "fsqtok.unigram", config, files={"unigram.model": b"not a model"})
    with pytest.raises(BundleError, match="unigram.model: not a SentencePiece model"):
        load_tokenizer(tmp_path / "unigram")


@settings(max_examples=50)
@given(st.binary(max_size=120))
def test_new_baselines_lossless_on_any_bytes(unigram_and_multiword, data):
    for tok in unigram_and_multiword:
        assert tok.decode_bytes(tok.encode_bytes(data)) == data


@pytest.fixture(scope="module")
def unigram_and_multiword():
    from fsqtok.tokenizers.multiword import MultiwordTokenizer
    from fsqtok.tokenizers.unigram import UnigramTokenizer

    return UnigramTokenizer.train(TEXTS * 3, 300), MultiwordTokenizer.train(TEXTS, 300, 280, 16, 3)


def test_piece_tokenizer_bundle_round_trip(tmp_path):
    from fsqtok.tokenizers.fsqtok import PieceTokenizer

    tok = PieceTokenizer([b" the", b" of the", b"ing"], 16)
    assert tok.encode(" of the the thing") == [260, 259, *(3 + b for b in b" th"), 261]
    loaded = load_tokenizer(tok.save(tmp_path / "noae"))
    assert (type(loaded), loaded.name, loaded.vocab.pieces) == (PieceTokenizer, "fsqtok_noae", tok.vocab.pieces)
    assert validate(loaded)["ok"], validate(loaded)["problems"]
    (tmp_path / "noae" / "vocab.json").write_text('{"pieces": ["zz"]}')
    with pytest.raises(BundleError, match="vocab.json: SHA-256 differs from meta.json"):
        load_tokenizer(tmp_path / "noae")


def test_lossless_path_imports_neither_torch_nor_pandas(small_model, tmp_path):
    import subprocess
    import sys

    path = AutoEncoderTokenizer([b" the"], [7], 16, model=small_model).save(tmp_path / "tok")
    probe = ("import sys; from fsqtok import AutoEncoderTokenizer; t = AutoEncoderTokenizer.load(sys.argv[1]); "
             "assert t.decode(t.encode(' the end')) == ' the end'; "
             "print(sorted(m for m in ('torch', 'pandas', 'mlflow') if m in sys.modules))")
    result = subprocess.run([sys.executable, "-c", probe, str(path)], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "[]"


def wordpiece_file(path):
    """A lossy HF tokenizer: lowercases, drops spaces, unknown words become [UNK]."""
    from tokenizers import Tokenizer as HFTokenizer
    from tokenizers import models, normalizers, pre_tokenizers, trainers

    hf = HFTokenizer(models.WordPiece(unk_token="[UNK]"))
    hf.normalizer = normalizers.Lowercase()
    hf.pre_tokenizer = pre_tokenizers.Whitespace()
    hf.train_from_iterator(TEXTS, trainers.WordPieceTrainer(vocab_size=120, special_tokens=["[UNK]"]))
    hf.enable_truncation(2)  # and a file may ask to cut every encoding short
    hf.save(str(path))
    return hf


def test_extra_tokenizer_file_keeps_exact_tokens_and_spells_the_rest(bpe, tmp_path):
    from fsqtok.tokenizers.extra import ExtraTokenizer

    bpe.hf.save(str(tmp_path / "gpt.json"))  # byte-level: every token spells its text exactly
    extra = load_tokenizer(tmp_path / "gpt.json")
    assert (type(extra), extra.name, extra.vocab_size) == (ExtraTokenizer, "gpt", 259 + 300)
    for text in [*TEXTS[:3], "unseen words: Zanzibar 2024 ☃"]:
        assert extra.encode(text) == [259 + i for i in bpe.encode(text)]
    hf = wordpiece_file(tmp_path / "wp.json")
    wp = ExtraTokenizer.from_file(tmp_path / "wp.json")
    # "the" is the text it covers; "The" lowercases to it, so it is spelled; spaces are dropped
    # by the pre-tokenizer, so they are byte tokens; "Qz" is [UNK]
    the, earth = (259 + hf.token_to_id(w) for w in ("the", "earth"))
    assert wp.encode("the The earth Qz") == [the, 3 + 32, *(3 + b for b in b"The"), 3 + 32, earth, 3 + 32,
                                            3 + ord("Q"), 3 + ord("z")]
    for tok in (extra, wp):
        assert validate(tok)["ok"], validate(tok)["problems"]


def test_extra_tokenizer_reads_sentencepiece_spaces_and_byte_fallback(tmp_path):
    from tokenizers import Tokenizer as HFTokenizer
    from tokenizers import decoders, models, pre_tokenizers

    from fsqtok.tokenizers.extra import ExtraTokenizer

    hf = HFTokenizer(models.Unigram([("<unk>", 0.0), ("\u2581the", -1.0), ("\u2581cat", -1.0), ("<0x21>", -5.0),
                                     *((c, -3.0) for c in "\u2581thecaxyz")], unk_id=0, byte_fallback=True))
    hf.pre_tokenizer = pre_tokenizers.Metaspace(prepend_scheme="first")
    hf.decoder = decoders.Metaspace(prepend_scheme="first")
    hf.save(str(tmp_path / "sp.json"))
    sp = ExtraTokenizer.from_file(tmp_path / "sp.json")
    assert sp.token_bytes[1:4] == [b" the", b" cat", b"!"]
    # the text's first word gets a "▁" it does not have, so its token is not exact: spelled
    assert sp.encode("cat the cat!") == [*(3 + b for b in b"cat"), 259 + 1, 259 + 2, 259 + 3]
    assert validate(sp)["ok"], validate(sp)["problems"]


def test_extra_tokenizer_errors_name_the_file(tmp_path):
    from fsqtok.tokenizers.extra import ExtraTokenizer

    with pytest.raises(BundleError, match=r"nope.json: no such tokenizer file \(baseline.extra lists HF"):
        ExtraTokenizer.from_file(tmp_path / "nope.json")
    (tmp_path / "bad.json").write_text("{")
    with pytest.raises(BundleError, match=r"bad.json: not a HF tokenizer file"):
        load_tokenizer(tmp_path / "bad.json")
