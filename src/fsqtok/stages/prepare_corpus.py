"""Stage prepare_corpus: the configured sources -> data/corpus/documents.parquet + stats."""

from __future__ import annotations

from dataclasses import asdict
from pathlib import Path

from fsqtok.config import CorpusConfig
from fsqtok.store.files import write_json, write_parquet
from fsqtok.text.corpus import CorpusStats, build_corpus

PARAMS = ("corpus", "tracking")  # the params stage prepare_corpus reads; dvc.yaml lists the same


def run_prepare_corpus(config: CorpusConfig, out: Path, metrics: Path, tracker) -> CorpusStats:
    """The prepare_corpus stage: every source -> documents.parquet at `out`, stats to `metrics`."""
    documents, stats = build_corpus(config)
    write_parquet(out, documents)
    write_json(metrics, asdict(stats))
    tracker.metrics(asdict(stats))
    return stats
