"""Stage baseline_eval: the untrained auto-encoder (fixed seed) through the reconstruction
metrics, and BPE / multi-word BPE / Unigram / word / byte / fsqtok_noae baselines (trained on
train at prune.vocab_size) through the tokenization metrics on val. Baseline bundles go to
models/baselines/ for later stages (fsqtok_noae's pieces to pretrain)."""

from pathlib import Path

import typer

from fsqtok.config import load_params
from fsqtok.errors import user_errors
from fsqtok.runtime.device import set_threads
from fsqtok.stages.baseline_eval import PARAMS, run_baseline_eval
from fsqtok.store.tracking import stage_run


def main(
    split_dir: Path = Path("data/split"),
    baselines_dir: Path = Path("models/baselines"),
    metrics: Path = Path("reports/baseline/metrics.json"),
    untrained: Path = Path("reports/baseline/untrained.json"),
) -> None:
    with user_errors():
        params = load_params().only(PARAMS, "stage baseline_eval")
        set_threads(0)
        with stage_run("baseline_eval", params) as tracker:
            tracker.splits(split_dir, ["train", "val"])
            report = run_baseline_eval(params, split_dir, baselines_dir, metrics, untrained, tracker)
            tracker.rollup({"untrained_byte_accuracy": report["untrained_autoencoder"]["val_chunks"]["byte_accuracy"],
                            "bpe_bytes_per_token": report["tokenizers"]["bpe"]["bytes_per_token"]})
        untrained_accuracy = report["untrained_autoencoder"]["val_chunks"]["byte_accuracy"]
        print(f"baseline_eval: untrained byte accuracy {untrained_accuracy:.3f}; "
              f"BPE bytes/token {report['tokenizers']['bpe']['bytes_per_token']:.3f}")


if __name__ == "__main__":
    typer.run(main)
