"""Stage baseline_eval: the untrained auto-encoder (fixed seed) through the reconstruction
metrics, and BPE / word / byte baselines (trained on train at prune.vocab_size) through the
tokenization metrics on val. Baseline bundles go to models/baselines/ for later stages."""

from pathlib import Path

import torch
import typer

from fsqtok.autoencoder import ByteAutoEncoder
from fsqtok.baselines import BPETokenizer, ByteTokenizer, WordTokenizer
from fsqtok.config import load_params
from fsqtok.device import set_threads
from fsqtok.errors import user_errors
from fsqtok.evaluation import reconstruction_report, speed_sample, tokenizer_report
from fsqtok.files import read_parquet, write_json
from fsqtok.tracking import stage_run
from fsqtok.train_autoencoder import chunk_tensor


def main(
    split_dir: Path = Path("data/split"),
    baselines_dir: Path = Path("models/baselines"),
    metrics: Path = Path("reports/baseline/metrics.json"),
) -> None:
    with user_errors():
        params = load_params()
        set_threads(0)
        sections = ["seed", "chunking", "autoencoder", "fsq", "prune", "evaluate"]
        with stage_run("baseline_eval", params, sections) as tracker:
            train = list(read_parquet(split_dir / "train.parquet", ["text"])["text"])
            val = list(read_parquet(split_dir / "val.parquet", ["text"])["text"])
            torch.manual_seed(params.seed)
            untrained = ByteAutoEncoder(params.autoencoder, params.fsq.levels,
                                        params.chunking.max_chunk_bytes).eval()
            val_chunks = chunk_tensor(val, params.chunking.max_chunk_bytes, params.evaluate.max_chunks, params.seed)
            report = {"untrained_autoencoder": reconstruction_report(untrained, val_chunks, torch.device("cpu"))}
            vocab_size = params.prune.vocab_size
            baselines = {
                "bpe": BPETokenizer.train(train, vocab_size),
                "word": WordTokenizer.train(train, vocab_size),
                "byte": ByteTokenizer(),
            }
            speed_text = speed_sample(val, params.evaluate.speed_bytes)
            report["tokenizers"] = {
                name: tokenizer_report(tok, val, speed_text, params.evaluate.speed_repeats)
                for name, tok in baselines.items()
            }
            baselines["bpe"].save(baselines_dir / "bpe")
            baselines["word"].save(baselines_dir / "word")
            write_json(metrics, report)
            tracker.metrics({k: v for k, v in report.items() if k != "untrained_autoencoder"})
            tracker.metrics({"untrained_autoencoder": {k: v for k, v in report["untrained_autoencoder"].items()
                                                       if k != "cases"}})
        before = report["untrained_autoencoder"]["val_chunks"]
        print(f"baseline_eval: untrained byte accuracy {before['byte_accuracy']:.3f}; "
              f"BPE bytes/token {report['tokenizers']['bpe']['bytes_per_token']:.3f}")


if __name__ == "__main__":
    typer.run(main)
