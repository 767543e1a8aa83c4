"""Stage report: the headline numbers of a run, under short names, in one small file
(reports/headline.json: what `dvc metrics show` and `dvc exp show` print), on the pipeline's
parent run in MLflow and as the columns of the experiment's shared runs-table view. Every number
comes from a stage's own metrics file; the full files stay where their stages write them."""

from __future__ import annotations

from pathlib import Path

from fsqtok.report.mlflow_view import publish_headline_view
from fsqtok.store.files import read_json, write_json

PARAMS = ("tracking",)  # the params stage report reads; dvc.yaml lists the same

SOURCES = {  # the metrics files it reads, by the stage that writes them
    "pretrain": "pretrain/metrics.json",
    "prune": "codebook/metrics.json",
    "evaluate": "evaluate/metrics.json",
    "integrate": "integrate/metrics.json",
    "flow": "flow/metrics.json",
}


def headline(metrics: dict[str, dict]) -> dict[str, float]:
    """Short name -> number, from each stage's metrics (keyed as SOURCES); eight, so that
    `dvc metrics show` fits 160 columns. Ratios are fsqtok's over a baseline's (same vocabulary
    size): tok/vs_bpe and tok/vs_multiword (the multi-word BPE) are bytes per token (above 1: fsqtok
    compresses better), speed/vs_bpe encode
    MB/s, lm/bpb_vs_bpe the LMs' val bits-per-byte and lm/judge_vs_bpe their samples' judge
    bits-per-byte (below 1: fsqtok's LM is better). tok/fallback is the share of val bytes spelled
    as raw byte tokens."""
    val, ratios = metrics["evaluate"]["tokenizers"]["val"], metrics["evaluate"]["headline"]
    lm, judged = metrics["integrate"], metrics["flow"]["generators"]
    return {
        "ae/byte_acc": metrics["pretrain"]["best"]["byte_accuracy"],
        "tok/vs_bpe": ratios["fsqtok_vs_bpe_compression"],
        "tok/vs_multiword": ratios["fsqtok_vs_multiword_compression"],
        "tok/fallback": 1 - val["fsqtok"]["learned_byte_share"],
        "speed/vs_bpe": val["fsqtok"]["cold_encode_mb_s"] / val["bpe"]["cold_encode_mb_s"],
        "lm/bpb_vs_bpe": lm["fsqtok"]["val_bpb"] / lm["bpe"]["val_bpb"],
        "lm/judge_vs_bpe": lm["fsqtok"]["judge_bpb"] / lm["bpe"]["judge_bpb"],
        "flow/judge_bpb": judged["flow"]["judge_bpb"],
    }


def run_report(reports: Path, tracker) -> dict[str, float]:
    """Read the stages' metrics under `reports`, write reports/headline.json, log the same numbers."""
    numbers = headline({stage: read_json(reports / path) for stage, path in SOURCES.items()})
    write_json(reports / "headline.json", numbers)
    tracker.headline(numbers)
    publish_headline_view(tracker, list(numbers))  # mlflow ui opens on them: `fsqtok ui-url`
    return numbers
