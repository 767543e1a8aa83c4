import json

import pytest

from conftest import ROOT, run
from fsqtok.tokenizers.baselines import BPETokenizer

TEXTS = ["the earth and the heaven", "and the light was good"] * 3


def test_encode_decode_round_trip_any_bytes(tmp_path):
    bpe = BPETokenizer.train(TEXTS, 280).save(tmp_path / "bpe")
    data = b"the earth \xff\x00 and\r\n"
    (tmp_path / "in.bin").write_bytes(data)
    encoded = run(["fsqtok", "encode", str(tmp_path / "in.bin"), "-t", str(bpe)], tmp_path)
    ids = json.loads(encoded.stdout)
    assert all(isinstance(i, int) for i in ids)
    (tmp_path / "ids.txt").write_text("\n".join(map(str, ids)))
    decoded = run(["fsqtok", "decode", str(tmp_path / "ids.txt"), "-t", str(bpe)], tmp_path, text=False)
    assert decoded.stdout == data
    lines = run(["fsqtok", "encode", "--lines", "-t", "byte", str(tmp_path / "in.bin")], tmp_path)
    assert lines.stdout.split() == [str(b + 3) for b in data]
    validated = run(["fsqtok", "validate", "-t", str(bpe)], tmp_path)
    assert json.loads(validated.stdout)["ok"] is True
    inspected = json.loads(run(["fsqtok", "inspect", "-t", str(bpe)], tmp_path).stdout)
    assert inspected["kind"] == "fsqtok.bpe" and inspected["vocab_size"] == 280


def test_cli_errors_are_one_line(tmp_path):
    missing = run(["fsqtok", "encode", "-t", str(tmp_path / "nope")], tmp_path, check=False)
    assert missing.returncode == 2
    expected = f"error: {tmp_path / 'nope'}: no such tokenizer folder; train it first (dvc repro) or check the path"
    assert missing.stderr.strip() == expected
    (tmp_path / "ids.txt").write_text("1 two 3")
    bad = run(["fsqtok", "decode", str(tmp_path / "ids.txt"), "-t", "byte"], tmp_path, check=False)
    assert bad.returncode == 2
    assert bad.stderr.strip() == "error: ids must be a JSON list of integers or one integer per line"
    (tmp_path / "ids.txt").write_text("[5000]")
    out_of_range = run(["fsqtok", "decode", str(tmp_path / "ids.txt"), "-t", "byte"], tmp_path, check=False)
    assert out_of_range.stderr.strip() == "error: token id 5000 is out of range [0, 259) for byte"


def test_compare_writes_offline_html(tmp_path):
    (tmp_path / "a.json").write_text(json.dumps({"x": {"bpb": 1.5}}))
    (tmp_path / "b.json").write_text(json.dumps({"x": {"bpb": 1.25}}))
    run(["fsqtok", "compare", "a.json", "b.json", "--report", "out.html"], tmp_path)
    html = (tmp_path / "out.html").read_text()
    assert "<td>x.bpb</td>" in html and "-0.25" in html
    (tmp_path / "c.json").write_text(json.dumps({"y": {"bpb": 1.0, "name": "bpe"}}))
    unrelated = run(["fsqtok", "compare", "a.json", "c.json", "--report", "none.html"], tmp_path, check=False)
    assert (unrelated.returncode, unrelated.stderr.strip()) == (2, "error: a.json and c.json share no metric: "
                                                               "compare two files of one report, e.g. "
                                                               "reports/evaluate/metrics.json of two runs")
    assert not (tmp_path / "none.html").exists()


def test_version():
    from importlib import metadata

    result = run(["fsqtok", "--version"], ROOT)
    assert result.stdout == f"fsqtok {metadata.version('fsqtok')} (torch {metadata.version('torch')})\n"


def test_profile_becomes_checked_dvc_overrides(tmp_path, monkeypatch):
    from fsqtok.cli import profile_overrides
    from fsqtok.errors import FsqtokError

    monkeypatch.chdir(tmp_path)
    (tmp_path / "params.yaml").write_text("pretrain:\n  steps: 10\n")
    (tmp_path / "p.yaml").write_text("pretrain:\n  steps: 100000\n  lr: 0.0001\nfsq:\n  levels: [8, 5]\n")
    assert profile_overrides(tmp_path / "p.yaml") == [
        "-S", "pretrain.steps=100000", "-S", "pretrain.lr=0.0001", "-S", "fsq.levels=[8, 5]"]
    (tmp_path / "bad.yaml").write_text("pretrain:\n  stepz: 1\n")
    with pytest.raises(FsqtokError, match="pretrain.stepz: unknown key"):
        profile_overrides(tmp_path / "bad.yaml")


@pytest.mark.parametrize(("profile", "steps", "vocab"), [("seed", 100000, 32768), ("cpu-long", 60000, 32768),
                                                    ("tiny", 60, 512)])
def test_shipped_profiles_are_valid(monkeypatch, profile, steps, vocab):
    from conftest import ROOT
    from fsqtok.cli import profile_overrides

    monkeypatch.chdir(ROOT)
    args = profile_overrides(ROOT / f"profiles/{profile}.yaml")
    assert f"pretrain.steps={steps}" in args and f"prune.vocab_size={vocab}" in args
