"""The evaluate stage: the trained tokenizer against the untrained auto-encoder and the other
tokenizers, on val and test -> metrics.json and one offline report.html with plots."""

from __future__ import annotations

from functools import partial
from pathlib import Path

from fsqtok.autoencoder.data import chunk_tensor
from fsqtok.autoencoder.metrics import BUCKET_ACCURACIES
from fsqtok.config import Params
from fsqtok.eval.bench import tokenizer_speeds
from fsqtok.eval.suite import (
    reconstruction_report,
    resident_memory_mb,
    speed_documents,
    tokenizer_report,
    without_cases,
)
from fsqtok.report.html import ablation_paragraph, autoencoder_section, evaluation_report
from fsqtok.report.plots import plot_bars, plot_lines
from fsqtok.store.files import atomic_write_bytes, read_csv, read_json, read_texts, write_json
from fsqtok.store.provenance import git_rev
from fsqtok.tokenizers.loading import load_tokenizer, tokenizer_paths

PARAMS = ("seed", "chunking", "baseline.extra", "evaluate", "tracking")  # the params it reads; dvc.yaml lists the same


def run_evaluate(params: Params, split_dir: Path, tokenizer_dir: Path, baselines_dir: Path, untrained: Path,
                 pretrain_dir: Path, codebook_dir: Path, out_dir: Path, tracker) -> dict:
    """`pretrain_dir` and `codebook_dir` hold the pretrain and prune stages' metrics.json (and the
    curve and rank-frequency plot) for the report."""
    config = params.evaluate
    texts = {split: read_texts(split_dir / f"{split}.parquet") for split in ("val", "test")}
    paths = tokenizer_paths(tokenizer_dir, baselines_dir, params.baseline.extra)
    tokenizers = {name: load_tokenizer(path) for name, path in paths.items()}
    model = tokenizers["fsqtok"].model
    on = {split: reconstruction_report(model, chunk_tensor(texts[split], model.max_chunk_bytes,
                                                           config.max_chunks, params.seed)) for split in texts}
    reconstruction = {**on["val"], "test_chunks": on["test"]["val_chunks"]}
    metrics = {"reconstruction": reconstruction, "tokenizers": {
        split: {name: tokenizer_report(tok, split_texts) for name, tok in tokenizers.items()}
        for split, split_texts in texts.items()}}
    timed = speed_documents(texts["val"], config.speed_bytes)
    speeds = tokenizer_speeds({name: partial(load_tokenizer, path) for name, path in paths.items()}, timed,
                              config.speed_repeats)
    for name, path in paths.items():
        metrics["tokenizers"]["val"][name].update(speeds[name], resident_mb=resident_memory_mb(path, "\n".join(timed)))
    before = read_json(untrained)
    metrics["headline"] = headline(metrics, before)
    plots = draw_plots(metrics, pretrain_dir / "curve.csv", out_dir) + [codebook_dir / "rank_frequency.png"]
    run_meta = {"git_rev": git_rev(), "params_hash": params.digest(*PARAMS)}
    codebook = read_json(codebook_dir / "metrics.json")
    autoencoder = (autoencoder_section(read_json(pretrain_dir / "metrics.json"), codebook)
                   + ablation_paragraph(metrics["tokenizers"]["val"], codebook))
    report = evaluation_report(metrics, before, plots, run_meta, autoencoder)
    atomic_write_bytes(out_dir / "report.html", report.encode())
    write_json(out_dir / "metrics.json", {**metrics, "reconstruction": without_cases(reconstruction)})
    tracker.metrics({"headline": metrics["headline"], "tokenizers": metrics["tokenizers"]})
    tracker.artifact(out_dir / "report.html")
    return metrics


def headline(metrics: dict, before: dict) -> dict:
    """The numbers a reader looks at first: reconstruction before/after, compression vs BPE, vs
    the multi-word BPE and vs the same selection without the auto-encoder (above 1: fsqtok better)."""
    val, after = metrics["tokenizers"]["val"], metrics["reconstruction"]["val_chunks"]
    return {
        "byte_accuracy_before": before["val_chunks"]["byte_accuracy"],
        "byte_accuracy_after": after["byte_accuracy"],
        "exact_match_after": after["exact_match"],
        "fsqtok_bytes_per_token": val["fsqtok"]["bytes_per_token"],
        "bpe_bytes_per_token": val["bpe"]["bytes_per_token"],
        "fsqtok_vs_bpe_compression": val["fsqtok"]["bytes_per_token"] / val["bpe"]["bytes_per_token"],
        "fsqtok_vs_multiword_compression": val["fsqtok"]["bytes_per_token"] / val["multiword"]["bytes_per_token"],
        "fsqtok_vs_noae_compression": val["fsqtok"]["bytes_per_token"] / val["fsqtok_noae"]["bytes_per_token"],
        "fsqtok_lossless_rate": val["fsqtok"]["lossless_rate"],
    }


def draw_plots(metrics: dict, curve: Path, out_dir: Path) -> list[Path]:
    val = metrics["tokenizers"]["val"]
    paths = [out_dir / "bytes_per_token.png", out_dir / "fallback_share.png"]
    plot_bars({n: m["bytes_per_token"] for n, m in val.items()}, paths[0], "Compression on val", "bytes / token")
    plot_bars({n: 1 - m["learned_byte_share"] for n, m in val.items()}, paths[1],
              "Bytes left to byte fallback (val)", "share of bytes")
    if curve.exists():
        paths.append(out_dir / "training_curve.png")
        rows = read_csv(curve)
        columns = ["byte_accuracy", "exact_match", *(c for c in BUCKET_ACCURACIES if c in rows.columns)]
        plot_lines(rows, "step", columns, paths[-1], "Pretrain (val): byte accuracy by times seen in train")
    return paths
