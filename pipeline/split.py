"""Stage split: documents -> data/split/{train,val,test}.parquet, document-level and deterministic."""

from pathlib import Path

import typer

from fsqtok.config import load_params
from fsqtok.errors import user_errors
from fsqtok.files import read_parquet, write_json, write_parquet
from fsqtok.split import split_documents, split_stats
from fsqtok.tracking import stage_run


def main(
    documents: Path = Path("data/corpus/documents.parquet"),
    out_dir: Path = Path("data/split"),
    metrics: Path = Path("reports/split/metrics.json"),
) -> None:
    with user_errors():
        params = load_params()
        with stage_run("split", params, ["split"]) as tracker:
            frame = read_parquet(documents, ["doc_id", "source", "text", "n_bytes"])
            splits = split_documents(frame, params.split)
            for name, part in splits.items():
                write_parquet(out_dir / f"{name}.parquet", part)
            stats = split_stats(splits)
            write_json(metrics, stats)
            tracker.metrics(stats)
        print("split: " + ", ".join(f"{k} {v['documents']} docs" for k, v in stats.items()))


if __name__ == "__main__":
    typer.run(main)
