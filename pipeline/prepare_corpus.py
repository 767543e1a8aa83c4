"""Stage prepare_corpus: the sources in params `corpus` -> one parquet of documents + stats."""

from pathlib import Path

import typer

from fsqtok.config import load_params
from fsqtok.corpus import build_corpus
from fsqtok.errors import user_errors
from fsqtok.files import write_json, write_parquet
from fsqtok.tracking import stage_run


def main(
    out: Path = Path("data/corpus/documents.parquet"),
    metrics: Path = Path("reports/corpus/metrics.json"),
) -> None:
    with user_errors():
        params = load_params()
        with stage_run("prepare_corpus", params, ["corpus"]) as tracker:
            documents, stats = build_corpus(params.corpus)
            write_parquet(out, documents)
            report = {
                "documents": stats.documents,
                "bytes": stats.bytes,
                "empty_dropped": stats.empty_dropped,
                "invalid_utf8_replaced": stats.invalid_utf8_replaced,
                "per_source": stats.per_source,
            }
            write_json(metrics, report)
            tracker.metrics(report)
        print(f"prepare_corpus: {stats.documents} documents, {stats.bytes / 1e6:.2f} MB -> {out}")


if __name__ == "__main__":
    typer.run(main)
