"""Stage pretrain: train/val chunks -> models/autoencoder bundle (best by val exact match),
checkpoints (persist across runs, resume automatically), curve and metrics."""

from pathlib import Path

import pandas as pd
import typer

from fsqtok.bundle import save_autoencoder
from fsqtok.checkpoint import Checkpointer
from fsqtok.config import load_params
from fsqtok.device import resolve_device, set_threads
from fsqtok.errors import user_errors
from fsqtok.files import read_parquet, write_json
from fsqtok.tracking import stage_run
from fsqtok.train_autoencoder import PretrainRun, chunk_tensor, segment_tensor, training_fingerprint


def main(
    split_dir: Path = Path("data/split"),
    out: Path = Path("models/autoencoder"),
    checkpoint_dir: Path = Path("checkpoints/pretrain"),
    reports: Path = Path("reports/pretrain"),
    resume: Path | None = typer.Option(None, help="checkpoint to resume from (default: latest with the same config)"),
    stop_after: int | None = typer.Option(None, help="stop after this many steps (a checkpoint is kept)"),
) -> None:
    with user_errors():
        params = load_params()
        set_threads(params.pretrain.threads)
        device = resolve_device(params.device)
        sections = ["seed", "device", "precision", "chunking", "autoencoder", "fsq", "pretrain"]
        with stage_run("pretrain", params, sections) as tracker:
            max_bytes = params.chunking.max_chunk_bytes
            train = read_parquet(split_dir / "train.parquet", ["text"])["text"]
            val = read_parquet(split_dir / "val.parquet", ["text"])["text"]
            run = PretrainRun(
                params=params,
                train_chunks=segment_tensor(train, params.pretrain, max_bytes, params.seed),
                val_chunks=chunk_tensor(val, max_bytes, params.pretrain.eval_chunks, params.seed),
                checkpoints=Checkpointer(checkpoint_dir / training_fingerprint(params),
                                         params.pretrain.keep_checkpoints),
                device=device,
                on_eval=lambda row: tracker.metrics(row, step=row["step"]),
            )
            model, state = run.run(resume_from=resume, stop_after=stop_after)
            if state.step < params.pretrain.steps:
                print(f"pretrain: stopped at step {state.step} of {params.pretrain.steps}; re-run to resume")
                raise SystemExit(3)
            final = state.history[-1]
            best = next(row for row in state.history if row["step"] == state.best_step)
            summary = {"steps": state.step, "best_step": state.best_step, "best": best, "final": final,
                       "params": model_params(model)}
            save_autoencoder(model, out, meta={"step": state.best_step, "metrics": best,
                                               "params_hash": params.digest(*sections)})
            reports.mkdir(parents=True, exist_ok=True)
            pd.DataFrame(state.history).to_csv(reports / "curve.csv", index=False)
            write_json(reports / "metrics.json", summary)
            tracker.metrics({"best": best, "final": final})
            tracker.artifact(reports / "curve.csv")
        print(f"pretrain: best step {state.best_step}: byte accuracy {best['byte_accuracy']:.4f}, "
              f"exact {best['exact_match']:.4f} -> {out}")


def model_params(model) -> int:
    return sum(p.numel() for p in model.parameters())


if __name__ == "__main__":
    typer.run(main)
