import signal
import subprocess
import sys
import time
from collections import Counter

import pytest
import torch
import yaml

from conftest import run, write_noae_pieces
from fsqtok.autoencoder.data import (
    ChunkStream,
    MixedStream,
    PhasedStream,
    capped_rows,
    chunk_tensor,
    lexicon_tensor,
    pack_chunks,
    train_frequency,
    unpack_chunks,
)
from fsqtok.autoencoder.io import autoencoder_config, load_autoencoder, save_autoencoder
from fsqtok.autoencoder.metrics import (
    bucket_byte_shares,
    code_perplexity,
    evaluate_chunks,
    positions_to_end,
    reconstruction_loss,
)
from fsqtok.autoencoder.model import PAD, ByteAutoEncoder, conv_channels_last, conv_of_embedding
from fsqtok.autoencoder.train import PretrainRun
from fsqtok.config import params_from_dict
from fsqtok.runtime.optim import lr_factor
from fsqtok.store.bundle import BundleError, write_bundle
from fsqtok.store.checkpoint import Checkpointer, load_checkpoint

TEXTS = ["In the beginning God created the heaven and the earth.",
         "And the earth was without form, and void; and darkness was upon the face of the deep."] * 3


def make_run(tiny_params, directory, **pretrain):
    """A tiny run on TEXTS; with the tiny params' lexicon_rate a quarter of each batch are word forms,
    and after 2 steps the corpus rows come from the distinct chunks (repeat_cap 1)."""
    params = params_from_dict({**tiny_params, "pretrain": {**tiny_params["pretrain"], **pretrain}})
    chunks = chunk_tensor(TEXTS, params.chunking.max_chunk_bytes)
    lexicon = lexicon_tensor(params.pretrain, params.chunking.max_chunk_bytes, 0, len(chunks))
    return PretrainRun(params, chunks, chunks, Checkpointer(directory, 2), "key", torch.device("cpu"), progress=False,
                       lexicon_chunks=lexicon)


def test_pack_unpack_and_shapes():
    ids = pack_chunks([b"hi", b"", b"abcd"], 4)
    assert ids.tolist() == [[104, 105, PAD, PAD], [PAD] * 4, [97, 98, 99, 100]]
    assert unpack_chunks(ids) == [b"hi", b"", b"abcd"]
    assert pack_chunks([b""], 2).tolist() == [[PAD, PAD]] and pack_chunks([], 2).shape == (0, 2)
    params = params_from_dict({})
    for decoder in ("ar", "mlp", "deconv"):
        config = params_from_dict({"autoencoder": {"decoder": decoder}}).autoencoder
        model = ByteAutoEncoder(config, params.fsq.levels, 16).eval()
        for teacher_forcing in (False, True):
            logits, indices = model(pack_chunks([b"hello", b" world"], 16), teacher_forcing)
            assert logits.shape == (2, 16, 257) and indices.shape == (2,)


def test_autoregressive_decoder_greedy_matches_teacher_forcing_and_is_causal():
    params = params_from_dict({"autoencoder": {"decoder": "ar", "ar_layers": 3}})
    torch.manual_seed(0)
    model = ByteAutoEncoder(params.autoencoder, params.fsq.levels, 16).eval()
    codes = model.fsq.indices_to_codes(torch.tensor([0, 12345, 4095999]))
    with torch.no_grad():
        greedy = model.decode(codes)  # (3, 16, 257), each position spelled after the ones before
        spelled = greedy.argmax(-1)
        forced = model.decode(codes, spelled)  # the same prefix given at once
        assert torch.allclose(greedy, forced, atol=1e-5)
        changed = spelled.clone()
        changed[:, 5] = (changed[:, 5] + 1) % 257
        after = model.decode(codes, changed)
    assert torch.equal(after[:, :6], forced[:, :6])  # position 5's byte only reaches later positions
    assert not torch.allclose(after[:, 6], forced[:, 6])


def test_spelling_through_end_is_the_full_pass_on_the_positions_it_keeps():
    params = params_from_dict({"autoencoder": {"decoder": "ar"}})
    torch.manual_seed(0)
    model = ByteAutoEncoder(params.autoencoder, params.fsq.levels, 16).eval()
    x = pack_chunks([b"a", b"abc", b"abcd", b"hello wo", b"x" * 16, b"", b"abcdefg"], 16)
    full = model(x, teacher_forcing=True)[0]  # (7, 16, 257)
    logits, positions = model(x, through_end=True)  # groups start at multiples of 32 rows: all spell to 16
    assert torch.equal(positions.sort().values, torch.arange(7 * 16))
    assert torch.allclose(logits, full.reshape(-1, 257)[positions], atol=1e-5)
    model.decoder.ROW_ALIGN = 1
    # ends at positions 2, 4, 5, 9, none, 1, 8 -> spans 4, 4, 8, 16, 16, 4, 8; rows grouped by span
    kept = [(0, 4), (1, 4), (5, 4), (2, 8), (6, 8), (3, 16), (4, 16)]
    logits, positions = model(x, through_end=True)
    assert torch.equal(positions, torch.cat([row * 16 + torch.arange(span) for row, span in kept]))
    assert logits.shape == (60, 257)
    assert torch.allclose(logits, torch.cat([full[row, :span] for row, span in kept]), atol=1e-5)
    # the loss and every gradient: the full pass's, with the positions left out counted as certain
    loss = reconstruction_loss(logits, x.reshape(-1)[positions], x.numel())
    mask = torch.zeros(7, 16, dtype=torch.bool)
    for row, span in kept:
        mask[row, :span] = True
    reference = torch.nn.functional.cross_entropy(full[mask], x[mask], reduction="sum") / x.numel()
    assert loss.item() == pytest.approx(reference.item(), rel=1e-5)
    params_ = list(model.parameters())
    for got, want in zip(torch.autograd.grad(loss, params_, allow_unused=True),
                         torch.autograd.grad(reference, params_, allow_unused=True), strict=True):
        assert (got is None) == (want is None) and (got is None or torch.allclose(got, want, atol=1e-6))
    mlp = ByteAutoEncoder(params_from_dict({"autoencoder": {"decoder": "mlp"}}).autoencoder, params.fsq.levels, 16)
    every_logits, every_position = mlp.eval()(x, through_end=True)  # spells all at once: every position
    assert every_logits.shape == (7 * 16, 257) and torch.equal(every_position, torch.arange(7 * 16))


@pytest.mark.parametrize(("stride", "dilation", "left", "right"), [(1, 1, 1, 1), (2, 1, 1, 1), (1, 2, 4, 0),
                                                                   (1, 4, 8, 0), (2, 1, 0, 0)])
def test_conv_channels_last_is_the_conv_forward_and_backward(stride, dilation, left, right):
    torch.manual_seed(0)
    conv = torch.nn.Conv1d(6, 5, 3, stride=stride, dilation=dilation)
    h = torch.randn(4, 11, 6, requires_grad=True)  # (B, T, C_in)
    reference = conv(torch.nn.functional.pad(h.transpose(1, 2), (left, right))).transpose(1, 2)  # (B, T', C_out)
    out = conv_channels_last(h, conv, left, right)
    assert out.shape == reference.shape and torch.allclose(out, reference, atol=1e-6)
    grad = torch.randn_like(out)
    expected = torch.autograd.grad(reference, (h, conv.weight, conv.bias), grad)
    for got, want in zip(torch.autograd.grad(out, (h, conv.weight, conv.bias), grad), expected, strict=True):
        assert torch.allclose(got, want, atol=1e-5)


@pytest.mark.parametrize(("rows", "tables"), [(1, False), (16, False), (17, True), (64, True)])
@pytest.mark.parametrize(("kernel", "stride", "dilation"), [(3, 1, 1), (3, 2, 1), (5, 2, 2), (1, 1, 1)])
def test_conv_of_embedding_is_the_conv_of_the_looked_up_rows(kernel, stride, dilation, rows, tables):
    torch.manual_seed(0)
    embedding = torch.randn(257, 6, requires_grad=True)  # (N, C_in): tables from N + 1 = 258 ids on
    conv = torch.nn.Conv1d(6, 5, kernel, stride=stride, dilation=dilation, padding=kernel // 2 * dilation)
    ids = torch.randint(0, 257, (rows, 16))  # (B, T), the zero padding at both ends included in the check
    reference = conv(embedding[ids].transpose(1, 2)).transpose(1, 2)  # (B, T', C_out)
    with torch.profiler.profile() as profile:
        out = conv_of_embedding(ids, embedding, conv)
    assert ("aten::embedding_bag" in {event.key for event in profile.key_averages()}) == tables
    assert out.shape == reference.shape == (rows, 16 // stride, 5) and torch.allclose(out, reference, atol=1e-6)
    grad = torch.randn_like(out)
    expected = torch.autograd.grad(reference, (embedding, conv.weight, conv.bias), grad)
    for got, want in zip(torch.autograd.grad(out, (embedding, conv.weight, conv.bias), grad), expected, strict=True):
        assert torch.allclose(got, want, atol=1e-5)


def test_norm_scale_multiplies_the_latent_before_fsq():
    one = params_from_dict({"autoencoder": {"norm_scale": 1.0}}).autoencoder
    two = params_from_dict({"autoencoder": {"norm_scale": 2.0}}).autoencoder
    a, b = ByteAutoEncoder(one, [8, 8, 8, 8, 8, 5, 5, 5], 16).eval(), ByteAutoEncoder(two, [8, 8, 8, 8, 8, 5, 5, 5], 16)
    b.load_state_dict(a.state_dict())
    x = pack_chunks([b"hello", b" world"], 16)
    assert torch.allclose(b.eval().encode_latent(x), 2 * a.encode_latent(x))


def test_schedule_and_stream_are_deterministic():
    for schedule in ("cosine", "linear"):
        assert lr_factor(0, 110, 10, 0.0, schedule) == pytest.approx(0.1)
        assert lr_factor(9, 110, 10, 0.0, schedule) == pytest.approx(1.0)
        assert lr_factor(60, 110, 10, 0.0, schedule) == pytest.approx(0.5)  # halfway, both
        assert lr_factor(110, 110, 10, 0.0, schedule) == pytest.approx(0.0)
        assert lr_factor(110, 110, 10, 0.1, schedule) == pytest.approx(0.1)  # the floor
    assert lr_factor(35, 110, 10, 0.0, "cosine") == pytest.approx(0.5 + 0.5 * 2**-0.5)  # a quarter of the way
    assert lr_factor(35, 110, 10, 0.0, "linear") == pytest.approx(0.75)
    assert lr_factor(35, 110, 10, 0.2, "linear") == pytest.approx(0.2 + 0.8 * 0.75)
    chunks = torch.arange(10).unsqueeze(1)
    a, b = ChunkStream(chunks, seed=3), ChunkStream(chunks, seed=3)
    first = [a.next_batch(4).flatten().tolist() for _ in range(3)]
    assert sorted(first[0] + first[1] + first[2][:2]) == list(range(10))  # one whole epoch, then the next
    b.next_batch(4)
    resumed = ChunkStream(chunks, seed=3, **b.state())
    assert [resumed.next_batch(4).flatten().tolist() for _ in range(2)] == first[1:]


def test_mixed_stream_takes_each_share_from_its_stream_and_resumes_exactly():
    corpus, lexicon, pieces = (torch.arange(10).unsqueeze(1), torch.arange(100, 105).unsqueeze(1),
                               torch.arange(200, 203).unsqueeze(1))

    def mixed():
        return MixedStream(ChunkStream(corpus, seed=3), [(ChunkStream(lexicon, seed=4), 0.25),
                                                          (ChunkStream(pieces, seed=5), 0.125)])

    a = mixed()
    first = a.next_batch(8).flatten().tolist()
    # 5 corpus rows, then 2 words, then 1 piece
    assert [v // 100 for v in first] == [0, 0, 0, 0, 0, 1, 1, 2]
    state = a.state()
    assert state == {"corpus": {"epoch": 0, "offset": 5},
                     "others": [{"epoch": 0, "offset": 2}, {"epoch": 0, "offset": 1}]}
    following = [a.next_batch(8).flatten().tolist() for _ in range(3)]
    b = mixed()
    b.load_state(state)
    assert [b.next_batch(8).flatten().tolist() for _ in range(3)] == following


def test_a_run_draws_its_vocab_rate_from_the_pieces(tiny_params, tmp_path):
    run_ = make_run(tiny_params, tmp_path, vocab_rate=0.125)
    run_.vocab_chunks = pack_chunks([b"zq", b"qz"], 16)
    batch = unpack_chunks(run_._stream().next_batch(32))  # 20 corpus rows, 8 lexicon rows, 4 pieces
    assert sorted(batch[28:]) == [b"qz", b"qz", b"zq", b"zq"] and not {b"zq", b"qz"} & set(batch[:28])


def test_capped_rows_keep_each_chunk_at_most_cap_times():
    rows = torch.tensor([[5, 256]] * 7 + [[6, 256]] * 2 + [[7, 7]])
    capped = capped_rows(rows, cap=3, seed=0)
    assert Counter(tuple(r) for r in capped.tolist()) == {(5, 256): 3, (6, 256): 2, (7, 7): 1}
    assert torch.equal(capped, capped_rows(rows, cap=3, seed=0))  # seeded
    assert len(capped_rows(rows, cap=100, seed=0)) == 10 and len(capped_rows(rows, cap=1, seed=0)) == 3


def test_phased_stream_switches_after_its_batches_and_resumes_exactly():
    before, after = torch.arange(10).unsqueeze(1), torch.arange(100, 104).unsqueeze(1)
    a = PhasedStream(ChunkStream(before, seed=3), ChunkStream(after, seed=4), switch=2)
    drawn = [a.next_batch(3).flatten().tolist() for _ in range(2)]
    assert all(v < 10 for batch in drawn for v in batch)
    state = a.state()
    assert state == {"before": {"epoch": 0, "offset": 6}, "after": {"epoch": 0, "offset": 0}, "batches": 2}
    following = [a.next_batch(3).flatten().tolist() for _ in range(3)]
    assert all(v >= 100 for batch in following for v in batch)
    b = PhasedStream(ChunkStream(before, seed=3), ChunkStream(after, seed=4), switch=2)
    b.load_state(state)
    assert [b.next_batch(3).flatten().tolist() for _ in range(3)] == following


def test_lexicon_tensor_rows_follow_the_share(tiny_params):
    params = params_from_dict({**tiny_params, "pretrain": {**tiny_params["pretrain"], "lexicon_rate": 0.2}})
    rows = lexicon_tensor(params.pretrain, 16, 0, 1000)
    assert rows.shape == (250, 16)  # 0.2 of the mix: 250 word forms and numbers beside 1,000 corpus segments
    assert torch.equal(rows, lexicon_tensor(params.pretrain, 16, 0, 1000))  # seeded
    strings = {w.strip().lower() for w in unpack_chunks(rows)}
    words = {w for w in strings if not w.isdigit()}
    assert words and all(w.isalpha() and w.islower() for w in words) and len(words) < len(strings)


def test_code_perplexity():
    assert code_perplexity(torch.tensor([1.0, 1.0, 2.0])) == pytest.approx(2**1.5)  # p = 1/4, 1/4, 1/2
    assert code_perplexity(torch.tensor([5.0])) == 1.0


class PredictsEnd(torch.nn.Module):
    """A stand-in auto-encoder that predicts "end" (class PAD) at every position and code 0."""

    spells_autoregressively = False

    def forward(self, x, teacher_forcing=False):
        logits = torch.zeros(*x.shape, 257)
        logits[..., PAD] = 1.0
        return logits, torch.zeros(len(x), dtype=torch.int64)


def test_evaluate_counts_real_bytes_only():
    chunks = chunk_tensor(["ab ab c"], 16)  # "ab", " ab", " c": 7 real bytes, 41 pads
    model = PredictsEnd().eval()
    metrics = evaluate_chunks(model, chunks, 64, torch.device("cpu"))
    assert not model.training  # an inference model stays in eval mode
    assert metrics["byte_accuracy"] == 0.0  # every pad is right, every real byte wrong
    assert metrics["exact_match"] == 0.0 and metrics["codes_used"] == 1 and metrics["code_perplexity"] == 1.0


class CopiesAllBut(torch.nn.Module):
    """A stand-in auto-encoder that reconstructs every chunk except those starting with `byte`,
    which come back as "end" everywhere."""

    spells_autoregressively = False

    def __init__(self, byte: int):
        super().__init__()
        self.byte = byte

    def forward(self, x, teacher_forcing=False):
        logits = torch.nn.functional.one_hot(x, 257).float()
        logits[x[:, 0] == self.byte] = torch.nn.functional.one_hot(torch.tensor(PAD), 257).float()
        return logits, x[:, 0]


class JunkAfter(torch.nn.Module):
    """A stand-in auto-encoder that spells every chunk right through position `keep` - 1 and
    byte 7 from there on."""

    spells_autoregressively = False

    def __init__(self, keep: int):
        super().__init__()
        self.keep = keep

    def forward(self, x, teacher_forcing=False):
        spelled = x.clone()
        spelled[:, self.keep :] = 7
        return torch.nn.functional.one_hot(spelled, 257).float(), x[:, 0]


def test_exact_match_reads_through_the_first_end_symbol_only():
    assert positions_to_end(pack_chunks([b"hi", b"abcd", b""], 4)).tolist() == [3, 4, 1]
    chunks = chunk_tensor(["ab ab"], 16)  # "ab" and " ab": their end symbols at positions 2 and 3
    after_ends = evaluate_chunks(JunkAfter(4), chunks, 8, torch.device("cpu"))
    assert after_ends["exact_match"] == 1.0 and after_ends["byte_accuracy"] == 1.0  # junk only after the ends
    on_an_end = evaluate_chunks(JunkAfter(3), chunks, 8, torch.device("cpu"))
    assert on_an_end["exact_match"] == 0.5  # "ab" ends at 2 and stays exact; " ab" loses its end symbol
    assert on_an_end["byte_accuracy"] == 1.0


def test_byte_accuracy_by_train_frequency():
    texts = ["ab ab ab cd x"]  # chunks "ab", " ab", " ab", " cd", " x"
    chunks = chunk_tensor(texts, 16)
    train = ["ab" + " ab" * 200 + " x" * 5]
    counts = train_frequency(chunks, train, 16)
    assert counts.tolist() == [1, 200, 200, 0, 5]
    metrics = evaluate_chunks(CopiesAllBut(ord("a")), chunks, 2, torch.device("cpu"), counts)
    assert metrics["byte_accuracy_train_over_100"] == 1.0  # " ab" twice
    assert metrics["byte_accuracy_train_3_10"] == 1.0  # " x"
    assert metrics["byte_accuracy_train_0_2"] == pytest.approx(3 / 5)  # "ab" wrong (2 bytes), " cd" right (3 bytes)
    assert "byte_accuracy_train_11_100" not in metrics  # no val chunk is in that bucket
    assert metrics["byte_accuracy"] == pytest.approx(11 / 13)
    assert bucket_byte_shares(chunks, counts) == pytest.approx({
        "byte_share_train_over_100": 6 / 13, "byte_share_train_11_100": 0.0, "byte_share_train_3_10": 2 / 13,
        "byte_share_train_0_2": 5 / 13})
    assert "byte_accuracy_train_0_2" not in evaluate_chunks(CopiesAllBut(0), chunks, 2, torch.device("cpu"))


def test_norm_freezes_after_its_share_of_steps(tiny_params, tmp_path):
    """After pretrain.norm_freeze x steps the running statistics stop moving (eval-mode norm)."""
    for freeze, directory, tracked in [(0.5, "a", 3), (1.0, "b", 6)]:
        make_run(tiny_params, tmp_path / directory, norm_freeze=freeze, checkpoint_every=3).run()
        halfway, final = (load_checkpoint(tmp_path / directory / f"step_0000000{s}.pt")["model"] for s in (3, 6))
        assert int(final["fsq_norm.num_batches_tracked"]) == tracked
        same = torch.equal(halfway["fsq_norm.running_mean"], final["fsq_norm.running_mean"])
        assert same == (freeze == 0.5)


def test_resume_is_exact(tiny_params, tmp_path):
    straight_model, straight = make_run(tiny_params, tmp_path / "a").run()
    halfway = make_run(tiny_params, tmp_path / "b")
    _, first_half = halfway.run(stop_after=3)
    assert first_half.step == 3 and [p.name for p in halfway.checkpoints.step_files()] == ["step_00000003.pt"]
    resumed_model, resumed = make_run(tiny_params, tmp_path / "b").run()
    assert resumed.step == straight.step == 6
    without_speed = [{k: v for k, v in row.items() if k != "steps_per_s"} for row in straight.history]
    assert [{k: v for k, v in row.items() if k != "steps_per_s"} for row in resumed.history] == without_speed
    for (name, a), (_, b) in zip(straight_model.state_dict().items(), resumed_model.state_dict().items(), strict=True):
        assert torch.equal(a, b), name
    final = load_checkpoint(tmp_path / "b" / "step_00000006.pt")
    assert final["data"] == load_checkpoint(tmp_path / "a" / "step_00000006.pt")["data"]
    # 2 batches by occurrence, then 4 from the capped rows (tiny params: repeat_cap 1 after 0.34 of 6 steps)
    assert final["data"]["corpus"]["batches"] == 6 and final["data"]["corpus"]["after"]["offset"] > 0


def test_checkpoints_keep_last_k_and_the_best_weights(tiny_params, tmp_path):
    run_ = make_run(tiny_params, tmp_path / "c", steps=9, checkpoint_every=3)
    model, state = run_.run()
    assert [p.name for p in run_.checkpoints.step_files()] == ["step_00000006.pt", "step_00000009.pt"]
    final = load_checkpoint(tmp_path / "c" / "step_00000009.pt")
    assert final["best_step"] == state.best_step and set(final["best_model"]) == set(model.state_dict())
    for name, tensor in model.state_dict().items():  # the returned model is the best one
        assert torch.equal(tensor, final["best_model"][name]), name


def test_sigkill_then_rerun_resumes(pipeline_repo, tiny_params):
    params = {**tiny_params, "pretrain": {**tiny_params["pretrain"], "steps": 400, "checkpoint_every": 2,
                                          "eval_every": 200}}
    (pipeline_repo / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    run(["python", "pipeline/prepare_corpus.py"], pipeline_repo)
    run(["python", "pipeline/split.py"], pipeline_repo)
    write_noae_pieces(pipeline_repo)
    process = subprocess.Popen([sys.executable, "pipeline/pretrain.py"], cwd=pipeline_repo,
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    checkpoints = pipeline_repo / "checkpoints" / "pretrain"
    deadline = time.time() + 120
    while time.time() < deadline and len(list(checkpoints.glob("*/step_*.pt"))) < 2:
        time.sleep(0.05)
    process.send_signal(signal.SIGKILL)
    process.wait()
    # The kill may cut a write short: only its temp file is partial, every checkpoint name loads.
    [run_dir] = list(checkpoints.iterdir())
    named = [f for f in run_dir.iterdir() if not f.name.startswith(".")]
    assert named and all(f.name.startswith("step_") for f in named)
    steps = [load_checkpoint(f)["step"] for f in named]
    assert steps and all(s % 2 == 0 for s in steps)
    (run_dir / ".step_99999998.pt.tmp-12345").write_bytes(b"half a checkpoint")  # as a kill mid-write leaves
    rerun = run(["python", "pipeline/pretrain.py"], pipeline_repo)
    assert f"at step {max(steps)}" in rerun.stdout
    assert (pipeline_repo / "models/autoencoder/model.safetensors").exists()
    assert not [f.name for f in run_dir.iterdir() if ".tmp" in f.name]


def test_bundle_errors_name_the_file(tmp_path):
    params = params_from_dict({"autoencoder": {"conv_channels": [8, 8, 8], "deconv_channels": [8, 8, 8],
                                               "d_latent": 16, "decoder_hidden": 16}})
    model = ByteAutoEncoder(params.autoencoder, params.fsq.levels, 16)
    path = save_autoencoder(model, tmp_path / "ae", meta={"step": 1})
    loaded, meta = load_autoencoder(path)
    assert meta["step"] == 1
    x = pack_chunks([b"abc"], 16)
    assert torch.equal(loaded.eval()(x)[0], model.eval()(x)[0])

    (path / "model.safetensors").write_bytes(b"garbage")
    with pytest.raises(BundleError, match=r"ae/model.safetensors: SHA-256 differs from meta.json"):
        load_autoencoder(path)
    wrong = params_from_dict({"autoencoder": {"conv_channels": [8, 8, 8], "deconv_channels": [8, 8, 8],
                                              "d_latent": 32, "decoder_hidden": 16}})
    bigger = ByteAutoEncoder(wrong.autoencoder, params.fsq.levels, 16)
    write_bundle(path, "fsqtok.autoencoder", autoencoder_config(bigger), model.state_dict())
    with pytest.raises(BundleError, match=r"ae/model.safetensors: weights do not match config.json"):
        load_autoencoder(path)
    older = autoencoder_config(model)
    del older["autoencoder"]["norm_scale"]  # a bundle from before the key existed
    write_bundle(path, "fsqtok.autoencoder", older, model.state_dict())
    with pytest.raises(BundleError, match=r"config.json: bad auto-encoder settings \(lacks autoencoder.norm_scale; "
                                          r"made by an older fsqtok, retrain it \(dvc repro\)\)"):
        load_autoencoder(path)
    (path / "meta.json").unlink()
    with pytest.raises(BundleError, match=r"ae/meta.json: missing"):
        load_autoencoder(path)
    with pytest.raises(BundleError, match=r"nowhere: no such bundle folder"):
        load_autoencoder(tmp_path / "nowhere")
    (path / "config.json").write_text('{"format": "fsqtok.autoencoder", "format_version": 99}')
    with pytest.raises(BundleError, match="format_version 99 is not supported"):
        load_autoencoder(path)
