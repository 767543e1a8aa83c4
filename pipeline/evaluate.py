"""Stage evaluate: the trained tokenizer vs the untrained baseline and the other tokenizers,
on val and test -> reports/evaluate/{metrics.json, report.html}."""

from pathlib import Path

import typer

from fsqtok.config import load_params
from fsqtok.errors import user_errors
from fsqtok.runtime.device import set_threads
from fsqtok.stages.evaluate import PARAMS, run_evaluate
from fsqtok.store.tracking import stage_run


def main(
    split_dir: Path = Path("data/split"),
    tokenizer: Path = Path("models/tokenizer"),
    baselines_dir: Path = Path("models/baselines"),
    untrained: Path = Path("reports/baseline/untrained.json"),
    pretrain_reports: Path = Path("reports/pretrain"),
    codebook_dir: Path = Path("reports/codebook"),
    out_dir: Path = Path("reports/evaluate"),
) -> None:
    with user_errors():
        params = load_params().only(PARAMS, "stage evaluate")
        set_threads(0)
        with stage_run("evaluate", params) as tracker:
            tracker.splits(split_dir, ["val", "test"])
            metrics = run_evaluate(params, split_dir, tokenizer, baselines_dir, untrained, pretrain_reports,
                                   codebook_dir, out_dir, tracker)
            tracker.rollup(metrics["headline"])
        print("evaluate: " + ", ".join(f"{k} {v:.4g}" for k, v in metrics["headline"].items()))


if __name__ == "__main__":
    typer.run(main)
