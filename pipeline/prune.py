"""Stage prune: auto-encoder + train split -> models/tokenizer (verified top-k vocabulary),
codebook metrics and plots."""

from pathlib import Path

import typer

from fsqtok.bundle import load_autoencoder
from fsqtok.codebook import candidate_counts, codebook_stats, prune, select_candidates
from fsqtok.config import load_params
from fsqtok.device import set_threads
from fsqtok.errors import user_errors
from fsqtok.files import read_parquet, write_json
from fsqtok.metrics import tokenization_metrics
from fsqtok.plots import coverage_curve, plot_codebook
from fsqtok.tokenizer import FIRST_PIECE_ID, AutoEncoderTokenizer
from fsqtok.tracking import stage_run


def main(
    autoencoder: Path = Path("models/autoencoder"),
    split_dir: Path = Path("data/split"),
    out: Path = Path("models/tokenizer"),
    reports: Path = Path("reports/codebook"),
) -> None:
    with user_errors():
        params = load_params()
        set_threads(0)
        with stage_run("prune", params, ["chunking", "prune"]) as tracker:
            model, ae_meta = load_autoencoder(autoencoder)
            train = list(read_parquet(split_dir / "train.parquet", ["text"])["text"])
            val = list(read_parquet(split_dir / "val.parquet", ["text"])["text"])
            chunks, joins = candidate_counts(train, model.max_chunk_bytes)
            stats, code_counts = codebook_stats(model, chunks, params.prune.batch_size)
            candidates = select_candidates(chunks, joins, params.prune.max_candidates)
            n_pieces = params.prune.vocab_size - FIRST_PIECE_ID
            sample = refine_sample(train, params.prune.refine_sample_bytes)
            vocab = prune(model, candidates, n_pieces, params.prune.batch_size, sample,
                          params.prune.refine_rounds, params.prune.refine_drop)
            tokenizer = AutoEncoderTokenizer(vocab.pieces, vocab.codes, model.max_chunk_bytes, model=model)
            coverage = coverage_curve(stats.rank_frequency)
            top_k_codes = set(vocab.codes)
            metrics = {
                **stats.as_metrics(),
                "vocab_size": tokenizer.vocab_size,
                "learned_pieces": len(vocab.pieces),
                "candidates": vocab.candidates,
                "candidate_codes": vocab.candidate_codes,
                "verified_codes": vocab.verified_codes,
                "top_k_occurrence_coverage": sum(v for c, v in code_counts.items() if c in top_k_codes)
                / max(1.0, sum(code_counts.values())),
                "val": tokenization_metrics(tokenizer, val),
            }
            tokenizer.save(out, meta={"autoencoder": ae_meta, "codebook": metrics,
                                      "params_hash": params.digest("chunking", "prune")})
            plot_codebook(stats.rank_frequency, coverage, reports)
            write_json(reports / "metrics.json", metrics)
            tracker.metrics(metrics)
            for name in ("rank_frequency.png", "coverage.png"):
                tracker.artifact(reports / name)
        print(f"prune: {len(vocab.pieces)} verified pieces (vocab {tokenizer.vocab_size}); "
              f"val bytes/token {metrics['val']['bytes_per_token']:.3f} -> {out}")


def refine_sample(texts: list[str], n_bytes: int) -> bytes:
    """Every 4th train document up to n_bytes: a spread-out sample for usage counts."""
    return "\n".join(texts[::4]).encode("utf-8", "surrogatepass")[:n_bytes]


if __name__ == "__main__":
    typer.run(main)
