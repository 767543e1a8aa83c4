import math
from functools import partial

import pytest
import torch

from fsqtok.config import params_from_dict
from fsqtok.lm.data import batch_inputs, pack
from fsqtok.lm.io import load_lm, save_lm
from fsqtok.lm.model import KVCache, Transformer, TransformerConfig
from fsqtok.lm.sample import filter_logits, generate, generate_many, left_padded, unconditional_samples
from fsqtok.lm.train import bits_per_byte, masked_nll, rows_per_pass, train_lm
from fsqtok.runtime.optim import optimizer_step
from fsqtok.store.bundle import BundleError
from fsqtok.text.split import take_bytes
from fsqtok.tokenizers.baselines import ByteTokenizer


def test_pack_hand_built_batch():
    tokens, segments = pack([[5], [6, 7]], context=3, bos=1, eos=2, seed=None)
    assert tokens.tolist() == [[1, 5, 2, 1], [1, 6, 7, 2]]
    assert segments.tolist() == [[0, 0, 0, 1], [1, 1, 1, 1]]
    batch = batch_inputs(tokens, segments)
    assert batch["ids"].tolist() == [[1, 5, 2], [1, 6, 7]]
    assert batch["targets"].tolist() == [[5, 2, 1], [6, 7, 2]]
    # row 0: the <bos> of document 1 is not a target of document 0
    assert batch["loss_mask"].tolist() == [[True, True, False], [True, True, True]]
    assert batch["positions"].tolist() == [[0, 1, 2], [0, 1, 2]]


def test_sawtooth_mask_and_position_reset():
    tokens, segments = pack([[5, 5], [6]], context=6, bos=1, eos=2, seed=None)
    assert tokens.tolist() == [[1, 5, 5, 2, 1, 6, 2]]
    batch = batch_inputs(tokens, segments)
    assert batch["positions"].tolist() == [[0, 1, 2, 3, 0, 1]]
    expected = [
        [1, 0, 0, 0, 0, 0],
        [1, 1, 0, 0, 0, 0],
        [1, 1, 1, 0, 0, 0],
        [1, 1, 1, 1, 0, 0],
        [0, 0, 0, 0, 1, 0],
        [0, 0, 0, 0, 1, 1],
    ]
    assert batch["attn_mask"][0].int().tolist() == expected
    assert batch["loss_mask"].tolist() == [[True, True, True, False, True, True]]


def test_packing_keeps_documents_apart_in_the_model():
    torch.manual_seed(0)
    model = Transformer(TransformerConfig(vocab_size=20, n_layer=1, n_head=2, d_model=8, max_positions=8)).eval()
    a = batch_inputs(*pack([[5, 6], [7, 8]], 6, 1, 2, None))
    b = batch_inputs(*pack([[9, 9], [7, 8]], 6, 1, 2, None))  # other first document, same second one
    logits_a = model(a["ids"], a["attn_mask"], a["positions"])
    logits_b = model(b["ids"], b["attn_mask"], b["positions"])
    assert torch.allclose(logits_a[0, 4:], logits_b[0, 4:], atol=1e-6)  # document 2 cannot see document 1
    assert not torch.allclose(logits_a[0, 1:4], logits_b[0, 1:4])


def test_bits_per_byte_of_a_uniform_model():
    model = Transformer(TransformerConfig(vocab_size=8, n_layer=1, n_head=1, d_model=4, max_positions=8))
    torch.nn.init.zeros_(model.token_embedding.weight)  # tied head -> all logits 0 -> uniform
    tokens, segments = pack([[3, 4, 5]], 8, 1, 2, None)
    result = bits_per_byte(model, tokens, segments, n_bytes=2, device=torch.device("cpu"))
    assert result["val_tokens"] == 4  # 3 ids + <eos>
    assert result["bpb"] == pytest.approx(4 * math.log(8) / (math.log(2) * 2))


def one_step(rows: tuple[torch.Tensor, torch.Tensor], micro_batches: bool) -> tuple[float, dict]:
    """The loss and the weights after one SGD step of a seeded LM on `rows`."""
    torch.manual_seed(0)
    model = Transformer(TransformerConfig(ByteTokenizer().vocab_size, 1, 2, 16, 16))
    count = masked_nll(model, rows, "cpu")[1]

    def micro(start: int) -> torch.Tensor:
        return masked_nll(model, (rows[0][start : start + 4], rows[1][start : start + 4]), "cpu")[0] / count

    parts = [partial(micro, start) for start in range(0, len(rows[0]), 4)]
    loss = parts if micro_batches else masked_nll(model, rows, "cpu")[0] / count
    value = optimizer_step(model, torch.optim.SGD(model.parameters(), lr=0.5), loss, 0.0, "diverged")
    return value, model.state_dict()


def test_rows_per_pass_keep_the_logits_within_the_budget():
    assert rows_per_pass(Transformer(TransformerConfig(4096, 1, 2, 16, 128))) == 4
    assert rows_per_pass(Transformer(TransformerConfig(259, 1, 2, 16, 128))) == 63
    assert rows_per_pass(Transformer(TransformerConfig(40000, 1, 2, 16, 128))) == 1


def test_a_step_over_micro_batches_is_the_step_over_the_whole_batch():
    tokens, segments = pack([ByteTokenizer().encode("In the beginning " * (i + 1)) for i in range(12)], 16, 1, 2, 0)
    rows = tokens[:10], segments[:10]  # micro-batches of 4, 4 and 2 rows
    torch.manual_seed(0)
    initial = Transformer(TransformerConfig(ByteTokenizer().vocab_size, 1, 2, 16, 16)).state_dict()
    (whole_loss, whole), (micro_loss, micro) = one_step(rows, False), one_step(rows, True)
    assert micro_loss == pytest.approx(whole_loss, rel=1e-6)
    for key, tensor in whole.items():
        assert torch.allclose(tensor, micro[key], atol=1e-6), key
    assert not torch.allclose(whole["blocks.0.qkv.weight"], initial["blocks.0.qkv.weight"])


def test_training_lowers_bpb_and_bundle_checks_tokenizer(tmp_path):
    config = params_from_dict({"lm": {"n_layer": 1, "n_head": 2, "d_model": 16, "context_tokens": 16,
                                      "batch_size": 8, "steps": 30, "lr": 0.01, "warmup_steps": 2,
                                      "eval_every": 10}}).lm
    tokenizer = ByteTokenizer()
    docs = [tokenizer.encode("abcabcabc abc abcabc") for _ in range(20)]
    tokens, segments = pack(docs, 16, 1, 2, 0)
    torch.manual_seed(0)
    model = Transformer(TransformerConfig(tokenizer.vocab_size, 1, 2, 16, 16))
    before = bits_per_byte(model, tokens, segments, 400, torch.device("cpu"))["bpb"]
    curve = train_lm(model, tokens, segments, config, torch.device("cpu"), 0,
                     lambda step: bits_per_byte(model, tokens, segments, 400, torch.device("cpu")), "byte")
    assert [row["step"] for row in curve] == [10, 20, 30]
    assert curve[-1]["bpb"] < before / 2
    path = save_lm(model, tokenizer, tmp_path / "lm", meta={})
    loaded = load_lm(path, tokenizer)
    assert torch.equal(loaded(tokens[:, :-1]), model.eval()(tokens[:, :-1]))

    class OtherBytes(ByteTokenizer):
        name = "other"

    with pytest.raises(BundleError, match="this LM was trained with tokenizer 'byte'"):
        load_lm(path, OtherBytes())


def test_sampling_filters_and_stops_at_eos():
    assert filter_logits(torch.tensor([3.0, 2.0, 1.0]), 2, 1.0).tolist() == [3.0, 2.0, float("-inf")]
    kept = filter_logits(torch.tensor([10.0, 0.0, 0.0]), 0, 0.5)
    assert kept.tolist() == [10.0, float("-inf"), float("-inf")]
    model = Transformer(TransformerConfig(vocab_size=6, n_layer=1, n_head=1, d_model=4, max_positions=8))
    with torch.no_grad():  # every logit comes from the final norm's bias: prefer one id
        model.ln_f.weight.zero_()
        model.token_embedding.weight.zero_()
        model.token_embedding.weight[4, 0] = 10.0
        model.ln_f.bias.copy_(torch.tensor([1.0, 0, 0, 0]))
    assert generate(model, [1], max_new=5, eos_id=2, top_k=1, seed=0) == [4] * 5
    with torch.no_grad():
        model.token_embedding.weight[2, 0] = 20.0
    assert generate(model, [1], max_new=5, eos_id=2, top_k=1, seed=0) == []


def test_left_padding_keeps_each_row_as_it_is_alone():
    ids, mask, positions = left_padded([[1, 5, 6], [1]])
    assert ids.tolist() == [[1, 5, 6], [0, 0, 1]]
    assert positions.tolist() == [[0, 1, 2], [0, 0, 0]]
    assert mask[1].tolist() == [[True, False, False], [False, True, False], [False, False, True]]
    assert mask[0].tolist() == [[True, False, False], [True, True, False], [True, True, True]]


def test_a_cached_step_gives_the_logits_of_the_whole_window():
    torch.manual_seed(0)
    model = Transformer(TransformerConfig(vocab_size=40, n_layer=2, n_head=2, d_model=16, max_positions=12)).eval()
    windows, newest = [[1, 5, 6, 7], [1, 9]], [11, 12]
    ids, mask, positions = left_padded(windows)
    cache = KVCache()
    with torch.no_grad():
        model(ids, mask, positions, cache=cache)
        assert [k.shape for k, _ in cache.layers] == [(2, 2, 4, 8)] * 2  # (B, nh, L, hs) per block
        step_mask = torch.cat([mask[:, -1], torch.ones(2, 1, dtype=torch.bool)], 1)[:, None]  # (B, 1, L + 1)
        step = model(torch.tensor([newest]).T, step_mask, torch.tensor([[4], [2]]), last_only=True, cache=cache)
        whole = model(*left_padded([w + [n] for w, n in zip(windows, newest, strict=True)]), last_only=True)
        assert torch.allclose(step, whole, atol=1e-5)
        cache.keep(torch.tensor([1]))  # row 1 alone goes on
        assert [k.shape for k, _ in cache.layers] == [(1, 2, 5, 8)] * 2


def test_prompts_sampled_side_by_side_equal_each_alone():
    torch.manual_seed(0)
    model = Transformer(TransformerConfig(vocab_size=40, n_layer=2, n_head=2, d_model=16, max_positions=12))
    prompts, seeds = [[1, 7, 8, 9], [1], [1, 30]], [5, 6, 7]
    together = generate_many(model, prompts, 20, eos_id=2, seeds=seeds, temperature=1.5)
    alone = [generate(model, p, 20, eos_id=2, temperature=1.5, seed=s) for p, s in zip(prompts, seeds, strict=True)]
    assert together == alone
    assert len({tuple(ids) for ids in together}) == 3 and max(map(len, together)) > 12  # past the window too


def test_generation_stops_a_row_once_it_has_enough():
    torch.manual_seed(0)
    model = Transformer(TransformerConfig(vocab_size=40, n_layer=1, n_head=2, d_model=16, max_positions=12))
    prompts, seeds = [[1], [1], [1]], [5, 6, 7]
    full = generate_many(model, prompts, 20, eos_id=2, seeds=seeds)
    wanted = [3, 20, 0]  # row 2 stops after its first id
    short = generate_many(model, prompts, 20, eos_id=2, seeds=seeds, enough=lambda row, ids: len(ids) > wanted[row])
    assert short == [full[0][:4], full[1], full[2][:1]]


def test_unconditional_samples_have_their_length_and_own_streams():
    torch.manual_seed(0)
    model = Transformer(TransformerConfig(vocab_size=30, n_layer=1, n_head=2, d_model=16, max_positions=16))
    letters = lambda ids: bytes(97 + (i - 3) % 26 for i in ids if i >= 3)  # noqa: E731
    texts = unconditional_samples(model, letters, 1, 2, 3, 40, 1.0, 0, 1.0, seed=0)
    assert [len(t) for t in texts] == [40, 40, 40] and len(set(texts)) == 3
    assert any("\n" in t for t in texts)  # <eos> ended a document early: the next one follows a newline
    assert unconditional_samples(model, letters, 1, 2, 3, 40, 1.0, 0, 1.0, seed=0) == texts


def test_take_bytes():
    assert take_bytes(["ab", "cd", "ef"], 4) == (["ab", "cd"], 4)
    assert take_bytes(["abcdef"], 2) == (["abcdef"], 6)


def test_init_from_codes_projects_piece_embeddings():
    from fsqtok.autoencoder.model import ByteAutoEncoder
    from fsqtok.lm.embedding_init import INIT_STD, init_from_codes
    from fsqtok.tokenizers.fsqtok import AutoEncoderTokenizer

    params = params_from_dict({"autoencoder": {"conv_channels": [8, 8, 8], "deconv_channels": [8, 8, 8],
                                               "d_latent": 16, "decoder_hidden": 32}})
    torch.manual_seed(0)
    autoencoder = ByteAutoEncoder(params.autoencoder, params.fsq.levels, 16).eval()
    tok = AutoEncoderTokenizer([b" the", b" of", b"ing", b" and"], [5, 900, 40000, 123456], 16, model=autoencoder)
    model = Transformer(TransformerConfig(tok.vocab_size, 1, 2, 8, 8))
    before = model.token_embedding.weight.detach().clone()
    init_from_codes(model, tok)
    after = model.token_embedding.weight.detach()
    assert torch.equal(after[:259], before[:259])  # specials and bytes keep their init
    assert not torch.equal(after[259:], before[259:])
    assert after[259:, :4].std().item() == pytest.approx(INIT_STD, rel=1e-3)
    for rng_seed in (1, 2):  # the projection must not depend on the global RNG's state
        torch.manual_seed(rng_seed)
        again = Transformer(TransformerConfig(tok.vocab_size, 1, 2, 8, 8))
        init_from_codes(again, tok)
        assert torch.equal(again.token_embedding.weight[259:, :4], after[259:, :4])
    empty = AutoEncoderTokenizer([], [], 16, model=autoencoder)
    small = Transformer(TransformerConfig(empty.vocab_size, 1, 2, 8, 8))
    init_from_codes(small, empty)  # no learned pieces: nothing to do, no error


def test_default_run_prompts_get_their_own_continuations():
    """The committed default run: each prompt samples its own random stream (seed + i), so the
    trained LMs' continuations of the two prompts share no run of 16 characters."""
    import json

    from conftest import ROOT

    prompts = params_from_dict({}).lm.prompts
    samples = json.loads((ROOT / "reports/integrate/samples.json").read_text())
    for name, texts in samples.items():
        first, second = (text[len(prompt):] for text, prompt in zip(texts, prompts, strict=True))
        shared = [first[i : i + 16] for i in range(len(first) - 15) if first[i : i + 16] in second]
        assert not shared, (name, shared[:3])
