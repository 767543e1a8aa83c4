"""Stage report: every stage's metrics -> reports/headline.json (the numbers `dvc metrics show`
prints) and the same numbers on the pipeline's MLflow parent run."""

from pathlib import Path

import typer

from fsqtok.config import load_params
from fsqtok.errors import user_errors
from fsqtok.stages.report import PARAMS, run_report
from fsqtok.store.tracking import stage_run


def main(reports: Path = Path("reports")) -> None:
    with user_errors():
        params = load_params().only(PARAMS, "stage report")
        with stage_run("report", params) as tracker:
            numbers = run_report(reports, tracker)
        print("report: " + ", ".join(f"{name} {value:.4g}" for name, value in numbers.items()))


if __name__ == "__main__":
    typer.run(main)
