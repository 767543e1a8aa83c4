"""Real multi-process training on CPU: torchrun, gloo and DDP, two processes, tiny configs.
Select with `pytest -k distributed`."""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
import yaml
from mlflow.tracking import MlflowClient

from conftest import run, write_noae_pieces

WORKER = Path(__file__).with_name("distributed_worker.py")
# The bias of the projection into FSQ is removed again by the affine-free batch norm after it:
# its true gradient is zero, AdamW scales the rounding noise that stands in for it up to full
# steps, so it (and the running mean that tracks it) follows the summation order, not the data.
NO_GRADIENT = {"to_fsq.bias", "fsq_norm.running_mean"}
TORCHRUN = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2"]


def trained(tmp_path: Path, kind: str, processes: int, steps: int = 6) -> dict:
    out = tmp_path / f"{kind}-{processes}.pt"
    launcher = TORCHRUN if processes == 2 else [sys.executable]
    run([*launcher, str(WORKER), kind, str(out), str(steps)], tmp_path)
    return torch.load(out, weights_only=True)


@pytest.mark.parametrize("kind", ["ae", "lm"])
def test_distributed_two_ranks_equal_one_process(tmp_path, kind):
    """2 ranks x half the batch take the same steps as 1 process x the whole batch (the LM: 2 and 4
    micro-batches of 4 rows, the ranks all-reducing once a step)."""
    one, two = trained(tmp_path, kind, 1), trained(tmp_path, kind, 2)
    assert one.keys() == two.keys()
    # Summation order differs (a rank's rows, the auto-encoder's span groups): AdamW turns that
    # rounding into weights ~1e-5 apart after 6 steps; ranks that train apart drift far more.
    for name in set(one) - NO_GRADIENT:
        assert torch.allclose(one[name].float(), two[name].float(), atol=1e-4, rtol=1e-3), name
    initial = trained(tmp_path, kind, 1, steps=1)
    assert any(not torch.allclose(initial[n].float(), one[n].float()) for n in one)  # training moved the weights


def descendants(pid: int) -> list[int]:
    """Every process started under `pid`, deepest first (torchrun's workers run in their own sessions)."""
    children = subprocess.run(["ps", "-o", "pid=", "--ppid", str(pid)], capture_output=True, text=True).stdout.split()
    return [d for child in map(int, children) for d in [*descendants(child), child]]


def test_distributed_stage_is_killed_resumes_and_only_rank0_writes(pipeline_repo, tiny_params, tmp_path):
    params = {**tiny_params, "precision": "fp32",
              "pretrain": {**tiny_params["pretrain"], "steps": 120, "checkpoint_every": 10, "eval_every": 60,
                           "batch_size": 16, "threads": 1},
              "distributed": {"nproc_per_node": 2}, "tracking": {"enabled": True, "experiment": "ddp", "uri": ""}}
    (pipeline_repo / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    env = {"MLFLOW_TRACKING_URI": f"sqlite:///{tmp_path / 'mlflow.db'}"}
    run(["python", "pipeline/prepare_corpus.py"], pipeline_repo, env)
    run(["python", "pipeline/split.py"], pipeline_repo, env)
    write_noae_pieces(pipeline_repo)
    process = subprocess.Popen([sys.executable, "pipeline/pretrain.py"], cwd=pipeline_repo,
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env={**os.environ, **env})
    checkpoints = pipeline_repo / "checkpoints" / "pretrain"
    deadline = time.time() + 180
    while time.time() < deadline and not list(checkpoints.glob("*/step_*.pt")):
        time.sleep(0.05)
    for pid in [*descendants(process.pid), process.pid]:  # both ranks, then torchrun
        os.kill(pid, signal.SIGKILL)
    process.wait()
    [run_dir] = list(checkpoints.iterdir())
    killed_at = max(torch.load(f, weights_only=True)["step"] for f in run_dir.glob("step_*.pt"))
    assert 10 <= killed_at < 120
    rerun = run(["python", "pipeline/pretrain.py"], pipeline_repo, env)
    assert f"at step {killed_at}" in rerun.stdout and "pretrain: best step" in rerun.stdout
    summary = json.loads((pipeline_repo / "reports/pretrain/metrics.json").read_text())
    assert summary["steps"] == 120
    client = MlflowClient(tracking_uri=env["MLFLOW_TRACKING_URI"])
    experiment = client.get_experiment_by_name("ddp")
    runs = client.search_runs([experiment.experiment_id])
    assert sorted(r.info.run_name for r in runs) == ["prepare_corpus", "pretrain", "pretrain", "split"]  # rank 0
    assert sorted(f.name for f in run_dir.iterdir()) == ["step_00000110.pt", "step_00000120.pt"]

    # an uninterrupted 2-rank run ends on exactly the same weights
    run(["python", "pipeline/pretrain.py", "--checkpoint-dir", str(tmp_path / "straight"),
         "--out", str(tmp_path / "straight-ae"), "--reports", str(tmp_path / "straight-reports")], pipeline_repo, env)
    from safetensors.torch import load_file

    resumed = load_file(pipeline_repo / "models/autoencoder/model.safetensors")
    straight = load_file(tmp_path / "straight-ae/model.safetensors")
    assert resumed.keys() == straight.keys()
    assert all(torch.equal(resumed[name], straight[name]) for name in resumed)
