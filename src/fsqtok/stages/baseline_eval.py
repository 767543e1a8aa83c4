"""The baseline_eval stage: the untrained auto-encoder (fixed seed) through the reconstruction
suite, and BPE / word / byte baselines trained on train at prune.vocab_size through the
tokenizer suite on val. The "before" that evaluate compares against."""

from __future__ import annotations

from pathlib import Path

import torch

from fsqtok.autoencoder.data import chunk_tensor
from fsqtok.autoencoder.model import ByteAutoEncoder
from fsqtok.config import Params
from fsqtok.eval.suite import reconstruction_report, speed_text, tokenizer_report, without_cases
from fsqtok.store.files import read_texts, write_json
from fsqtok.tokenizers.baselines import BPETokenizer, ByteTokenizer, WordTokenizer

PARAMS = ("seed", "chunking", "autoencoder", "fsq", "prune.vocab_size", "evaluate", "tracking")  # all it reads


def run_baseline_eval(params: Params, split_dir: Path, baselines_dir: Path, metrics: Path, untrained: Path,
                      tracker) -> dict:
    """Writes the BPE and word bundles under `baselines_dir`, the numbers to `metrics` and the
    untrained auto-encoder's full report (per-case texts included) to `untrained`."""
    train, val = read_texts(split_dir / "train.parquet"), read_texts(split_dir / "val.parquet")
    torch.manual_seed(params.seed)
    model = ByteAutoEncoder(params.autoencoder, params.fsq.levels, params.chunking.max_chunk_bytes).eval()
    val_chunks = chunk_tensor(val, params.chunking.max_chunk_bytes, params.evaluate.max_chunks, params.seed)
    before = reconstruction_report(model, val_chunks)
    baselines = {"bpe": BPETokenizer.train(train, params.prune.vocab_size),
                 "word": WordTokenizer.train(train, params.prune.vocab_size), "byte": ByteTokenizer()}
    timed = speed_text(val, params.evaluate.speed_bytes)
    report = {"untrained_autoencoder": without_cases(before),
              "tokenizers": {name: tokenizer_report(tok, val, timed, params.evaluate.speed_repeats)
                             for name, tok in baselines.items()}}
    baselines["bpe"].save(baselines_dir / "bpe")
    baselines["word"].save(baselines_dir / "word")
    write_json(metrics, report)
    write_json(untrained, before)
    tracker.metrics(report)
    return report
