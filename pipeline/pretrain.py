"""Stage pretrain: train/val chunks and the fsqtok_noae pieces -> models/autoencoder bundle (best
by val exact match), checkpoints (persist across runs, resume automatically), curve and metrics."""

from pathlib import Path

import typer

from fsqtok.config import load_params
from fsqtok.errors import user_errors
from fsqtok.runtime.device import set_threads
from fsqtok.runtime.distributed import is_main_process, relaunch
from fsqtok.stages.pretrain import PARAMS, run_pretrain
from fsqtok.store.tracking import stage_run

HEADLINE = ("byte_accuracy", "exact_match", "exact_match_distinct")  # of the best step, onto the parent run


def main(
    split_dir: Path = Path("data/split"),
    vocab_dir: Path = Path("models/baselines/fsqtok_noae"),
    out: Path = Path("models/autoencoder"),
    checkpoint_dir: Path = Path("checkpoints/pretrain"),
    reports: Path = Path("reports/pretrain"),
    resume: Path | None = typer.Option(None, help="checkpoint to resume from (default: latest with the same config)"),
    stop_after: int | None = typer.Option(None, help="stop once this step (counted from 0, not from the resume "
                                          "point) is done; checkpoints are still written only every "
                                          "pretrain.checkpoint_every steps"),
) -> None:
    with user_errors():
        params = load_params().only(PARAMS, "stage pretrain")
        relaunch(params.distributed.nproc_per_node)
        set_threads(params.pretrain.threads)
        with stage_run("pretrain", params) as tracker:
            tracker.splits(split_dir, ["train", "val"])
            summary = run_pretrain(params, split_dir, vocab_dir, out, checkpoint_dir, reports, tracker, resume,
                                   stop_after)
            if summary is not None:
                tracker.rollup({k: summary["best"][k] for k in HEADLINE})
        if not is_main_process():
            return
        if summary is None:
            print(f"pretrain: stopped at step {stop_after} of {params.pretrain.steps}; re-run to resume")
            raise SystemExit(3)
        best = summary["best"]
        print(f"pretrain: best step {summary['best_step']}: byte accuracy {best['byte_accuracy']:.4f}, "
              f"exact {best['exact_match']:.4f} -> {out}")


if __name__ == "__main__":
    typer.run(main)
