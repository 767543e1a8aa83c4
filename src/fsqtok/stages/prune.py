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
from fsqtok.tokenizers.select import prune, refine_sample


def occurrence_coverage(code_counts: dict, kept_codes: list[int]) -> float:
    """Share of train chunk occurrences whose code is one of `kept_codes`.
    Example: ({1: 3.0, 2: 1.0}, [1]) -> 0.75"""
    kept = set(kept_codes)
    return sum(v for c, v in code_counts.items() if c in kept) / max(1.0, sum(code_counts.values()))


PARAMS = ("chunking", "prune", "tracking")  # the params stage prune reads; dvc.yaml lists the same


def run_prune(params: Params, autoencoder: Path, split_dir: Path, out: Path, reports: Path, tracker) -> dict:
    """The prune stage: codebook use of the train chunks, the verified top-k vocabulary as a
    tokenizer bundle at `out`, codebook metrics and plots under `reports`."""
    config = params.prune
    model, ae_meta = load_autoencoder(autoencoder)
    train, val = read_texts(split_dir / "train.parquet"), read_texts(split_dir / "val.parquet")
    chunks, joins = candidate_counts(train, model.max_chunk_bytes)
    stats, code_counts = codebook_stats(model, chunks, config.batch_size)
    candidates = select_candidates(chunks, joins, config.max_candidates)
    vocab = prune(model, candidates, config.vocab_size - FIRST_LEARNED_ID, config.batch_size,
                  refine_sample(train, config.refine_sample_bytes), config.refine_rounds, config.refine_drop)
    tokenizer = AutoEncoderTokenizer(vocab.pieces, vocab.codes, model.max_chunk_bytes, model=model)
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
