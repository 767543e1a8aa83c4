"""Stage prune: auto-encoder + train split -> models/tokenizer (verified top-k vocabulary),
codebook metrics and plots."""

from pathlib import Path

import typer

from fsqtok.config import load_params
from fsqtok.errors import user_errors
from fsqtok.runtime.device import set_threads
from fsqtok.stages.prune import PARAMS, run_prune
from fsqtok.store.tracking import stage_run


def main(
    autoencoder: Path = Path("models/autoencoder"),
    split_dir: Path = Path("data/split"),
    bpe: Path = Path("models/baselines/bpe"),
    noae: Path = Path("models/baselines/fsqtok_noae"),
    out: Path = Path("models/tokenizer"),
    reports: Path = Path("reports/codebook"),
) -> None:
    with user_errors():
        params = load_params().only(PARAMS, "stage prune")
        set_threads(0)
        with stage_run("prune", params) as tracker:
            tracker.splits(split_dir, ["train", "val"])
            metrics = run_prune(params, autoencoder, split_dir, bpe, noae, out, reports, tracker)
            tracker.rollup({"verified_codes": metrics["verified_codes"], "vocab_size": metrics["vocab_size"],
                            "val_bytes_per_token": metrics["val"]["bytes_per_token"]})
        if metrics["vocab_shortfall"]:
            print(f"prune: warning: prune.vocab_size asks for {params.prune.vocab_size} ids but only "
                  f"{metrics['vocab_size']} verify; pretrain longer or lower prune.vocab_size")
        print(f"prune: {metrics['learned_pieces']} verified pieces (vocab {metrics['vocab_size']}); "
              f"val bytes/token {metrics['val']['bytes_per_token']:.3f} -> {out}; "
              f"{metrics['noae_pieces_verified']:.1%} of the fsqtok_noae pieces verified")


if __name__ == "__main__":
    typer.run(main)
