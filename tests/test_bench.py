import json
import os
import random

import pandas as pd
import pytest
import torch
import yaml

from conftest import FIXTURE_4K, TINY_PARAMS, run
from fsqtok.autoencoder.model import ByteAutoEncoder
from fsqtok.config import params_from_dict
from fsqtok.eval.bench import chunk_byte_accuracy
from fsqtok.eval.scale import perturbed, scaled_corpus
from fsqtok.eval.suite import speed_documents
from fsqtok.text.chunking import chunk_bytes
from fsqtok.tokenizers.baselines import BPETokenizer, WordTokenizer
from fsqtok.tokenizers.fsqtok import AutoEncoderTokenizer, PieceTokenizer
from fsqtok.tokenizers.loading import load_tokenizer
from fsqtok.tokenizers.multiword import MultiwordTokenizer
from fsqtok.tokenizers.unigram import UnigramTokenizer

TEXTS = ["In the beginning God created the heaven and the earth.", "Paris is the capital of France."] * 5


def test_bench_writes_a_well_formed_report(tmp_path):
    torch.manual_seed(0)
    params = params_from_dict({"autoencoder": {"conv_channels": [8, 8, 8], "deconv_channels": [8, 8, 8],
                                               "d_latent": 16, "decoder_hidden": 16}})
    model = ByteAutoEncoder(params.autoencoder, params.fsq.levels, 16)
    AutoEncoderTokenizer([b" the", b" of"], [1, 2], 16, model=model).save(tmp_path / "models/tokenizer")
    BPETokenizer.train(TEXTS, 300).save(tmp_path / "models/baselines/bpe")
    WordTokenizer.train(TEXTS, 270).save(tmp_path / "models/baselines/word")
    PieceTokenizer([b" the", b"ing"], 16).save(tmp_path / "models/baselines/fsqtok_noae")
    MultiwordTokenizer.train(TEXTS, 310, 290, 16, 3).save(tmp_path / "models/baselines/multiword")
    UnigramTokenizer.train(TEXTS, 300).save(tmp_path / "models/baselines/unigram")
    pd.DataFrame({"text": TEXTS}).to_parquet(tmp_path / "val.parquet")
    (tmp_path / "params.yaml").write_text("pretrain:\n  batch_size: 32\n")  # the auto-encoder trains as these say
    (tmp_path / "README.md").write_text("# x\n<!-- bench:start -->\nstale table\n<!-- bench:end -->\ntail\n")
    run(["fsqtok", "bench", "--split", "val.parquet", "--repeats", "1", "--max-bytes", "2000",
         "--large-bytes", "3000000"], tmp_path)
    report = json.loads((tmp_path / "reports/bench/metrics.json").read_text())
    assert set(report["tokenizers"]) == {"fsqtok", "fsqtok_noae", "bpe", "multiword", "unigram", "word", "byte",
                                        "tiktoken"}
    text = "\n".join(speed_documents(TEXTS, 2000))  # the text it timed: every tokenizer's own ids of it, counted
    assert report["text_bytes"] == len(text.encode()) == sum(len(t) + 1 for t in TEXTS) - 1  # all, joined by \n
    for name, path in [("fsqtok", "models/tokenizer"), ("bpe", "models/baselines/bpe"),
                       ("word", "models/baselines/word"), ("fsqtok_noae", "models/baselines/fsqtok_noae"),
                       ("multiword", "models/baselines/multiword"), ("unigram", "models/baselines/unigram"),
                       ("byte", "byte")]:
        tokenizer = load_tokenizer(tmp_path / path if path != "byte" else path)
        assert report["tokenizers"][name]["timed_tokens"] == len(tokenizer.encode(text)), name
    assert report["tokenizers"]["byte"]["timed_tokens"] == report["text_bytes"]
    tiktoken = report["tokenizers"]["tiktoken"]
    for row in report["tokenizers"].values():  # each ratio against tiktoken is of the same run's numbers
        for key in ("cold_encode_mb_s", "warm_encode_mb_s", "batch_encode_mb_s", "decode_mb_s"):
            assert row[f"{key}_vs_tiktoken"] == row[key] / tiktoken[key] and row[key] > 0
    assert report["tokenizers"]["bpe"]["timed_tokens"] == tiktoken["timed_tokens"]
    assert report["documents"] == len(TEXTS) and report["cpu"]["cores"] == os.cpu_count()
    assert report["cpu"]["torch_capability"] in {"DEFAULT", "AVX2", "AVX512", "NO AVX", "ZVECTOR", "VSX"}
    assert 0 < report["tokenizers"]["fsqtok"]["cold_start_s"] < 60
    assert 0 < report["tokenizers"]["fsqtok"]["resident_mb"] < 1000
    assert report["large_encode"]["bytes"] == 3_000_000
    assert report["tokenizers"]["fsqtok"]["resident_mb"] < report["large_encode"]["fsqtok_peak_mb"] < 1000
    ae = report["autoencoder"]
    assert ae["train_steps_per_s"] > 0 and ae["train_batch_size"] == 32 and ae["threads"] == 1
    assert ae["targets_ms"] == {"encode_chunk_ms": 0.5, "reconstruct_chunk_ms": 1.0}
    assert ae["encode_chunk_ms"] > 0 and ae["reconstruct_chunk_ms"] > ae["encode_chunk_ms"]
    assert ae["int8_speedup"] == ae["int8_encoder_chunks_per_s"] / ae["encoder_chunks_per_s"]
    assert 0 <= ae["int8_same_code"] <= 1 and ae["scored_chunks"] == len(chunk_bytes(text.encode(), 16))
    assert ae["int8_accuracy_change_points"] == pytest.approx(100 * (ae["int8_byte_accuracy"] - ae["byte_accuracy"]))
    assert "stale table" in (tmp_path / "README.md").read_text()  # the bench writes its report, not the README
    run(["fsqtok", "readme"], tmp_path)  # the README's table comes from the report, by one command
    readme = (tmp_path / "README.md").read_text()
    assert "nan" not in readme and "| tiktoken |" in readme
    fsqtok = report["tokenizers"]["fsqtok"]
    assert f"| fsqtok | {fsqtok['cold_encode_mb_s']:.1f} | {fsqtok['warm_encode_mb_s']:.1f} |" in readme
    assert "stale table" not in readme and readme.endswith("<!-- bench:end -->\ntail\n")


def test_chunk_byte_accuracy_counts_bytes_at_their_position():
    assert chunk_byte_accuracy([b"ab", b"x"], [b"ac", b"x"]) == 2 / 3
    assert chunk_byte_accuracy([b"abc", b""], [b"ab", b"xy"]) == 2 / 4  # extra bytes add nothing, missing ones count
    assert chunk_byte_accuracy([], []) == 0


def test_perturbed_copies_keep_length_and_make_new_words():
    rng = random.Random(0)
    text = "In the beginning God created the heaven and the earth. " * 20
    copy = perturbed(text, rng)
    assert len(copy) == len(text) and copy != text
    assert sorted(copy) == sorted(text)  # letters only swap places
    assert copy.split() != text.split() and all(len(w) < 4 or w[0] == v[0] and w[-1] == v[-1]
                                                for w, v in zip(copy.split(), text.split(), strict=True))
    frame = pd.DataFrame({"doc_id": ["a", "b"], "source": ["s", "s"], "text": [text, "odd"]})
    scaled = scaled_corpus(frame, 3, seed=0)
    assert list(scaled["doc_id"]) == ["a", "b", "a#1", "b#1", "a#2", "b#2"]
    assert scaled["text"][3] == "odd" and scaled["text"][2] != scaled["text"][4]


def test_bench_scale_writes_rows_exponents_and_a_plot(tmp_path):
    tiny = {"corpus": TINY_PARAMS["corpus"], "prune": TINY_PARAMS["prune"]}
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(tiny))
    run(["fsqtok", "bench-scale", "--factor", "1", "--factor", "2", "-t", str(FIXTURE_4K)], tmp_path)
    rows = pd.read_csv(tmp_path / "reports/bench/scale.csv")
    assert list(rows["step"]) == ["prepare", "split", "count", "select", "tokenize"] * 2
    assert list(rows["factor"]) == [1] * 5 + [2] * 5 and (rows["peak_mb"] > 0).all() and (rows["seconds"] > 0).all()
    small, large = rows["train_mb"].iloc[0], rows["train_mb"].iloc[-1]
    assert 1.5 * small < large < 2.5 * small  # the copies are new documents: the split draws them anew
    report = json.loads((tmp_path / "reports/bench/scale.json").read_text())
    assert set(report["time_exponent"]) == set(report["memory_exponent"]) == set(rows["step"])
    assert (tmp_path / "reports/bench/scale.png").stat().st_size > 10_000
    assert not (tmp_path / "data/scale").exists()  # the scaled corpora are scratch


def test_int8_activations_use_the_full_8_bits_where_vnni_allows():
    from fsqtok.autoencoder.quantize import full_range_qconfig

    activation, weight = full_range_qconfig().activation(), full_range_qconfig().weight()
    assert (activation.quant_min, activation.quant_max) == (0, 255)  # the default's reduce_range: 0..127
    assert weight.dtype == torch.qint8 and weight.qscheme == torch.per_channel_symmetric
