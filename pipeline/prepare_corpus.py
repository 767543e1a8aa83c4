"""Stage prepare_corpus: the sources in params `corpus` -> one parquet of documents + stats."""

from pathlib import Path

import typer

from fsqtok.config import load_params
from fsqtok.errors import user_errors
from fsqtok.stages.prepare_corpus import PARAMS, run_prepare_corpus
from fsqtok.store.tracking import stage_run


def main(
    out: Path = Path("data/corpus/documents.parquet"),
    metrics: Path = Path("reports/corpus/metrics.json"),
) -> None:
    with user_errors():
        params = load_params().only(PARAMS, "stage prepare_corpus")
        with stage_run("prepare_corpus", params) as tracker:
            stats = run_prepare_corpus(params.corpus, out, metrics, tracker)
        print(f"prepare_corpus: {stats.documents} documents, {stats.bytes / 1e6:.2f} MB -> {out}")


if __name__ == "__main__":
    typer.run(main)
