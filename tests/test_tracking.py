"""The MLflow store under concurrent stages, and the parent run of every pipeline invocation:
real MLflow on a temporary SQLite file, real processes."""

import os
import subprocess
import sys
import textwrap

import pytest
from mlflow.tracking import MlflowClient

from fsqtok.config import params_from_dict
from fsqtok.errors import FsqtokError
from fsqtok.store.tracking import ERROR_TAG, PIPELINE_TAG, TrackingError, dvc_ancestor, stage_run

OPENER = textwrap.dedent("""
    import sys, time
    from pathlib import Path
    import mlflow.tracking  # imported before the start signal, so every process opens at once
    from fsqtok.config import TrackingConfig
    from fsqtok.store.tracking import open_store
    print("ready", flush=True)
    while not Path(sys.argv[2]).exists():
        time.sleep(0.005)
    client, exp_id, parent = open_store(TrackingConfig(uri=sys.argv[1], experiment="race"))
    print(exp_id, parent)
""")


def test_processes_create_a_new_store_at_once(tmp_path):
    uri, go = f"sqlite:///{tmp_path / 'new' / 'mlflow.db'}", tmp_path / "go"
    env = {k: v for k, v in os.environ.items() if k not in ("DVC_EXP_NAME", "FSQTOK_PARENT_RUN_ID")}
    procs = [subprocess.Popen([sys.executable, "-c", OPENER, uri, str(go)], stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True, env=env) for _ in range(4)]
    for proc in procs:
        assert proc.stdout.readline() == "ready\n"
    go.touch()
    results = [(proc.wait(timeout=120), proc.stdout.read(), proc.stderr.read()) for proc in procs]
    assert [code for code, _, _ in results] == [0, 0, 0, 0], results
    [exp_id] = {out.split()[0] for _, out, _ in results}  # one experiment, made once
    assert {out.split()[1] for _, out, _ in results} == {"None"}  # no parent outside a pipeline
    assert MlflowClient(tracking_uri=uri).get_experiment_by_name("race").experiment_id == exp_id


def test_unreachable_store_is_one_line(tmp_path):
    (tmp_path / "file").write_text("not a folder")
    params = params_from_dict({"tracking": {"uri": f"sqlite:///{tmp_path / 'file' / 'mlflow.db'}"}})
    with pytest.raises(TrackingError) as err:
        with stage_run("split", params.only(("split", "tracking"), "test")):
            pass
    message = str(err.value)
    assert message.startswith(f"tracking store sqlite:///{tmp_path / 'file' / 'mlflow.db'}: ") and "\n" not in message
    assert message.endswith("; retry, point tracking.uri elsewhere, or set tracking.enabled: false")


def test_dvc_ancestor_is_the_nearest_dvc_process(tmp_path):
    fake = tmp_path / "bin" / "dvc"  # a process whose script is named dvc, like `.venv/bin/dvc repro`
    fake.parent.mkdir()
    fake.write_text(f"#!/bin/bash\n{sys.executable} -c 'from fsqtok.store.tracking import dvc_ancestor; "
                    f"print(dvc_ancestor()[0])'\necho $$\n")
    fake.chmod(0o755)
    child_saw, dvc_pid = subprocess.run(["bash", str(fake)], capture_output=True, text=True,
                                        check=True).stdout.split()
    assert child_saw == dvc_pid
    assert dvc_ancestor() is None  # pytest runs under no dvc


def test_stages_end_their_parent_finished_or_failed(tmp_path, monkeypatch):
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    params = params_from_dict({"tracking": {"enabled": True, "experiment": "life", "uri": uri}})
    monkeypatch.delenv("FSQTOK_PARENT_RUN_ID", raising=False)
    monkeypatch.setenv("DVC_EXP_NAME", "lr-sweep-1")
    client = MlflowClient(tracking_uri=uri)

    def parent():
        exp = client.get_experiment_by_name("life")
        [run] = client.search_runs([exp.experiment_id], f"tags.`{PIPELINE_TAG}` = 'exp:lr-sweep-1'")
        return run

    def stage(name):
        exp = client.get_experiment_by_name("life")
        return client.search_runs([exp.experiment_id], f"attributes.run_name = '{name}'",
                                  order_by=["attributes.start_time DESC"])[0]

    with stage_run("split", params.only(("split", "tracking"), "test")):
        assert parent().info.status == "RUNNING"
    assert (parent().info.status, stage("split").info.status) == ("FINISHED", "FINISHED")

    nan = "pretrain: the loss became nan at step 3; lower pretrain.lr"
    with pytest.raises(FsqtokError), stage_run("pretrain", params.only(("pretrain", "tracking"), "test")):
        raise FsqtokError(nan)
    assert (stage("pretrain").info.status, stage("pretrain").data.tags[ERROR_TAG]) == ("FAILED", nan)
    assert (parent().info.status, parent().data.tags[ERROR_TAG]) == ("FAILED", f"[pretrain] {nan}")

    with pytest.raises(ZeroDivisionError), stage_run("prune", params.only(("prune", "tracking"), "test")):
        1 / 0  # noqa: B018 - a bug, not a user error: named by its type
    assert stage("prune").data.tags[ERROR_TAG] == "ZeroDivisionError: division by zero"

    with stage_run("pretrain", params.only(("pretrain", "tracking"), "test")):  # the re-run after a fix
        pass
    assert parent().info.status == "FINISHED" and ERROR_TAG not in parent().data.tags
    assert stage("pretrain").data.tags["mlflow.parentRunId"] == parent().info.run_id


def test_headline_view_is_the_uis_shared_view_format():
    """What the MLflow UI reads back from a shared view: "deflate;" + base64 of zlib'd JSON state."""
    import base64
    import json
    import zlib

    from fsqtok.report.mlflow_view import view_state

    value = view_state(["ae/byte_acc", "lm/bpb_vs_bpe"])
    assert value.startswith("deflate;")
    state = json.loads(zlib.decompress(base64.b64decode(value.removeprefix("deflate;"))))
    assert state["selectedColumns"] == ["metrics.`ae/byte_acc`", "metrics.`lm/bpb_vs_bpe`"]
    assert state["lifecycleFilter"] == "Active" and state["runsHiddenMode"] == "FIRST_10_RUNS"
