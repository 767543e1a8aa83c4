import pytest

from fsqtok.config import ConfigError, Params, UndeclaredParamError, load_params, params_from_dict


def test_defaults_are_the_seed_dimensions():
    params = params_from_dict({})
    assert params.fsq.levels == [8, 8, 8, 8, 8, 5, 5, 5]
    assert params.fsq.codebook_size == 4_096_000
    assert params.autoencoder.conv_channels == [128, 256, 256]
    assert params.autoencoder.strides == [1, 2, 2]
    assert params.chunking.max_chunk_bytes == 16


def test_repo_params_file_is_valid():
    assert isinstance(load_params("params.yaml"), Params)


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"pretrain": {"lr": "fast"}}, "pretrain.lr: expected a number, read the text 'fast'"),
        ({"pretrain": {"lr": None}}, "pretrain.lr: expected a number, read an empty value"),
        ({"pretrain": {"steps": 1.5}}, "pretrain.steps: expected a whole number, read the number 1.5"),
        ({"tracking": {"enabled": "yes"}}, "tracking.enabled: expected true or false, read the text 'yes'"),
        ({"tracking": {"uri": 5}}, "tracking.uri: expected text, read the whole number 5"),
        ({"pretrain": {"lr": -1}}, "pretrain.lr: must be > 0, got -1.0"),
        ({"pretrain": {"norm_freeze": 1.5}}, "pretrain.norm_freeze: must be in [0, 1], got 1.5"),
        ({"pretrain": {"stepz": 3}}, "pretrain.stepz: unknown key; allowed: steps,"),
        ({"autoencoder": {"decoder": "rnn"}}, "autoencoder.decoder: must be one of ar, mlp, deconv, got 'rnn'"),
        ({"flow": {"schedule": "step"}}, "flow.schedule: must be one of cosine, linear, got 'step'"),
        ({"autoencoder": {"ar_layers": 0}}, "autoencoder.ar_layers: must be > 0, got 0"),
        ({"pretrain": {"lexicon_rate": 0.7}}, "pretrain.lexicon_rate: must be in [0, 0.5], got 0.7"),
        ({"pretrain": {"lexicon_words": 0}}, "pretrain.lexicon_words: must be > 0, got 0"),
        ({"pretrain": {"repeat_cap": -1}}, "pretrain.repeat_cap: must be >= 0 (0 = off), got -1"),
        ({"pretrain": {"repeat_cap_after": 1.5}}, "pretrain.repeat_cap_after: must be in [0, 1], got 1.5"),
        ({"colour": 1}, "colour: unknown key; allowed: seed, device,"),
        ({"split": {"val_fraction": -0.1}}, "split.val_fraction: must be in (0, 1), got -0.1"),
        ({"device": "tpu"}, "device: must be one of auto, cpu, cuda, got 'tpu'"),
        ({"precision": "fp16"}, "precision: must be one of auto, fp32, bf16, got 'fp16'"),
        ({"corpus": {"sources": [{"kind": "web"}]}}, "corpus.sources[0].kind: must be one of kjv, wikipedia_summaries"),
        ({"corpus": {"sources": [{"kind": "jsonl"}]}}, "corpus.sources[0].path: must be set for kind jsonl"),
        ({"pretrain": {"steps": True}}, "pretrain.steps: expected a whole number, read the boolean true"),
        ({"fsq": {"levels": [8, 1]}}, "fsq.levels: must be each >= 2, got [8, 1]"),
        ({"chunking": {"max_chunk_bytes": 10}}, "chunking.max_chunk_bytes: must be a multiple of the product"),
        ({"lm": {"d_model": 100, "n_head": 3}}, "lm.d_model: must be divisible by n_head=3, got 100"),
        ({"baseline": {"extra": ["gpt2.json"]}}, "baseline.extra: must be paths of .json files under "
         "extra_tokenizers/ (the folder DVC watches), got 'gpt2.json'"),
        ({"baseline": {"extra": ["extra_tokenizers/bpe.json"]}}, "baseline.extra: must be files whose stems differ"),
        ({"baseline": {"extra": ["extra_tokenizers/a.json", "extra_tokenizers/sub/a.json"]}},
         "baseline.extra: must be files whose stems differ from each other and from the built-in tokenizer names, "
         "got 'a'"),
    ],
)
def test_bad_values_name_the_key(data, message):
    with pytest.raises(ConfigError) as err:
        params_from_dict(data)
    assert str(err.value).startswith(message)
    assert "\n" not in str(err.value)


def test_missing_and_broken_files(tmp_path):
    with pytest.raises(ConfigError, match="not found"):
        load_params(tmp_path / "nope.yaml")
    bad = tmp_path / "params.yaml"
    bad.write_text("seed: [1,\n")
    with pytest.raises(ConfigError, match="not valid YAML"):
        load_params(bad)


def test_digest_depends_only_on_named_sections():
    a = params_from_dict({"pretrain": {"lr": 0.1}})
    b = params_from_dict({"pretrain": {"lr": 0.2}})
    assert a.digest("split") == b.digest("split")
    assert a.digest("pretrain") != b.digest("pretrain")


def test_numbers_read_as_meant(tmp_path):
    """YAML 1.1 reads `3e-4` as a string; params.yaml reads it (and 1E+3, 1_000) as a user means it."""
    path = tmp_path / "params.yaml"
    path.write_text("pretrain:\n  lr: 3e-4\n  weight_decay: 1E-2\n  steps: 1_000\n  grad_clip: 2e0\n"
                    "lm:\n  lr: -1.5e-3\n")
    with pytest.raises(ConfigError, match=r"^lm.lr: must be > 0, got -0.0015$"):
        load_params(path)
    path.write_text(path.read_text().replace("-1.5e-3", "1.5e-3"))
    params = load_params(path)
    assert (params.pretrain.lr, params.pretrain.weight_decay, params.pretrain.steps) == (3e-4, 0.01, 1000)
    assert (params.pretrain.grad_clip, params.lm.lr) == (2.0, 0.0015)
    path.write_text("tracking:\n  experiment: 1e5\n")  # text where text is expected stays an error
    with pytest.raises(ConfigError, match=r"^tracking.experiment: expected text, read the number 100000.0$"):
        load_params(path)
    path.write_text("lm:\n  prompts: ['3e4x', '12']\n")  # quoted and non-numbers stay strings
    assert load_params(path).lm.prompts == ["3e4x", "12"]


def test_a_stage_reads_only_what_it_declares():
    params = params_from_dict({"prune": {"vocab_size": 512}}).only(("seed", "prune.vocab_size", "pretrain"), "stage x")
    assert (params.seed, params.prune.vocab_size, params.pretrain.steps) == (0, 512, 2700)
    assert params.declared == ("seed", "prune.vocab_size", "pretrain")
    assert params.section("prune.vocab_size") == 512 and params.section("pretrain")["lr"] == 0.002
    message = ("stage x reads params key {!r}, which its PARAMS do not declare: add it there and to the "
               "stage's params in dvc.yaml")
    for read, key in [(lambda: params.prune.max_candidates + 1, "prune.max_candidates"),
                      (lambda: params.lm.steps, "lm"), (lambda: params.device == "cpu", "device"),
                      (lambda: params.flow, None), (lambda: params.digest("lm"), "lm")]:
        if key is None:
            assert repr(read()) == "<undeclared flow>"
            continue
        with pytest.raises(UndeclaredParamError) as err:
            read()
        assert str(err.value) == message.format(key)
    with pytest.raises(ValueError, match=r"stage x: PARAMS names keys params.yaml does not have: \['lms'\]"):
        params_from_dict({}).only(("lms",), "stage x")
