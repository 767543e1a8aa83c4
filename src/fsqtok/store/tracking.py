"""MLflow mirror of each stage: one run per stage, grouped under one parent run per pipeline.

Grouping: `fsqtok repro` opens a parent and passes its id in $FSQTOK_PARENT_RUN_ID (not
$MLFLOW_RUN_ID, which would make stages resume the parent); under `dvc exp run` (queued or
not) the parent is found or created by the tag fsqtok.pipeline=exp:$DVC_EXP_NAME, and under a
plain `dvc repro` by the DVC process that runs the stages (dvc:<pid>:<start time>). Each stage
sets its parent RUNNING when it starts and FINISHED or FAILED when it ends, so a parent never
stays RUNNING whichever stages run. A SQLite store is opened under a file lock beside it, so
parallel stages (`dvc queue start -j 2`) can create it at the same moment. DVC's metrics JSON
stays the source of truth; MLflow gets the same numbers.
"""

from __future__ import annotations

import fcntl
import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from fsqtok.config import Params, TrackingConfig
from fsqtok.errors import FsqtokError
from fsqtok.store.files import file_digest
from fsqtok.store.provenance import git_rev, repo_root

PARENT_ENV = "FSQTOK_PARENT_RUN_ID"
PIPELINE_TAG = "fsqtok.pipeline"
ERROR_TAG = "fsqtok.error"  # the one-line error of a failed stage, on its run and on the parent
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

    def headline(self, values: dict) -> None:
        """A run's headline numbers under their own short names, on this run and on the parent
        row, where the run table compares whole pipelines by them."""
        if self.client is not None:
            for run_id in filter(None, (self.run_id, self.parent_id)):
                log_metrics(self.client, run_id, values)

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


class TrackingError(FsqtokError):
    """The tracking store cannot be opened or refuses a write; str() is one line."""


def sqlite_file(uri: str) -> Path | None:
    """The database file of a SQLite URI, else None.
    Example: "sqlite:////work/mlflow.db" -> Path("/work/mlflow.db"); "http://host:5000" -> None"""
    return Path(uri.removeprefix("sqlite:///")) if uri.startswith("sqlite:///") else None


@contextmanager
def store_lock(uri: str) -> Iterator[None]:
    """Hold an exclusive lock on <db>.lock while a SQLite store is created or its experiment and
    parent runs are made: two processes creating the schema at once fail ("table metrics
    already exists"). Other stores (a team server) serialise their own writes."""
    database = sqlite_file(uri)
    if database is None:
        yield
        return
    database.parent.mkdir(parents=True, exist_ok=True)
    with open(f"{database}.lock", "a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)  # released when the file closes
        yield


@contextmanager
def store_errors(uri: str) -> Iterator[None]:
    """MLflow's and SQLAlchemy's errors (a busy or broken database, a server that does not
    answer) as one TrackingError line that names the store and the way out."""
    from mlflow.exceptions import MlflowException
    from sqlalchemy.exc import SQLAlchemyError

    try:
        yield
    except (MlflowException, SQLAlchemyError, OSError) as err:
        reason = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        raise TrackingError(f"tracking store {uri}: {reason}; retry, point tracking.uri elsewhere, "
                            f"or set tracking.enabled: false") from None


def open_store(config: TrackingConfig, find_parent: bool = True) -> tuple[object, str, str | None]:
    """(MLflow client, experiment id, the pipeline's parent run id or None), made under the
    store's lock."""
    from mlflow.tracking import MlflowClient

    uri = tracking_uri(config)
    with store_errors(uri), store_lock(uri):
        client = MlflowClient(tracking_uri=uri)
        exp_id = experiment_id(client, config.experiment)
        return client, exp_id, parent_run_id(client, exp_id) if find_parent else None


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


def find_or_create_parent(client, exp_id: str, key: str, name: str) -> str:
    """The parent run tagged fsqtok.pipeline=key; created if none exists (its stages end it)."""
    runs = client.search_runs([exp_id], filter_string=f"tags.`{PIPELINE_TAG}` = '{key}'", max_results=1)
    if runs:
        return runs[0].info.run_id
    return client.create_run(exp_id, run_name=name, tags={PIPELINE_TAG: key, "git_rev": git_rev()}).info.run_id


def parent_run_id(client, exp_id: str) -> str | None:
    """`fsqtok repro`'s parent, else the `dvc exp run` experiment's, else the `dvc repro`
    process's; None for a stage script run by hand."""
    if os.environ.get(PARENT_ENV):
        return os.environ[PARENT_ENV]
    if os.environ.get("DVC_EXP_NAME"):
        key = f"exp:{os.environ['DVC_EXP_NAME']}"
        return find_or_create_parent(client, exp_id, key, key)
    dvc = dvc_ancestor()
    if dvc is not None:
        return find_or_create_parent(client, exp_id, f"dvc:{dvc[0]}:{dvc[1]}", "dvc repro")
    return None


def dvc_ancestor(pid: int | None = None) -> tuple[int, int] | None:
    """(pid, start time in clock ticks) of the nearest `dvc` process above this one, read from
    /proc: every stage of one `dvc repro` finds the same pair, and a later one another.
    None off Linux or outside DVC."""
    pid = os.getppid() if pid is None else pid
    while pid > 1:
        try:
            argv = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
            stat = Path(f"/proc/{pid}/stat").read_text()
        except OSError:
            return None
        fields = stat[stat.rindex(")") + 2 :].split()  # after "pid (comm) ": state, ppid, ...
        if any(Path(arg.decode(errors="replace")).name == "dvc" for arg in argv[:2]):
            return pid, int(fields[19])  # field 22 of stat: start time
        pid = int(fields[1])
    return None


@contextmanager
def stage_run(stage: str, params: Params) -> Iterator[Tracker]:
    """One MLflow run named after the stage, with the params it declares (`params.only(PARAMS)`),
    tags and final status."""
    if not params.declared:
        raise ValueError(f"stage_run({stage!r}): pass params.only(PARAMS, ...), the keys the stage reads")
    if not params.tracking.enabled or os.environ.get("RANK", "0") != "0":  # under torchrun only rank 0 logs
        yield Tracker()
        return
    client, exp_id, parent = open_store(params.tracking)
    tags = {
        "stage": stage,
        "git_rev": git_rev(),
        "params_hash": params.digest(*params.declared),
        "dvc_exp_name": os.environ.get("DVC_EXP_NAME", ""),
    }
    with store_errors(tracking_uri(params.tracking)):
        if parent:
            tags["mlflow.parentRunId"] = parent
            client.update_run(parent, status="RUNNING")
            if ERROR_TAG in client.get_run(parent).data.tags:  # an earlier try's failure, now re-run
                client.delete_tag(parent, ERROR_TAG)
        run_id = client.create_run(exp_id, run_name=stage, tags=tags).info.run_id
        declared = {key: params.section(key) for key in params.declared}
        log_params_once(client, run_id, declared)
        if parent:  # the parent row carries every stage's params, so pipelines compare on it
            log_params_once(client, parent, declared)
    with finished(client, run_id, parent, stage):
        yield Tracker(client, run_id, parent, stage)


@contextmanager
def finished(client, run_id: str, parent: str | None = None, stage: str = "") -> Iterator[None]:
    """Mark the run (and its pipeline's parent, if given) FINISHED when the block ends; FAILED
    if it raises, with the one-line error as a tag, then re-raise."""
    try:
        yield
    except BaseException as err:
        message = one_line(err)
        for run, text in ((run_id, message), (parent, f"[{stage}] {message}")):
            if run:
                client.set_tag(run, ERROR_TAG, text[:5000])
                client.set_terminated(run, "FAILED")
        raise
    for run in (run_id, parent):
        if run:
            client.set_terminated(run, "FINISHED")


def one_line(err: BaseException) -> str:
    """What a user reads of an error: its message (first line), named by type unless it is an
    FsqtokError, whose message already says it all."""
    if isinstance(err, KeyboardInterrupt):
        return "interrupted"
    text = str(err).strip().splitlines()[0] if str(err).strip() else ""
    return text if isinstance(err, FsqtokError) else f"{type(err).__name__}: {text}".rstrip(": ")


@contextmanager
def pipeline_run(params: Params, name: str = "repro") -> Iterator[dict]:
    """Parent run around a whole `dvc repro`; yields the environment for the child process."""
    env = dict(os.environ)
    if not params.tracking.enabled:
        yield env
        return
    client, exp_id, _ = open_store(params.tracking, find_parent=False)
    run_id = client.create_run(exp_id, run_name=name, tags={PIPELINE_TAG: name, "git_rev": git_rev()}).info.run_id
    env[PARENT_ENV] = run_id
    succeeded = False
    try:
        yield env
        succeeded = True
    finally:  # a failed stage has already tagged the parent with its error; keep that tag
        client.set_terminated(run_id, "FINISHED" if succeeded else "FAILED")
