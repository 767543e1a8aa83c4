"""Stage integrate: one LM per tokenizer in lm.tokenizers, same shape, steps, tokens per batch
and context -> models/lm/<tokenizer>/, reports/integrate/{metrics.json, bpb.csv, bpb.png, samples.json}."""

from pathlib import Path

import typer

from fsqtok.config import load_params
from fsqtok.errors import user_errors
from fsqtok.runtime.device import set_threads
from fsqtok.runtime.distributed import is_main_process, relaunch
from fsqtok.stages.integrate import PARAMS, run_integrate
from fsqtok.store.tracking import stage_run


def main(
    split_dir: Path = Path("data/split"),
    tokenizer: Path = Path("models/tokenizer"),
    baselines_dir: Path = Path("models/baselines"),
    models: Path = Path("models/lm"),
    reports: Path = Path("reports/integrate"),
) -> None:
    with user_errors():
        params = load_params().only(PARAMS, "stage integrate")
        relaunch(params.distributed.nproc_per_node)
        set_threads(0)
        with stage_run("integrate", params) as tracker:
            tracker.splits(split_dir, ["train", "val"])
            table = run_integrate(params, split_dir, tokenizer, baselines_dir, models, reports, tracker)
            if not is_main_process():  # under torchrun rank 0 reports
                return
            tracker.rollup({f"{name}_val_bpb": table[name]["val_bpb"] for name in params.lm.tokenizers}
                           | {k: v for k, v in table.items() if k == "fsqtok_vs_bpe_bpb_ratio"})
        print("integrate: " + ", ".join(f"{name} BPB {table[name]['val_bpb']:.4f}" for name in params.lm.tokenizers))


if __name__ == "__main__":
    typer.run(main)
