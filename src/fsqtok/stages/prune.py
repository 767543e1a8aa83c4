"""Stage prune: auto-encoder + train split -> the verified top-k vocabulary as a tokenizer
bundle, codebook metrics and plots."""

from __future__ import annotations

from pathlib import Path

from fsqtok.autoencoder.codebook import codebook_stats
from fsqtok.autoencoder.io import load_autoencoder
from fsqtok.config import Params
from fsqtok.eval.metrics import tokenization_metrics
from fsqtok.report.plots import coverage_curve, plot_codebook
from fsqtok.store.files import read_texts, write_json
from fsqtok.tokenizers.base import FIRST_LEARNED_ID
from fsqtok.tokenizers.candidates import candidate_counts, select_candidates
from fsqtok.tokenizers.fsqtok import AutoEncoderTokenizer
from fsqtok.tokenizers.hf import export_hf
from fsqtok.tokenizers.loading import load_tokenizer
from fsqtok.tokenizers.select import fixed_points, prune, train_sample


def occurrence_coverage(code_counts: dict, kept_codes: list[int]) -> float:
    """Share of train chunk occurrences whose code is one of `kept_codes`.
    Example: ({1: 3.0, 2: 1.0}, [1]) -> 0.75"""
    kept = set(kept_codes)
    return sum(v for c, v in code_counts.items() if c in kept) / max(1.0, sum(code_counts.values()))


def pieces_verified(model, tokenizer, batch_size: int) -> float:
    """Share of a tokenizer's multi-byte pieces that are fixed points of the auto-encoder: how much
    of that vocabulary fsqtok could use at all. Pieces longer than a chunk (a 32k BPE has some)
    count as not verified."""
    pieces = [p for i in range(FIRST_LEARNED_ID, tokenizer.vocab_size) if len(p := tokenizer.decode_bytes([i])) > 1]
    fitting = [p for p in pieces if len(p) <= model.max_chunk_bytes]
    return len(fixed_points(model, fitting, batch_size)[1]) / max(1, len(pieces))


PARAMS = ("chunking", "prune", "tracking")  # the params stage prune reads; dvc.yaml lists the same


def run_prune(params: Params, autoencoder: Path, split_dir: Path, bpe: Path, noae: Path, out: Path, reports: Path,
              tracker) -> dict:
    """The prune stage: codebook use of the train chunks, the verified top-k vocabulary as a
    tokenizer bundle at `out`, codebook metrics (with the shares of the BPE baseline's pieces at
    `bpe` and of the fsqtok_noae pieces at `noae` that are fixed points) and plots under `reports`."""
    config = params.prune
    model, ae_meta = load_autoencoder(autoencoder)
    train, val = read_texts(split_dir / "train.parquet"), read_texts(split_dir / "val.parquet")
    chunks, joins = candidate_counts(train, model.max_chunk_bytes)
    stats, code_counts = codebook_stats(model, chunks, config.batch_size)
    candidates = select_candidates(chunks, joins, config.max_candidates)
    n_pieces, sample = config.vocab_size - FIRST_LEARNED_ID, train_sample(train, config.sample_bytes)
    vocab = prune(model, candidates, n_pieces, config.batch_size, sample, config.pool_size, config.shrink_keep)
    tokenizer = AutoEncoderTokenizer(vocab.pieces, vocab.codes, model.max_chunk_bytes, model=model)
    noae_tokenizer = load_tokenizer(noae)
    metrics = {
        **stats.as_metrics(),
        "vocab_size": tokenizer.vocab_size,
        "learned_pieces": len(vocab.pieces),
        "candidates": vocab.candidates,
        "candidate_codes": vocab.candidate_codes,
        "verified_codes": vocab.verified_codes,
        "top_k_occurrence_coverage": occurrence_coverage(code_counts, vocab.codes),
        "vocab_shortfall": config.vocab_size - tokenizer.vocab_size,  # ids prune.vocab_size asked for but not verified
        "val": tokenization_metrics(tokenizer, val),
        "noae_pieces_shared": sum(p in tokenizer.vocab.piece_to_id for p in noae_tokenizer.vocab.pieces),
        "noae_pieces_verified": pieces_verified(model, noae_tokenizer, config.batch_size),  # what pretrain taught
        "bpe_pieces_verified": pieces_verified(model, load_tokenizer(bpe), config.batch_size),
    }
    tokenizer.save(out, meta={"autoencoder": ae_meta, "codebook": metrics,
                              "params_hash": params.digest("chunking", "prune")})
    export_hf(tokenizer, out / "hf")  # the same ids through Hugging Face tokenizers / transformers
    tracker.artifacts(out / "hf", "hf")
    plot_codebook(stats.rank_frequency, coverage_curve(stats.rank_frequency), reports)
    write_json(reports / "metrics.json", metrics)
    tracker.metrics(metrics)
    for name in ("rank_frequency.png", "coverage.png"):
        tracker.artifact(reports / name)
    return metrics
