"""Sweeps as the README runs them: plain `dvc repro`, a queued grid run by two parallel workers
on a store that does not exist yet, and a failing experiment; every MLflow parent ends."""

import re
import subprocess
import time

import yaml
from mlflow.tracking import MlflowClient

from conftest import run, tool_env
from fsqtok.store.tracking import ERROR_TAG, PIPELINE_TAG


def parents(uri: str) -> dict:
    """Parent runs of experiment 'sweep' by their fsqtok.pipeline tag -> (run, child run names)."""
    client = MlflowClient(tracking_uri=uri)
    exp = client.get_experiment_by_name("sweep")
    runs = client.search_runs([exp.experiment_id], max_results=200)
    return {r.data.tags[PIPELINE_TAG]: (r, sorted(c.info.run_name for c in runs
                                                  if c.data.tags.get("mlflow.parentRunId") == r.info.run_id))
            for r in runs if PIPELINE_TAG in r.data.tags}


def start_workers(repo, env, log) -> None:
    """`dvc queue start -j 2`, its output to a file: the workers it leaves behind must not hold
    a pipe of this test open."""
    with open(log, "w") as out:
        code = subprocess.run(["dvc", "queue", "start", "-j", "2"], cwd=repo, env=tool_env(env), stdout=out,
                              stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, timeout=120).returncode
    assert code == 0, log.read_text()


def wait_for_queue(repo, env, timeout: float = 400) -> str:
    start = time.monotonic()
    while time.monotonic() - start < timeout:
        result = run(["dvc", "queue", "status"], repo, env, check=False)
        status = result.stdout  # a status read while a worker writes its info file can fail: ask again
        if result.returncode == 0 and "Queued" not in status and "Running" not in status:
            return status
        time.sleep(3)
    raise AssertionError(f"queue still busy after {timeout} s:\n{status}")


def test_sweep_parents_end_finished_or_failed(pipeline_repo, tmp_path):
    params = yaml.safe_load((pipeline_repo / "params.yaml").read_text())
    params["tracking"] = {"enabled": True, "experiment": "sweep", "uri": ""}
    (pipeline_repo / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    plain = {"MLFLOW_TRACKING_URI": f"sqlite:///{tmp_path / 'plain.db'}"}
    run(["dvc", "repro", "pretrain"], pipeline_repo, plain)
    [(key, (parent, children))] = parents(plain["MLFLOW_TRACKING_URI"]).items()
    assert key.startswith("dvc:") and parent.info.run_name == "dvc repro" and parent.info.status == "FINISHED"
    assert children == ["baseline_eval", "prepare_corpus", "pretrain", "split"]  # pretrain learns fsqtok_noae

    run(["git", "add", "-A"], pipeline_repo)
    run(["git", "commit", "-qm", "outputs"], pipeline_repo)
    fresh = {"MLFLOW_TRACKING_URI": f"sqlite:///{tmp_path / 'fresh' / 'mlflow.db'}"}  # created by the workers
    for lr in ("0.002", "0.004"):
        run(["dvc", "exp", "run", "--queue", "--name", f"lr{lr[-1]}", "-S", f"pretrain.lr={lr}", "pretrain"],
            pipeline_repo, fresh)
    start_workers(pipeline_repo, fresh, tmp_path / "workers.log")
    try:
        status = wait_for_queue(pipeline_repo, fresh)
    finally:
        run(["dvc", "queue", "stop", "--kill"], pipeline_repo, fresh, check=False)
    assert status.count("Success") == 2, status
    run(["dvc", "exp", "run", "--name", "nan", "-S", "pretrain.lr=1e30", "pretrain"], pipeline_repo, fresh,
        check=False)
    found = parents(fresh["MLFLOW_TRACKING_URI"])
    assert sorted(found) == ["exp:lr2", "exp:lr4", "exp:nan"]
    for name in ("exp:lr2", "exp:lr4"):
        parent, children = found[name]
        assert (parent.info.status, children) == ("FINISHED", ["pretrain"])
    parent, children = found["exp:nan"]
    assert (parent.info.status, children) == ("FAILED", ["pretrain"])
    assert re.fullmatch(r"\[pretrain\] pretrain: the loss became nan at step \d+; lower pretrain.lr \(the "
                        r"checkpoints written so far are kept\)", parent.data.tags[ERROR_TAG])
