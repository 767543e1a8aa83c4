"""The latent flow generator: adaLN-Zero identity start, training, the Euler sampler, resume,
bundles, the CLI modes and the judge."""

import os
import random

import pytest
import torch

from conftest import run
from fsqtok.autoencoder.model import ByteAutoEncoder
from fsqtok.config import params_from_dict
from fsqtok.eval.judge import KneserNeyBytes, distinct_n, judge, judge_spread, train_judge
from fsqtok.flow.data import latent_windows
from fsqtok.flow.io import load_flow, save_flow
from fsqtok.flow.model import AdaLNZeroBlock, FlowModelConfig, FlowTransformer
from fsqtok.flow.sample import euler_sample, snap_to_grid, snap_to_vocab
from fsqtok.flow.train import FlowRun
from fsqtok.lm.model import sdpa
from fsqtok.store.bundle import BundleError
from fsqtok.store.checkpoint import Checkpointer
from fsqtok.tokenizers.fsqtok import AutoEncoderTokenizer

TEXTS = ["In the beginning God created the heaven and the earth.",
         "And the earth was without form, and void; and darkness was upon the face of the deep.",
         "And God said, Let there be light: and there was light."] * 4
FLOW = {"seq_chunks": 8, "d_model": 16, "n_layer": 1, "n_head": 2, "steps": 6, "batch_size": 4, "lr": 0.01,
        "warmup_steps": 1, "eval_every": 3, "checkpoint_every": 3, "ce_positions": 16}


@pytest.fixture(scope="module")
def autoencoder():
    params = params_from_dict({"autoencoder": {"conv_channels": [8, 8, 8], "deconv_channels": [8, 8, 8],
                                               "d_latent": 16, "decoder_hidden": 16}})
    torch.manual_seed(0)
    return ByteAutoEncoder(params.autoencoder, params.fsq.levels, 16).eval()


def flow_run(autoencoder, directory, precision="fp32", **overrides):
    config = params_from_dict({"flow": {**FLOW, **overrides}}).flow
    windows = latent_windows(autoencoder, TEXTS, config.seq_chunks)
    return FlowRun(config, 0, autoencoder, windows, windows, Checkpointer(directory, 2, "flow"), "key",
                   progress=False, precision=precision)


def test_adaln_zero_blocks_start_as_identity():
    config = FlowModelConfig(latent_dim=8, d_model=16, n_layer=2, n_head=2, max_positions=8)
    block = AdaLNZeroBlock(config)
    x, c = torch.randn(3, 5, 16), torch.randn(3, 16)
    assert torch.equal(block(x, c, torch.ones(3, 5, dtype=torch.bool)), x)  # every gate is zero
    model = FlowTransformer(config)
    assert all(torch.count_nonzero(b.modulation.weight) == 0 for b in model.blocks)


def test_windows_stay_within_documents(autoencoder):
    windows = latent_windows(autoencoder, ["a b c", "d"], 2)  # chunks: a, " b", " c" | d
    assert windows.mask.tolist() == [[True, True], [True, False], [True, False]]
    assert windows.codes.shape == (3, 2, 8) and torch.equal(windows.codes[1, 1], torch.zeros(8))
    assert bytes(windows.bytes[2, 0][windows.bytes[2, 0] < 256].tolist()) == b"d"


@pytest.mark.parametrize("steps", [1, 2, 7, 50])
def test_sampler_with_an_oracle_returns_x1_exactly(steps):
    x1 = torch.randn(2, 4, 8)
    out = euler_sample(lambda x, t: x1, (2, 4, 8), steps, 1.0, torch.Generator().manual_seed(0))
    assert torch.equal(out, x1)


def current_umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def test_sampler_integrates_the_flow_ode():
    """With x1_hat = x / 2 + 1, dx/dt = (x1_hat - x) / (1 - t) has x(t) - 2 = (x0 - 2) sqrt(1 - t): every
    path ends on 2, and the Euler error at the last step falls as steps^-1/2. A rule that moves by
    (x1_hat - x) / steps instead stops at 2 + (x0 - 2) / sqrt(e), a max error of about 5 here."""
    def error(steps: int) -> float:
        out = euler_sample(lambda x, t: x / 2 + 1, (4, 8), steps, 3.0, torch.Generator().manual_seed(0))
        return (out - 2).abs().max().item()

    assert error(400) / error(100) == pytest.approx(0.5, rel=0.01)
    assert error(400) < 0.25


def test_snapping(autoencoder):
    fsq = autoencoder.fsq
    indices = torch.tensor([0, 17, 4_095_999])
    assert torch.equal(snap_to_grid(fsq.indices_to_codes(indices) + 0.01, fsq), indices)
    assert torch.equal(snap_to_grid(torch.full((1, 8), 5.0), fsq), torch.tensor([fsq.codebook_size - 1]))
    vocab = torch.tensor([3, 4_000_000])
    assert torch.equal(snap_to_vocab(fsq.indices_to_codes(torch.tensor([4_000_001])), fsq, vocab),
                       torch.tensor([4_000_000]))


def test_flow_loss_falls(autoencoder, tmp_path):
    _, state = flow_run(autoencoder, tmp_path, steps=40, eval_every=1, checkpoint_every=40, ce_weight=0.0).run()
    first, last = state.history[0], state.history[-1]
    assert last["val_mse"] < 0.2 * first["val_mse"] and last["train_loss"] < 0.2 * first["train_loss"]


def test_bf16_steps_run_under_autocast_with_the_attention_in_fp32(autoencoder, tmp_path):
    q, k, v = torch.randn(3, 2, 2, 5, 4).unbind(0)  # (B, nh, S, hs) each
    with torch.autocast("cpu", dtype=torch.bfloat16):
        y = sdpa(q, k, v)
    assert y.dtype == torch.float32 and torch.allclose(y, torch.nn.functional.scaled_dot_product_attention(q, k, v))
    fp32, a = flow_run(autoencoder, tmp_path / "a").run()
    bf16, b = flow_run(autoencoder, tmp_path / "b", precision="bf16").run()
    assert a.history[-1]["val_loss"] != b.history[-1]["val_loss"]  # the steps ran in bf16
    assert abs(a.history[-1]["val_loss"] - b.history[-1]["val_loss"]) < 0.1 * a.history[-1]["val_loss"]
    assert all(p.dtype == torch.float32 for p in bf16.parameters())


def test_resume_is_exact(autoencoder, tmp_path):
    straight, a = flow_run(autoencoder, tmp_path / "a").run()
    _, half = flow_run(autoencoder, tmp_path / "b").run(stop_after=3)
    assert half.step == 3
    resumed, b = flow_run(autoencoder, tmp_path / "b").run()
    drop_speed = [[{k: v for k, v in row.items() if k != "steps_per_s"} for row in s.history] for s in (a, b)]
    assert b.step == 6 and drop_speed[0] == drop_speed[1]
    for (name, x), (_, y) in zip(straight.state_dict().items(), resumed.state_dict().items(), strict=True):
        assert torch.equal(x, y), name


def test_bundle_and_cli_modes(autoencoder, tmp_path):
    tokenizer = AutoEncoderTokenizer([b" the", b" and"], [1, 2], 16, model=autoencoder)
    tokenizer_dir = tokenizer.save(tmp_path / "tok")
    flow, state = flow_run(autoencoder, tmp_path / "ckpt").run()
    config = params_from_dict({"flow": FLOW}).flow
    save_flow(flow, config, tokenizer_dir, tmp_path / "flow", meta={"step": state.step})
    loaded, loaded_config, _ = load_flow(tmp_path / "flow")
    assert loaded_config == config and torch.equal(loaded.output.weight, flow.output.weight)
    text = "And God said, Let there be light."
    (tmp_path / "in.txt").write_text(text)
    common = ["--model", str(tmp_path / "flow")]
    run(["fsqtok", "flow", "encode", "in.txt", "--out", "lat.safetensors", *common], tmp_path)
    assert (tmp_path / "lat.safetensors").stat().st_mode & 0o777 == 0o666 & ~current_umask()  # as any file it writes
    from_file = run(["fsqtok", "flow", "reconstruct", "lat.safetensors", *common], tmp_path, text=False).stdout
    from_text = run(["fsqtok", "flow", "reconstruct", "in.txt", *common], tmp_path, text=False).stdout
    assert from_file == from_text == tokenizer.reconstruct_bytes(text.encode())  # real latents: the ceiling
    generate = ["fsqtok", "flow", "generate", "--chunks", "5", "--steps", "3", *common]
    first, again = (run([*generate, "--seed", "1"], tmp_path, text=False).stdout for _ in range(2))
    assert first == again and first.endswith(b"\n")
    bad = run([*generate, "--chunks", "99"], tmp_path, check=False)
    assert bad.returncode == 2 and bad.stderr.strip() == "error: --chunks must be in [1, 8], --steps and --samples >= 1"

    other = ByteAutoEncoder(autoencoder.config, autoencoder.fsq.levels_list, 16)  # another init: other weights
    AutoEncoderTokenizer([b" the"], [1], 16, model=other).save(tmp_path / "other")
    with pytest.raises(BundleError, match="trained on another auto-encoder"):
        load_flow(tmp_path / "flow", tmp_path / "other")


def test_judge_prefers_real_text_and_punishes_repetition():
    rng = random.Random(0)
    train = " ".join(TEXTS * 20).encode()
    model = KneserNeyBytes(train, 4)
    held_out = "And the earth was void, and God created light upon the deep."
    words = held_out.split()
    rng.shuffle(words)
    assert model.bits_per_byte(held_out.encode()) < model.bits_per_byte(" ".join(words).encode())
    assert sum(model.probability(b"th", b) for b in range(256)) == pytest.approx(1.0)
    repeated, varied = judge(model, ["the the the the the the"]), judge(model, [held_out])
    assert repeated["distinct_4"] < varied["distinct_4"] and repeated["unigram_entropy"] == 0.0
    assert distinct_n("a b a b", 2) == 2 / 3


def test_judge_spread_is_the_mean_and_standard_error_of_the_samples():
    model = KneserNeyBytes(b"the cat sat on the mat. " * 20, 3)
    samples = ["the cat sat", "zq xj vvv", "on the mat."]
    scores = [model.bits_per_byte(s.encode()) for s in samples]
    spread = judge_spread(model, samples)
    mean = sum(scores) / 3
    assert spread["judge_bpb"] == pytest.approx(mean) and spread["samples"] == 3
    assert spread["judge_bpb_se"] == pytest.approx((sum((x - mean) ** 2 for x in scores) / 2) ** 0.5 / 3 ** 0.5)
    assert judge_spread(model, ["the cat"])["judge_bpb_se"] == 0.0


def test_the_judge_learns_from_the_odd_train_documents_only():
    train = ["aaaa", "bbbb", "cccc", "dddd"]
    model = train_judge(train, 2, 100)
    assert model.bits_per_byte(b"bbbb") < model.bits_per_byte(b"aaaa")  # b and d seen, a and c not
    assert train_judge(train, 2, 4).bits_per_byte(b"dddd") > model.bits_per_byte(b"dddd")  # bytes cap: "bbbb" only
