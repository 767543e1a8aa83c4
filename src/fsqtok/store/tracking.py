"""MLflow mirror of each stage: one run per stage, grouped under one parent run per pipeline.

Grouping: `fsqtok repro` opens a parent and passes its id in $FSQTOK_PARENT_RUN_ID (not
$MLFLOW_RUN_ID, which would make stages resume the parent); under `dvc exp run` the parent
is found or created by the tag fsqtok.pipeline=exp:$DVC_EXP_NAME. DVC's metrics JSON stays
the source of truth; MLflow gets the same numbers.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from fsqtok.config import Params, TrackingConfig
from fsqtok.store.files import file_digest
from fsqtok.store.provenance import git_rev, repo_root

PARENT_ENV = "FSQTOK_PARENT_RUN_ID"
PIPELINE_TAG = "fsqtok.pipeline"
EXPERIMENT_TAGS = {"mlflow.experimentKind": "custom_model_development"}


def tracking_uri(config: TrackingConfig) -> str:
    """params tracking.uri, else $MLFLOW_TRACKING_URI, else a SQLite file in the repo."""
    return config.uri or os.environ.get("MLFLOW_TRACKING_URI") or f"sqlite:///{repo_root() / 'mlflow.db'}"


def flatten(values: dict, prefix: str = "") -> dict:
    """Nested dict -> flat dict with dotted keys.
    Example: {"a": {"b": 1}, "c": 2} -> {"a.b": 1, "c": 2}"""
    flat = {}
    for key, value in values.items():
        name = f"{prefix}.{key}" if prefix else str(key)
        if isinstance(value, dict):
            flat.update(flatten(value, name))
        else:
            flat[name] = value
    return flat


class Tracker:
    """Logs to one MLflow run (and rolls headline numbers up to the pipeline's parent run); with
    tracking off (client None) every call does nothing."""

    def __init__(self, client=None, run_id: str | None = None, parent_id: str | None = None, stage: str = ""):
        self.client, self.run_id, self.parent_id, self.stage = client, run_id, parent_id, stage

    def metrics(self, values: dict, step: int | None = None) -> None:
        if self.client is not None:
            log_metrics(self.client, self.run_id, values, step)

    def rollup(self, values: dict) -> None:
        """Headline numbers of this stage (already in its own run) onto the parent run, as
        <stage>.<key>, so the run table compares whole pipelines on their parent rows; a re-run
        of the stage logs them again there."""
        if self.client is not None and self.parent_id:
            log_metrics(self.client, self.parent_id, {self.stage: values})

    def splits(self, split_dir: Path, names: list[str]) -> None:
        """The split files this stage reads as MLflow dataset inputs (name, the file's DVC hash,
        its MD5, as digest, and its path as source)."""
        if self.client is None:
            return
        from mlflow.entities import Dataset, DatasetInput, InputTag

        paths = {name: Path(split_dir) / f"{name}.parquet" for name in names}
        inputs = [DatasetInput(Dataset(name=name, digest=file_digest(path, "md5"), source_type="local",
                                       source=str(path)), tags=[InputTag("mlflow.data.context", name)])
                  for name, path in paths.items() if path.exists()]
        self.client.log_inputs(self.run_id, datasets=inputs)

    def artifact(self, path: str | Path, folder: str | None = None) -> None:
        if self.client is not None and Path(path).exists():
            self.client.log_artifact(self.run_id, str(path), folder)

    def artifacts(self, directory: str | Path, folder: str | None = None) -> None:
        """Every file of `directory`."""
        if self.client is not None and Path(directory).is_dir():
            self.client.log_artifacts(self.run_id, str(directory), folder)

    @contextmanager
    def child(self, name: str, tags: dict | None = None) -> Iterator[Tracker]:
        """A nested run under this one (e.g. one per tokenizer in integrate)."""
        if self.client is None:
            yield Tracker()
            return
        run = self.client.get_run(self.run_id)
        child_tags = {**run.data.tags, **(tags or {}), "mlflow.parentRunId": self.run_id}
        child_tags.pop("mlflow.runName", None)
        run_id = self.client.create_run(run.info.experiment_id, run_name=name, tags=child_tags).info.run_id
        with finished(self.client, run_id):
            yield Tracker(self.client, run_id)


def log_metrics(client, run_id: str, values: dict, step: int | None = None) -> None:
    """The numbers of a nested dict as metrics with dotted names."""
    from mlflow.entities import Metric

    now = int(time.time() * 1000)
    numeric = {k: float(v) for k, v in flatten(values).items()
               if isinstance(v, (int, float)) and not isinstance(v, bool)}
    batch = [Metric(k, v, now, step or 0) for k, v in numeric.items()]
    for i in range(0, len(batch), 1000):  # MLflow caps a batch at 1000 metrics
        client.log_batch(run_id, metrics=batch[i : i + 1000])


def log_params_once(client, run_id: str, values: dict) -> None:
    """Params (immutable in MLflow) onto a run; a key it already holds with another value (the
    same experiment name run again with other params) is left as the first run logged it."""
    from mlflow.entities import Param
    from mlflow.exceptions import MlflowException

    have = client.get_run(run_id).data.params
    fresh = [Param(k, str(v)[:6000]) for k, v in flatten(values).items() if k not in have]
    for i in range(0, len(fresh), 100):
        try:
            client.log_batch(run_id, params=fresh[i : i + 100])
        except MlflowException:  # another process logged the same key meanwhile
            pass


def _client(config: TrackingConfig):
    from mlflow.tracking import MlflowClient

    return MlflowClient(tracking_uri=tracking_uri(config))


def experiment_id(client, name: str) -> str:
    """Create the experiment once, with its artifacts in the repo (not in a --temp copy)."""
    found = client.get_experiment_by_name(name)
    if found is not None:
        for key, value in EXPERIMENT_TAGS.items():
            if found.tags.get(key) != value:
                client.set_experiment_tag(found.experiment_id, key, value)
        return found.experiment_id
    location = (repo_root() / "mlartifacts").as_uri()
    # The UI opens an experiment of this kind on its training-runs table (not the GenAI view).
    return client.create_experiment(name, artifact_location=location, tags=EXPERIMENT_TAGS)


def find_or_create_parent(client, exp_id: str, key: str) -> str:
    """The parent run tagged fsqtok.pipeline=key; created (and left open) if none exists."""
    runs = client.search_runs([exp_id], filter_string=f"tags.`{PIPELINE_TAG}` = '{key}'", max_results=1)
    if runs:
        return runs[0].info.run_id
    return client.create_run(exp_id, run_name=key, tags={PIPELINE_TAG: key}).info.run_id


def parent_run_id(client, exp_id: str) -> str | None:
    if os.environ.get(PARENT_ENV):
        return os.environ[PARENT_ENV]
    if os.environ.get("DVC_EXP_NAME"):
        return find_or_create_parent(client, exp_id, f"exp:{os.environ['DVC_EXP_NAME']}")
    return None


@contextmanager
def stage_run(stage: str, params: Params, sections: list[str]) -> Iterator[Tracker]:
    """One MLflow run named after the stage, with its params sections, tags and final status."""
    if not params.tracking.enabled or os.environ.get("RANK", "0") != "0":  # under torchrun only rank 0 logs
        yield Tracker()
        return
    client = _client(params.tracking)
    exp_id = experiment_id(client, params.tracking.experiment)
    tags = {
        "stage": stage,
        "git_rev": git_rev(),
        "params_hash": params.digest(*sections),
        "dvc_exp_name": os.environ.get("DVC_EXP_NAME", ""),
    }
    parent = parent_run_id(client, exp_id)
    if parent:
        tags["mlflow.parentRunId"] = parent
    run_id = client.create_run(exp_id, run_name=stage, tags=tags).info.run_id
    sections_params = {name: params.section(name) for name in sections}
    log_params_once(client, run_id, sections_params)
    if parent:  # the parent row carries every stage's params, so pipelines compare on it
        log_params_once(client, parent, sections_params)
    with finished(client, run_id):
        yield Tracker(client, run_id, parent, stage)


@contextmanager
def finished(client, run_id: str) -> Iterator[None]:
    """Mark the run FINISHED when the block ends, FAILED if it raises (then re-raise)."""
    try:
        yield
    except BaseException:
        client.set_terminated(run_id, "FAILED")
        raise
    client.set_terminated(run_id, "FINISHED")


@contextmanager
def pipeline_run(params: Params, name: str = "repro") -> Iterator[dict]:
    """Parent run around a whole `dvc repro`; yields the environment for the child process."""
    env = dict(os.environ)
    if not params.tracking.enabled:
        yield env
        return
    client = _client(params.tracking)
    exp_id = experiment_id(client, params.tracking.experiment)
    run_id = client.create_run(exp_id, run_name=name, tags={PIPELINE_TAG: name, "git_rev": git_rev()}).info.run_id
    env[PARENT_ENV] = run_id
    with finished(client, run_id):
        yield env
