"""The summary of a finished profile run (`fsqtok exp --profile ...`): what a reader of
reports/profiles/<name>/ needs without the run's workspace — the pretrain curve and best
metrics with their train-frequency buckets, the verified vocabulary, every tokenizer's compression
on val and test (same vocabulary size), the LMs' bits-per-byte per seed, and the seed's three test
strings through the auto-encoder."""

from __future__ import annotations

import shutil
from pathlib import Path

from fsqtok.autoencoder.metrics import BUCKET_ACCURACIES
from fsqtok.report.plots import plot_lines
from fsqtok.store.files import read_csv, read_json, write_json
from fsqtok.tokenizers.fsqtok import AutoEncoderTokenizer

SEED_STRINGS = ["hello world", "The quick brown fox", "123 test"]  # the seed's reconstruction tests


def profile_summary(root: Path) -> dict:
    """The summary of the pipeline outputs under `root` (a workspace after `dvc repro`)."""
    reports = root / "reports"
    pretrain, codebook = read_json(reports / "pretrain/metrics.json"), read_json(reports / "codebook/metrics.json")
    tokenizers = read_json(reports / "evaluate/metrics.json")["tokenizers"]
    tokenizer = AutoEncoderTokenizer.load(root / "models/tokenizer")
    return {
        "pretrain": {key: pretrain[key] for key in ("steps", "best_step", "best", "val_bytes")},
        "candidates": codebook["candidates"],
        "candidates_verified": codebook["verified_codes"],
        "vocab_size": codebook["vocab_size"],
        "vocab_shortfall": codebook["vocab_shortfall"],
        "bytes_per_token": {split: {name: row["bytes_per_token"] for name, row in tokenizers[split].items()}
                            for split in ("val", "test")},
        "lm": {name: {key: row[key] for key in ("val_bpb", "val_bpb_std", "val_bpb_per_seed")}
               for name, row in read_json(reports / "integrate/metrics.json").items() if isinstance(row, dict)},
        "seed_strings": {text: tokenizer.reconstruct(text) for text in SEED_STRINGS},
    }


def write_profile_report(root: Path, out: Path) -> dict:
    """metrics.json (profile_summary), curve.csv and curve.png of the run under `root` into `out`."""
    summary = profile_summary(root)
    out.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(root / "reports/pretrain/curve.csv", out / "curve.csv")
    rows = read_csv(out / "curve.csv")
    columns = [c for c in ["byte_accuracy", *BUCKET_ACCURACIES] if c in rows.columns]
    plot_lines(rows, "step", columns, out / "curve.png", f"{out.name}: val byte accuracy by times seen in train")
    write_json(out / "metrics.json", summary)
    return summary
