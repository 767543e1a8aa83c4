"""The baseline_eval stage: the untrained auto-encoder (fixed seed) through the reconstruction
suite, and BPE / multi-word BPE / Unigram / word / byte baselines and fsqtok's own selection
without the auto-encoder (`fsqtok_noae`, whose pieces pretrain then learns) trained on train at
prune.vocab_size through the tokenizer suite on val. The "before" that evaluate compares against."""

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
from fsqtok.tokenizers.candidates import candidate_counts, select_candidates
from fsqtok.tokenizers.fsqtok import PieceTokenizer
from fsqtok.tokenizers.multiword import MultiwordTokenizer
from fsqtok.tokenizers.select import prune_without_autoencoder, train_sample
from fsqtok.tokenizers.unigram import UnigramTokenizer

PARAMS = ("seed", "chunking", "autoencoder", "fsq", "prune.vocab_size", "prune.max_candidates", "prune.pool_size",
          "prune.shrink_keep", "prune.sample_bytes", "baseline", "evaluate", "tracking")
BUNDLES = ("bpe", "multiword", "unigram", "word", "fsqtok_noae")  # written under models/baselines/


def noae_tokenizer(train: list[str], config, max_bytes: int) -> PieceTokenizer:
    """fsqtok's selection (see tokenizers.select) over every candidate, none filtered by an
    auto-encoder: the ablation `fsqtok_noae`, and the strings pretrain teaches the auto-encoder."""
    chunks, joins = candidate_counts(train, max_bytes)
    candidates = select_candidates(chunks, joins, config.max_candidates)
    pieces = prune_without_autoencoder(candidates, config.vocab_size - FIRST_LEARNED_ID,
                                       train_sample(train, config.sample_bytes), config.pool_size,
                                       config.shrink_keep, max_bytes)
    return PieceTokenizer(pieces, max_bytes)


def run_baseline_eval(params: Params, split_dir: Path, baselines_dir: Path, metrics: Path, untrained: Path,
                      tracker) -> dict:
    """Writes the BUNDLES under `baselines_dir`, the numbers to `metrics` and the untrained
    auto-encoder's full report (per-case texts included) to `untrained`."""
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
                 "byte": ByteTokenizer(),
                 "fsqtok_noae": noae_tokenizer(train, params.prune, params.chunking.max_chunk_bytes)}
    report = {"untrained_autoencoder": without_cases(before),  # speeds: the evaluate stage times every tokenizer
              "tokenizers": {name: tokenizer_report(tok, val) for name, tok in baselines.items()}}
    for name in BUNDLES:
        baselines[name].save(baselines_dir / name)
    write_json(metrics, report)
    write_json(untrained, before)
    tracker.metrics(report)
    return report
