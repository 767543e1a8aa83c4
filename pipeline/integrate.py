"""Stage integrate: one LM per tokenizer in lm.tokenizers, same shape, steps, tokens per batch
and context -> models/lm/<tokenizer>/, reports/integrate/{metrics.json, bpb.csv, bpb.png, samples.json}."""

from pathlib import Path

import typer

from fsqtok.config import load_params
from fsqtok.errors import user_errors
from fsqtok.eval.integrate import SECTIONS, run_integrate
from fsqtok.runtime.device import set_threads
from fsqtok.store.tracking import stage_run


def main(
    split_dir: Path = Path("data/split"),
    tokenizer: Path = Path("models/tokenizer"),
    baselines_dir: Path = Path("models/baselines"),
    models: Path = Path("models/lm"),
    reports: Path = Path("reports/integrate"),
) -> None:
    with user_errors():
        params = load_params()
        set_threads(0)
        with stage_run("integrate", params, SECTIONS) as tracker:
            table = run_integrate(params, split_dir, tokenizer, baselines_dir, models, reports, tracker)
        print("integrate: " + ", ".join(f"{name} BPB {table[name]['val_bpb']:.4f}" for name in params.lm.tokenizers))


if __name__ == "__main__":
    typer.run(main)
