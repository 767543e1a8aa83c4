"""Stage split: documents -> data/split/{train,val,test}.parquet, document-level and deterministic."""

from pathlib import Path

import typer

from fsqtok.config import load_params
from fsqtok.errors import user_errors
from fsqtok.stages.split import PARAMS, run_split
from fsqtok.store.tracking import stage_run


def main(
    documents: Path = Path("data/corpus/documents.parquet"),
    out_dir: Path = Path("data/split"),
    metrics: Path = Path("reports/split/metrics.json"),
) -> None:
    with user_errors():
        params = load_params().only(PARAMS, "stage split")
        with stage_run("split", params) as tracker:
            stats = run_split(params.split, documents, out_dir, metrics, tracker)
        print("split: " + ", ".join(f"{k} {v['documents']} docs" for k, v in stats.items()))


if __name__ == "__main__":
    typer.run(main)
