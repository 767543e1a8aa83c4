"""Stage split: documents -> data/split/{train,val,test}.parquet, document-level and deterministic."""

from __future__ import annotations

from pathlib import Path

from fsqtok.config import SplitConfig
from fsqtok.store.files import read_parquet, write_json, write_parquet
from fsqtok.text.split import check_splits, split_documents, split_stats

PARAMS = ("split", "tracking")  # the params stage split reads; dvc.yaml lists the same


def run_split(config: SplitConfig, documents: Path, out_dir: Path, metrics: Path, tracker) -> dict:
    """The split stage: documents.parquet -> {train,val,test}.parquet in `out_dir`, stats to `metrics`."""
    splits = split_documents(read_parquet(documents, ["doc_id", "source", "text", "n_bytes"]), config)
    check_splits(splits)
    for name, part in splits.items():
        write_parquet(out_dir / f"{name}.parquet", part)
    stats = split_stats(splits)
    write_json(metrics, stats)
    tracker.metrics(stats)
    return stats
