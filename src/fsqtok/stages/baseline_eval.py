"""The baseline_eval stage: the untrained auto-encoder (fixed seed) through the reconstruction
suite, and BPE / multi-word BPE / Unigram / word / byte baselines trained on train at prune.vocab_size
through the tokenizer suite on val. The "before" that evaluate compares against."""

from __future__ import annotations

from pathlib import Path

import torch

from fsqtok.autoencoder.data import chunk_tensor
from fsqtok.autoencoder.model import ByteAutoEncoder
from fsqtok.config import Params
from fsqtok.eval.suite import reconstruction_report, tokenizer_report, without_cases
from fsqtok.store.files import read_texts, write_json
from fsqtok.tokenizers.base import FIRST_LEARNED_ID
from fsqtok.tokenizers.baselines import BPETokenizer, ByteTokenizer, WordTokenizer
from fsqtok.tokenizers.multiword import MultiwordTokenizer
from fsqtok.tokenizers.unigram import UnigramTokenizer

PARAMS = ("seed", "chunking", "autoencoder", "fsq", "prune.vocab_size", "baseline", "evaluate", "tracking")


def run_baseline_eval(params: Params, split_dir: Path, baselines_dir: Path, metrics: Path, untrained: Path,
                      tracker) -> dict:
    """Writes the BPE, multiword, unigram and word bundles under `baselines_dir`, the numbers to `metrics` and the
    untrained auto-encoder's full report (per-case texts included) to `untrained`."""
    train, val = read_texts(split_dir / "train.parquet"), read_texts(split_dir / "val.parquet")
    torch.manual_seed(params.seed)
    model = ByteAutoEncoder(params.autoencoder, params.fsq.levels, params.chunking.max_chunk_bytes).eval()
    val_chunks = chunk_tensor(val, params.chunking.max_chunk_bytes, params.evaluate.max_chunks, params.seed)
    before = reconstruction_report(model, val_chunks)
    vocab_size = params.prune.vocab_size
    transition = max(FIRST_LEARNED_ID + 1, round(vocab_size * params.baseline.multiword_stage1_share))
    multiword = MultiwordTokenizer.train(train, vocab_size, transition,
                                         params.chunking.max_chunk_bytes, params.baseline.multiword_max_pretokens)
    baselines = {"bpe": BPETokenizer.train(train, vocab_size), "multiword": multiword,
                 "unigram": UnigramTokenizer.train(train, vocab_size), "word": WordTokenizer.train(train, vocab_size),
                 "byte": ByteTokenizer()}
    report = {"untrained_autoencoder": without_cases(before),  # speeds: the evaluate stage times every tokenizer
              "tokenizers": {name: tokenizer_report(tok, val) for name, tok in baselines.items()}}
    for name in ("bpe", "multiword", "unigram", "word"):
        baselines[name].save(baselines_dir / name)
    write_json(metrics, report)
    write_json(untrained, before)
    tracker.metrics(report)
    return report
