"""Stage pretrain: train/val chunks and the pieces of the selection without an auto-encoder
(fsqtok_noae: the strings the vocabulary needs) -> the auto-encoder bundle (best by val exact
match), checkpoints that resume exactly, curve and metrics."""

from __future__ import annotations

from pathlib import Path

from fsqtok.autoencoder.data import chunk_tensor, lexicon_tensor, pack_chunks, segment_tensor, train_frequency
from fsqtok.autoencoder.io import save_autoencoder
from fsqtok.autoencoder.metrics import bucket_byte_shares
from fsqtok.autoencoder.train import PretrainRun, training_fingerprint
from fsqtok.config import Params
from fsqtok.errors import FsqtokError
from fsqtok.runtime.device import resolve_device
from fsqtok.runtime.distributed import init_world, shutdown
from fsqtok.store.checkpoint import Checkpointer
from fsqtok.store.files import read_texts, write_csv, write_json
from fsqtok.tokenizers.fsqtok import VOCAB_FILE, PieceTokenizer

# The params stage pretrain reads; dvc.yaml lists the same (corpus and split: the checkpoint key)
PARAMS = ("distributed", "seed", "device", "precision", "corpus", "split", "chunking", "autoencoder", "fsq",
          "pretrain", "tracking")


def run_pretrain(params: Params, split_dir: Path, vocab_dir: Path, out: Path, checkpoint_dir: Path, reports: Path,
                 tracker, resume: Path | None = None, stop_after: int | None = None) -> dict | None:
    """The pretrain stage: train (resuming from the latest checkpoint of the same config, data and
    `vocab_dir` pieces), then write the best model's bundle to `out` and curve.csv + metrics.json
    to `reports`. Under torchrun every process trains its share and rank 0 writes.
    Returns the summary, or None when stopped early by `stop_after` and on ranks other than 0."""
    max_bytes = params.chunking.max_chunk_bytes
    data_files = [split_dir / "train.parquet", split_dir / "val.parquet"]
    vocab_chunks = None
    if params.pretrain.vocab_rate:
        noae = PieceTokenizer.load(vocab_dir)
        if noae.max_chunk_bytes != max_bytes:
            raise FsqtokError(f"{vocab_dir}: pieces of up to {noae.max_chunk_bytes} bytes, but "
                              f"chunking.max_chunk_bytes is {max_bytes}; re-run baseline_eval (dvc repro)")
        vocab_chunks = pack_chunks(noae.vocab.pieces, max_bytes)  # (V, T)
        data_files.append(vocab_dir / VOCAB_FILE)
    train, val = read_texts(data_files[0]), read_texts(data_files[1])
    val_chunks = chunk_tensor(val, max_bytes, params.pretrain.eval_chunks, params.seed)
    if len(val_chunks) == 0:
        raise FsqtokError(f"pretrain: the val split ({data_files[1]}) has 0 chunks; raise split.val_fraction")
    fingerprint = training_fingerprint(params, data_files)
    world, device = init_world(resolve_device(params.device))
    train_chunks = segment_tensor(train, params.pretrain, max_bytes, params.seed)
    run = PretrainRun(
        params=params,
        train_chunks=train_chunks,
        val_chunks=val_chunks,
        val_train_counts=train_frequency(val_chunks, train, max_bytes),
        lexicon_chunks=lexicon_tensor(params.pretrain, max_bytes, params.seed, len(train_chunks)),
        vocab_chunks=vocab_chunks,
        checkpoints=Checkpointer(checkpoint_dir / fingerprint, params.pretrain.keep_checkpoints),
        fingerprint=fingerprint,
        device=device,
        on_eval=lambda row: tracker.metrics(row, step=row["step"]),
        world=world,
    )
    model, state = run.run(resume_from=resume, stop_after=stop_after)
    shutdown(world)
    if not world.is_main or state.step < params.pretrain.steps:
        return None
    best = next(row for row in state.history if row["step"] == state.best_step)
    summary = {"steps": state.step, "best_step": state.best_step, "best": best, "final": state.history[-1],
               "val_bytes": bucket_byte_shares(run.val_chunks, run.val_train_counts),
               "params": sum(p.numel() for p in model.parameters())}
    save_autoencoder(model, out, meta={"step": state.best_step, "metrics": best,
                                       "params_hash": params.digest(*PARAMS)})
    write_csv(reports / "curve.csv", state.history)
    write_json(reports / "metrics.json", summary)
    tracker.metrics({"best": best, "final": summary["final"]})
    tracker.artifact(reports / "curve.csv")
    return summary
