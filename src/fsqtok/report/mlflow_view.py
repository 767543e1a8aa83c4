"""The MLflow UI's view of a run's headline numbers: a shared runs-table view (an experiment
tag the UI reads by ?viewStateShareKey=) whose columns are those numbers, and the link that opens
it on the training runs (the UI opens its GenAI view unless told the workflow type)."""

from __future__ import annotations

import base64
import json
import zlib

SHARED_VIEW_TAG = "mlflow.sharedViewState."  # + the view's key
HEADLINE_VIEW = "headline"


def view_state(metric_names: list[str]) -> str:
    """The runs table's state with these metrics as its columns, encoded as the UI stores a
    shared view: "deflate;" + base64 of the zlib-compressed JSON."""
    state = {"searchFilter": "", "orderByKey": "attributes.start_time", "orderByAsc": False, "startTime": "ALL",
             "lifecycleFilter": "Active", "datasetsFilter": [], "modelVersionFilter": "All Runs",
             "selectedColumns": [f"metrics.`{name}`" for name in metric_names], "columnOrder": [],
             "columnWidths": {}, "runsExpanded": {}, "runsPinned": [], "runsHidden": [], "runsVisibilityMap": {},
             "runsHiddenMode": "FIRST_10_RUNS", "viewMaximized": False, "runListHidden": False}
    return "deflate;" + base64.b64encode(zlib.compress(json.dumps(state).encode())).decode()


def publish_headline_view(tracker, metric_names: list[str]) -> None:
    """Set the experiment's HEADLINE_VIEW to these columns (nothing with tracking off)."""
    if tracker.client is not None:
        exp_id = tracker.client.get_run(tracker.run_id).info.experiment_id
        tracker.client.set_experiment_tag(exp_id, SHARED_VIEW_TAG + HEADLINE_VIEW, view_state(metric_names))


def ui_url(client, experiment: str, port: int) -> str:
    """The link to the experiment's runs table in HEADLINE_VIEW, for `mlflow ui` on `port`."""
    from fsqtok.store.tracking import TrackingError

    found = client.get_experiment_by_name(experiment)
    if found is None:
        raise TrackingError(f"tracking store has no experiment {experiment!r}; run the pipeline first (make repro)")
    return (f"http://127.0.0.1:{port}/#/experiments/{found.experiment_id}/runs"
            f"?workflowType=machine_learning&viewStateShareKey={HEADLINE_VIEW}")
