"""Stage evaluate: the trained tokenizer vs the untrained baseline and the other tokenizers,
on val and test -> reports/evaluate/{metrics.json, report.html}."""

from pathlib import Path

import pandas as pd
import torch
import typer

from fsqtok.config import load_params
from fsqtok.device import set_threads
from fsqtok.errors import user_errors
from fsqtok.evaluation import reconstruction_report, resident_memory_mb, speed_sample, tokenizer_report
from fsqtok.files import read_json, read_parquet, write_json
from fsqtok.loading import PIPELINE_TOKENIZERS, pipeline_tokenizer
from fsqtok.plots import plot_bars, plot_lines
from fsqtok.provenance import git_rev
from fsqtok.report import evaluation_report
from fsqtok.tracking import stage_run
from fsqtok.train_autoencoder import chunk_tensor


def main(
    split_dir: Path = Path("data/split"),
    baseline: Path = Path("reports/baseline/metrics.json"),
    curve: Path = Path("reports/pretrain/curve.csv"),
    codebook_dir: Path = Path("reports/codebook"),
    out_dir: Path = Path("reports/evaluate"),
) -> None:
    with user_errors():
        params = load_params()
        set_threads(0)
        with stage_run("evaluate", params, ["seed", "chunking", "evaluate"]) as tracker:
            texts = {s: list(read_parquet(split_dir / f"{s}.parquet", ["text"])["text"]) for s in ("val", "test")}
            before = read_json(baseline)
            tokenizers = {name: pipeline_tokenizer(name) for name in PIPELINE_TOKENIZERS}
            model = tokenizers["fsqtok"].model
            chunks = chunk_tensor(texts["val"], model.max_chunk_bytes, params.evaluate.max_chunks, params.seed)
            metrics = {"reconstruction": reconstruction_report(model, chunks, torch.device("cpu"))}
            test_chunks = chunk_tensor(texts["test"], model.max_chunk_bytes, params.evaluate.max_chunks, params.seed)
            on_test = reconstruction_report(model, test_chunks, torch.device("cpu"))
            metrics["reconstruction"]["test_chunks"] = on_test["val_chunks"]
            speed_text = speed_sample(texts["val"], params.evaluate.speed_bytes)
            metrics["tokenizers"] = {
                split: {name: tokenizer_report(tok, split_texts, speed_text, params.evaluate.speed_repeats)
                        for name, tok in tokenizers.items()}
                for split, split_texts in texts.items()
            }
            out_dir.mkdir(parents=True, exist_ok=True)
            for name, path in PIPELINE_TOKENIZERS.items():
                metrics["tokenizers"]["val"][name]["resident_mb"] = resident_memory_mb(path, speed_text)
            val = metrics["tokenizers"]["val"]
            metrics["headline"] = {
                "byte_accuracy_before": before["untrained_autoencoder"]["val_chunks"]["byte_accuracy"],
                "byte_accuracy_after": metrics["reconstruction"]["val_chunks"]["byte_accuracy"],
                "exact_match_after": metrics["reconstruction"]["val_chunks"]["exact_match"],
                "fsqtok_bytes_per_token": val["fsqtok"]["bytes_per_token"],
                "bpe_bytes_per_token": val["bpe"]["bytes_per_token"],
                "fsqtok_vs_bpe_compression": val["fsqtok"]["bytes_per_token"] / val["bpe"]["bytes_per_token"],
                "fsqtok_lossless_rate": val["fsqtok"]["lossless_rate"],
            }
            plots = draw_plots(metrics, curve, out_dir)
            run_meta = {"git_rev": git_rev(), "params_hash": params.digest("seed", "chunking", "evaluate")}
            html = evaluation_report(metrics, before, plots + [codebook_dir / "rank_frequency.png"], run_meta)
            (out_dir / "report.html").write_text(html, encoding="utf-8")
            write_json(out_dir / "metrics.json", {k: v for k, v in metrics.items() if k != "reconstruction"}
                       | {"reconstruction": strip_cases(metrics["reconstruction"])})
            tracker.metrics({"headline": metrics["headline"], "tokenizers": metrics["tokenizers"]})
            tracker.artifact(out_dir / "report.html")
        print("evaluate: " + ", ".join(f"{k} {v:.4g}" for k, v in metrics["headline"].items()))


def strip_cases(report: dict) -> dict:
    """The per-case texts live in the HTML report; metrics.json keeps the numbers."""
    return {k: v for k, v in report.items() if k != "cases"}


def draw_plots(metrics: dict, curve: Path, out_dir: Path) -> list[Path]:
    val = metrics["tokenizers"]["val"]
    paths = [out_dir / "bytes_per_token.png", out_dir / "fallback_share.png"]
    plot_bars({n: m["bytes_per_token"] for n, m in val.items()}, paths[0], "Compression on val", "bytes / token")
    plot_bars({n: 1 - m["learned_byte_share"] for n, m in val.items()}, paths[1],
              "Bytes left to byte fallback (val)", "share of bytes")
    if curve.exists():
        paths.append(out_dir / "training_curve.png")
        plot_lines(pd.read_csv(curve), "step", ["byte_accuracy", "exact_match"], paths[-1], "Pretrain (val)")
    return paths


if __name__ == "__main__":
    typer.run(main)
