"""Stage flow: the latent flow generator on the frozen auto-encoder -> models/flow/, and one judge
for its samples and the token LMs' (integrate's judge_samples.json)
-> reports/flow/{metrics.json, samples.json, curve.csv, report.html}."""

from pathlib import Path

import typer

from fsqtok.config import load_params
from fsqtok.errors import user_errors
from fsqtok.runtime.device import set_threads
from fsqtok.runtime.distributed import is_main_process, relaunch
from fsqtok.stages.flow import PARAMS, run_flow
from fsqtok.store.tracking import stage_run


def main(
    split_dir: Path = Path("data/split"),
    tokenizer: Path = Path("models/tokenizer"),
    lm_samples: Path = Path("reports/integrate/judge_samples.json"),
    out: Path = Path("models/flow"),
    checkpoint_dir: Path = Path("checkpoints/flow"),
    reports: Path = Path("reports/flow"),
) -> None:
    with user_errors():
        params = load_params().only(PARAMS, "stage flow")
        relaunch(params.distributed.nproc_per_node)
        set_threads(0)
        with stage_run("flow", params) as tracker:
            tracker.splits(split_dir, ["train", "val"])
            metrics = run_flow(params, split_dir, tokenizer, lm_samples, out, checkpoint_dir, reports, tracker)
            if not is_main_process():  # under torchrun rank 0 reports
                return
            tracker.rollup({f"{name}_judge_bpb": g["judge_bpb"] for name, g in metrics["generators"].items()}
                           | {"ceiling_byte_accuracy": metrics["ceiling"]["byte_accuracy"]})
        print("flow: " + ", ".join(f"{name} judge bits/byte {g['judge_bpb']:.3f}"
                                   for name, g in metrics["generators"].items())
              + f"; ceiling byte accuracy {metrics['ceiling']['byte_accuracy']:.3f}")


if __name__ == "__main__":
    typer.run(main)
