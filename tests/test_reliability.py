"""Nothing stale, nothing hangs, nothing silently wrong: each test reproduces a reported failure.

1 changed data or code retrains; 2 empty inputs stop with one line; 3 non-text is refused;
4 corrupt bundles are caught; 5 a diverged run fails; 6 encode memory is bounded; 7 one-line
errors instead of tracebacks; 8 checkpoints resume from what they hold.
"""

import hashlib
import json
import random
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
import yaml

from conftest import run
from fsqtok.autoencoder.data import ChunkStream
from fsqtok.autoencoder.model import ByteAutoEncoder
from fsqtok.config import ConfigError, load_params, params_from_dict
from fsqtok.errors import FsqtokError
from fsqtok.stages.pretrain import run_pretrain
from fsqtok.store.bundle import BundleError, verify_bundle, write_bundle
from fsqtok.store.checkpoint import Checkpointer, load_checkpoint
from fsqtok.store.provenance import source_digest
from fsqtok.store.tracking import Tracker
from fsqtok.text.corpus import CorpusError, build_corpus
from fsqtok.tokenizers.baselines import ByteTokenizer
from fsqtok.tokenizers.fsqtok import AutoEncoderTokenizer, PieceTokenizer
from fsqtok.tokenizers.vocab import ChunkVocabulary

TEXTS = ["In the beginning God created the heaven and the earth.", "And the earth was without form, and void."]


def write_split(split_dir: Path, train: list[str], val: list[str], pieces=(b" the", b" and")) -> None:
    """The split and, beside it, the fsqtok_noae bundle whose pieces pretrain teaches."""
    split_dir.mkdir(parents=True, exist_ok=True)
    for name, texts in (("train", train), ("val", val)):
        pd.DataFrame({"text": texts}).to_parquet(split_dir / f"{name}.parquet")
    PieceTokenizer(list(pieces), 16).save(split_dir.parent / "noae")


def pretrain(params, tmp_path, capsys, **kwargs):
    summary = run_pretrain(params, tmp_path / "split", tmp_path / "noae", tmp_path / "ae", tmp_path / "ckpt",
                           tmp_path / "rep", Tracker(), **kwargs)
    return summary, capsys.readouterr().out


# 1. Changed data or training code never resumes the old model.
def test_reliability_changed_data_or_code_starts_fresh(tiny_params, tmp_path, capsys, monkeypatch):
    params = params_from_dict(tiny_params)
    write_split(tmp_path / "split", TEXTS * 3, TEXTS)
    first, _ = pretrain(params, tmp_path, capsys)
    again, out = pretrain(params, tmp_path, capsys)
    assert "resumed from" in out and "at step 6" in out and again["steps"] == 6
    write_split(tmp_path / "split", ["Other words entirely, and more of them."] * 6, TEXTS)
    _, out = pretrain(params, tmp_path, capsys)
    assert "resumed" not in out and "no checkpoint of this data, code and params" in out
    write_split(tmp_path / "split", ["Other words entirely, and more of them."] * 6, TEXTS, [b" words", b" more"])
    _, out = pretrain(params, tmp_path, capsys)  # other pieces to learn
    assert "resumed" not in out and "no checkpoint of this data, code and params" in out
    monkeypatch.setattr("fsqtok.store.provenance.source_digest", lambda *packages: "changed code")
    _, out = pretrain(params, tmp_path, capsys)
    assert "resumed" not in out and "starting at step 0" in out
    assert len(list((tmp_path / "ckpt").iterdir())) == 4  # one folder per data + code + params key


def test_reliability_a_checkpoint_key_can_cover_one_module():
    # the flow's key covers lm/model.py (its attention) without the rest of the LM code
    import fsqtok
    module = Path(fsqtok.__file__).parent / "lm" / "model.py"
    expected = hashlib.sha256(b"lm/model.py\0" + module.read_bytes()).hexdigest()[:12]
    assert source_digest("lm/model.py") == expected != source_digest("lm")


# 2. Empty inputs stop at once with one line (the empty stream used to loop forever).
def test_reliability_empty_train_stream_does_not_hang():
    code = ("import torch\nfrom fsqtok.autoencoder.data import ChunkStream\n"
            "ChunkStream(torch.empty(0, 16, dtype=torch.int64), 0).next_batch(4)")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert result.returncode != 0 and "the train split has 0 chunks to train on" in result.stderr
    with pytest.raises(FsqtokError, match="0 chunks"):
        ChunkStream(torch.empty(0, 16, dtype=torch.int64), 0)


def test_reliability_pieces_of_another_chunk_size_are_one_line(tiny_params, tmp_path, capsys):
    write_split(tmp_path / "split", TEXTS * 3, TEXTS)
    PieceTokenizer([b" the"], 8).save(tmp_path / "noae")  # a baseline_eval of chunking.max_chunk_bytes 8
    with pytest.raises(FsqtokError, match=r"noae: pieces of up to 8 bytes, but chunking.max_chunk_bytes is 16; "
                                          r"re-run baseline_eval \(dvc repro\)$"):
        pretrain(params_from_dict(tiny_params), tmp_path, capsys)


def test_reliability_empty_val_and_empty_corpus_are_one_line(tiny_params, tmp_path, capsys):
    write_split(tmp_path / "split", TEXTS, [])
    with pytest.raises(FsqtokError, match=r"pretrain: the val split \(.*val.parquet\) has 0 chunks"):
        pretrain(params_from_dict(tiny_params), tmp_path, capsys)
    (tmp_path / "blank.txt").write_text("  \n\n")
    config = params_from_dict({"corpus": {"sources": [{"kind": "text_files", "path": str(tmp_path / "*.txt")}]}})
    with pytest.raises(CorpusError, match="prepare_corpus: the sources gave 0 documents"):
        build_corpus(config.corpus)


def test_reliability_split_refuses_an_empty_split(pipeline_repo, tiny_params):
    params = {**tiny_params, "split": {"val_fraction": 0.001, "test_fraction": 0.5, "seed": 0}}
    (pipeline_repo / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    run(["python", "pipeline/prepare_corpus.py"], pipeline_repo)
    result = run(["python", "pipeline/split.py"], pipeline_repo, check=False)
    assert result.returncode == 2
    assert result.stderr.strip() == ("error: split: the val split has 0 of 36 documents; "
                                     "raise split.val_fraction or add documents")


# 3. Only strings become documents; odd bytes in files and file names are kept or replaced, counted.
@pytest.mark.parametrize(("line", "message"), [
    ('{"text": null}', "line 2: the text field holds NoneType, not a string"),
    ('{"text": 12345}', "line 2: the text field holds int, not a string"),
    ('{"text": ["a", "b"]}', "line 2: the text field holds list, not a string"),
    ("12345", "line 2 is a JSON int, not an object"),
    ('"just a string"', "line 2 is a JSON str, not an object"),
])
def test_reliability_jsonl_non_text_is_an_error(tmp_path, line, message):
    (tmp_path / "d.jsonl").write_text('{"text": "fine"}\n' + line + "\n")
    config = params_from_dict({"corpus": {"sources": [{"kind": "jsonl", "path": str(tmp_path / "d.jsonl")}]}})
    with pytest.raises(CorpusError, match=f"d.jsonl: {message}"):
        build_corpus(config.corpus)


@pytest.mark.parametrize("column", [["ok", None], ["ok", float("nan")], [1, 2]])
def test_reliability_parquet_non_text_is_an_error(tmp_path, column):
    pd.DataFrame({"text": column}).to_parquet(tmp_path / "d.parquet")
    config = params_from_dict({"corpus": {"sources": [{"kind": "parquet", "path": str(tmp_path / "d.parquet")}]}})
    with pytest.raises(CorpusError, match=r"d.parquet: row \d: the text field holds \w+, not a string"):
        build_corpus(config.corpus)


def test_reliability_invalid_utf8_jsonl_and_odd_file_names(tmp_path):
    (tmp_path / "d.jsonl").write_bytes(b'{"text": "caf\xe9 ok"}\n')
    odd = tmp_path / "na\udcffme.txt"  # the byte 0xff in a file name, as Python spells it
    odd.write_bytes(b"text in an oddly named file")
    config = params_from_dict({"corpus": {"sources": [{"kind": "jsonl", "path": str(tmp_path / "d.jsonl")},
                                                      {"kind": "text_files", "path": str(tmp_path / "*.txt")}]}})
    documents, stats = build_corpus(config.corpus)
    assert list(documents["text"]) == ["caf\ufffd ok", "text in an oddly named file"]
    assert stats.invalid_utf8_replaced == 1
    assert documents["doc_id"].iloc[1].endswith("na\ufffdme.txt")
    documents.to_parquet(tmp_path / "out.parquet")  # doc ids are valid text


# 4. Corrupt bundles are caught: small files at load, weights at first use and by validate.
@pytest.fixture
def tokenizer_bundle(tmp_path):
    params = params_from_dict({"autoencoder": {"conv_channels": [8, 8, 8], "deconv_channels": [8, 8, 8],
                                               "d_latent": 16, "decoder_hidden": 16}})
    torch.manual_seed(0)
    model = ByteAutoEncoder(params.autoencoder, params.fsq.levels, 16)
    return AutoEncoderTokenizer([b" the", b" of"], [1, 2], 16, model=model).save(tmp_path / "tok")


@pytest.mark.parametrize("damage", ["delete", "empty", "truncate", "nan"])
def test_reliability_corrupt_weights_are_caught(tokenizer_bundle, damage):
    weights = tokenizer_bundle / "model.safetensors"
    if damage == "delete":
        weights.unlink()
    elif damage in ("empty", "truncate"):
        weights.write_bytes(weights.read_bytes()[: 0 if damage == "empty" else 1000])
    else:
        from safetensors.torch import load_file, save_file

        tensors = load_file(weights)
        tensors["embed.weight"][0, :5] = float("nan")
        save_file(tensors, weights)
        meta = json.loads((tokenizer_bundle / "meta.json").read_text())  # a bundle written with NaNs
        write_bundle(tokenizer_bundle, "fsqtok.tokenizer", json.loads((tokenizer_bundle / "config.json").read_text()),
                     tensors, meta, files={"vocab.json": (tokenizer_bundle / "vocab.json").read_bytes()})
    tokenizer = AutoEncoderTokenizer.load(tokenizer_bundle)  # the lossless path needs no weights
    assert tokenizer.decode(tokenizer.encode("the end")) == "the end"
    expected = {"delete": "model.safetensors: missing", "empty": "SHA-256 differs from meta.json",
                "truncate": "SHA-256 differs from meta.json", "nan": "weight embed.weight holds NaN or infinite"}
    with pytest.raises(BundleError, match=expected[damage]):
        tokenizer.reconstruct("the end")
    with pytest.raises(BundleError, match=expected[damage]):
        verify_bundle(tokenizer_bundle)
    result = run(["fsqtok", "validate", "-t", str(tokenizer_bundle)], tokenizer_bundle, check=False)
    assert result.returncode == 1 and expected[damage] in result.stdout


def test_reliability_changed_small_files_fail_at_load(tokenizer_bundle):
    vocab = tokenizer_bundle / "vocab.json"
    vocab.write_text(vocab.read_text().replace('"20746865"', '"zz"'))
    with pytest.raises(BundleError, match=r"tok/vocab.json: SHA-256 differs from meta.json"):
        AutoEncoderTokenizer.load(tokenizer_bundle)


def test_reliability_bundle_is_swapped_in_whole(tmp_path):
    path = write_bundle(tmp_path / "b", "kind", {"n": 1}, files={"a.txt": b"old", "gone.txt": b"x"})
    inode = path.stat().st_ino
    write_bundle(path, "kind", {"n": 2}, files={"a.txt": b"new"})
    assert (path / "a.txt").read_bytes() == b"new" and not (path / "gone.txt").exists()
    assert path.stat().st_ino != inode  # a new folder took the name
    assert sorted(p.name for p in tmp_path.iterdir()) == ["b"]  # nothing left beside it


# 5. A run whose loss diverges fails, keeping its last good checkpoint.
def test_reliability_diverged_run_fails(tiny_params, tmp_path, capsys):
    write_split(tmp_path / "split", TEXTS * 3, TEXTS)
    params = params_from_dict({**tiny_params, "pretrain": {**tiny_params["pretrain"], "lr": 1e30}})
    with pytest.raises(FsqtokError, match=r"pretrain: the loss became nan at step \d+; lower pretrain.lr"):
        pretrain(params, tmp_path, capsys)
    assert not (tmp_path / "ae").exists()
    with pytest.raises(ConfigError, match="pretrain.lr: must be a finite number, got inf"):
        params_from_dict({"pretrain": {"lr": float("inf")}})


# 6. Any input size: the compiled core grows its id buffer as it goes and never reads past the input.
PIECES = [b" of the", b" the", b"\n\n", b"in", b"ing", b" and", b"  ", b" of", b"'s", b" 12", b"\n "]


def test_reliability_large_and_edge_inputs_round_trip():
    vocab = ChunkVocabulary(PIECES, 16)
    noise = random.Random(0).randbytes(4_000_000) + b" of the" * 100_000 + b"\n\n"
    ids = vocab.encode_array(noise)
    assert ids.typecode == "I" and vocab.decode_bytes(ids) == noise and ids.tolist() == vocab.encode_bytes(noise)
    for n in range(1, 20):  # inputs ending inside a piece's 8-byte key words
        data = (b" of the in" * 3)[:n]
        assert vocab.decode_bytes(vocab.encode_bytes(data)) == data


# 7. One line instead of a traceback.
def test_reliability_params_errors(tmp_path):
    (tmp_path / "p.yaml").write_text("seed: 1\ncorpus:\n  max_bytes: 1\ncorpus:\n  max_bytes: 2\n")
    with pytest.raises(ConfigError, match=r"^corpus: given twice \(line 4\); keep one$"):
        load_params(tmp_path / "p.yaml")
    with pytest.raises(ConfigError, match=r"^seed: must be in \[0, 4294967296\), got 10+$"):
        params_from_dict({"seed": 10**23})
    with pytest.raises(ConfigError, match="lm.tokenizers: must be a list without repeats"):
        params_from_dict({"lm": {"tokenizers": ["bpe", "bpe"]}})


def test_reliability_decode_takes_any_integers_and_refuses_bools():
    tokenizer = ByteTokenizer()
    ids = tokenizer.encode("hi")
    assert tokenizer.decode(np.array(ids)) == tokenizer.decode(torch.tensor(ids)) == "hi"
    assert tokenizer.decode(i for i in ids) == tokenizer.decode(tuple(ids)) == "hi"
    with pytest.raises(FsqtokError, match="token id True is not an integer"):
        tokenizer.decode([True])
    with pytest.raises(FsqtokError, match="token id 3.0 is not an integer"):
        tokenizer.decode_bytes([3.0])


def test_reliability_bad_bundle_configs_are_one_line(tokenizer_bundle):
    def rewrite_config(config):  # a consistent bundle (right checksums) holding a bad config.json
        write_bundle(tokenizer_bundle, "fsqtok.tokenizer", config,
                     files={"vocab.json": (tokenizer_bundle / "vocab.json").read_bytes()})

    config = json.loads((tokenizer_bundle / "config.json").read_text())
    rewrite_config({k: v for k, v in config.items() if k != "max_chunk_bytes"})
    with pytest.raises(BundleError, match="config.json: max_chunk_bytes must be a positive integer, got None"):
        AutoEncoderTokenizer.load(tokenizer_bundle)
    (tokenizer_bundle / "config.json").write_text("[]")
    with pytest.raises(BundleError, match="config.json: holds a JSON list, expected a JSON object"):
        AutoEncoderTokenizer.load(tokenizer_bundle)


def test_reliability_resume_errors_are_one_line(tiny_params, tmp_path, capsys):
    params = params_from_dict(tiny_params)
    write_split(tmp_path / "split", TEXTS * 3, TEXTS)
    pd.DataFrame({"text": TEXTS}).to_parquet(tmp_path / "x.parquet")
    with pytest.raises(FsqtokError, match=r"x.parquet: not a readable checkpoint \(\w+\); pass a step_XXXXXXXX.pt"):
        pretrain(params, tmp_path, capsys, resume=tmp_path / "x.parquet")
    torch.save({"model": {}, "step": 3}, tmp_path / "weights_only.pt")
    with pytest.raises(FsqtokError, match="weights_only.pt: not a resumable pretrain checkpoint "
                                          r"\(lacks best_exact, .*optimizer"):
        pretrain(params, tmp_path, capsys, resume=tmp_path / "weights_only.pt")
    pretrain(params, tmp_path, capsys, stop_after=3)
    [checkpoint] = list((tmp_path / "ckpt").glob("*/step_00000003.pt"))
    wider = params_from_dict({**tiny_params, "autoencoder": {**tiny_params["autoencoder"], "d_latent": 64}})
    with pytest.raises(FsqtokError, match="made from other data, code or params"):
        pretrain(wider, tmp_path, capsys, resume=checkpoint)


def test_reliability_prune_reports_a_vocabulary_shortfall(pipeline_repo, tiny_params):
    params = {**tiny_params, "prune": {**tiny_params["prune"], "vocab_size": 100_000}}
    (pipeline_repo / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    for stage in ("prepare_corpus", "split", "baseline_eval", "pretrain"):
        run(["python", f"pipeline/{stage}.py"], pipeline_repo)
    result = run(["python", "pipeline/prune.py"], pipeline_repo)
    metrics = json.loads((pipeline_repo / "reports/codebook/metrics.json").read_text())
    assert metrics["vocab_shortfall"] == 100_000 - metrics["vocab_size"] > 0
    assert f"prune.vocab_size asks for 100000 ids but only {metrics['vocab_size']} verify" in result.stdout


# 8. Checkpoints: the newest unreadable one is passed over, and the best weights travel inside.
def test_reliability_corrupt_newest_checkpoint_falls_back(tmp_path, capsys):
    checkpoints = Checkpointer(tmp_path, keep=3)
    checkpoints.save({"step": 1}, 1)
    newest = checkpoints.save({"step": 2}, 2)
    newest.write_bytes(newest.read_bytes()[:20])
    state, path = checkpoints.load_latest()
    assert state == {"step": 1} and path.name == "step_00000001.pt"
    assert "step_00000002.pt: not a readable checkpoint" in capsys.readouterr().out
    assert load_checkpoint(path) == {"step": 1}
