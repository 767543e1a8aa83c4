"""The real pipeline end to end: real DVC, real MLflow (temp SQLite), tiny params, temp git repo."""

import json

import pytest
import yaml
from mlflow.tracking import MlflowClient

from conftest import run

STAGES = ["prepare_corpus", "split", "baseline_eval", "pretrain", "prune", "evaluate", "integrate", "flow", "report"]


def ran_stages(output: str) -> list[str]:
    return [s for s in STAGES if f"Running stage '{s}'" in output]


def write_own_tokenizer(path):
    """A user's own baseline: a HF WordLevel tokenizer over a few words that lowercases."""
    from tokenizers import Tokenizer, models, normalizers, pre_tokenizers

    hf = Tokenizer(models.WordLevel({"[UNK]": 0, "the": 1, "and": 2, "of": 3}, unk_token="[UNK]"))
    hf.normalizer, hf.pre_tokenizer = normalizers.Lowercase(), pre_tokenizers.Whitespace()
    hf.save(str(path))


def test_repro_then_noop_then_experiment(pipeline_repo, tmp_path):
    params = yaml.safe_load((pipeline_repo / "params.yaml").read_text())
    params["tracking"] = {"enabled": True, "experiment": "e2e"}
    params["baseline"] = {"extra": ["extra_tokenizers/mine.json"]}
    (pipeline_repo / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    write_own_tokenizer(pipeline_repo / "extra_tokenizers/mine.json")
    run(["git", "add", "-A"], pipeline_repo)
    run(["git", "commit", "-qm", "tracking on, a tokenizer of our own"], pipeline_repo)
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    env = {"MLFLOW_TRACKING_URI": uri}

    first = run(["fsqtok", "repro"], pipeline_repo, env)
    assert ran_stages(first.stdout) == STAGES
    for path in ["data/corpus/documents.parquet", "data/split/train.parquet", "models/autoencoder/model.safetensors",
                 "models/tokenizer/vocab.json", "models/baselines/bpe/tokenizer.json",
                 "models/baselines/multiword/merges.json", "models/baselines/fsqtok_noae/vocab.json",
                 "models/baselines/unigram/unigram.model",
                 "reports/pretrain/curve.csv", "reports/codebook/coverage.png"]:
        assert (pipeline_repo / path).exists(), path
    corpus = json.loads((pipeline_repo / "reports/corpus/metrics.json").read_text())
    assert corpus["per_source"]["kjv"]["documents"] == 12
    check_reports(pipeline_repo)
    check_headline(pipeline_repo)
    check_offline_plots(pipeline_repo)

    second = run(["dvc", "repro"], pipeline_repo, env)
    assert ran_stages(second.stdout) == []

    run(["git", "add", "-A"], pipeline_repo)
    run(["git", "commit", "-qm", "outputs"], pipeline_repo)
    (tmp_path / "seed1.yaml").write_text("split:\n  seed: 1\nlm:\n  seeds: 2\n")
    experiment = run(["fsqtok", "exp", "--profile", str(tmp_path / "seed1.yaml")], pipeline_repo, env)
    assert ran_stages(experiment.stdout) == STAGES[1:]
    check_profile_report(pipeline_repo, "seed1")
    lm_table = json.loads((pipeline_repo / "reports/integrate/metrics.json").read_text())
    for name in ("fsqtok", "bpe", "multiword", "byte"):
        per_seed = lm_table[name]["val_bpb_per_seed"]
        assert list(per_seed) == ["0", "1"] and per_seed["0"] != per_seed["1"]
        assert lm_table[name]["val_bpb"] == sum(per_seed.values()) / 2

    client = MlflowClient(tracking_uri=uri)
    exp = client.get_experiment_by_name("e2e")
    assert exp.artifact_location.startswith((pipeline_repo / "mlartifacts").as_uri())
    runs = client.search_runs([exp.experiment_id], max_results=100)
    by_id = {r.info.run_id: r for r in runs}
    parents = [r for r in runs if "mlflow.parentRunId" not in r.data.tags]
    assert sorted(r.info.run_name for r in parents) == ["exp:seed1", "repro"]
    for parent, expected in zip(sorted(parents, key=lambda r: r.info.run_name), [STAGES[1:], STAGES], strict=True):
        children = [r for r in runs if r.data.tags.get("mlflow.parentRunId") == parent.info.run_id]
        assert sorted(r.info.run_name for r in children) == sorted(expected)
        assert all(r.info.status == "FINISHED" for r in children)
    pretrain = next(r for r in runs if r.info.run_name == "pretrain")
    assert pretrain.data.tags["stage"] == "pretrain" and len(pretrain.data.tags["params_hash"]) == 12
    assert pretrain.data.params["pretrain.steps"] == "6"
    for name in ("byte_accuracy", "byte_accuracy_train_over_100", "byte_accuracy_train_0_2"):
        assert [m.step for m in client.get_metric_history(pretrain.info.run_id, name)] == [3, 6]
    lm_runs = {}  # parent run name -> names of the integrate stage's LM child runs
    for integrate in (r for r in runs if r.info.run_name == "integrate"):
        parent = by_id[integrate.data.tags["mlflow.parentRunId"]].info.run_name
        children = [r for r in runs if r.data.tags.get("mlflow.parentRunId") == integrate.info.run_id]
        lm_runs[parent] = sorted(r.info.run_name for r in children)
        assert [m.step for m in client.get_metric_history(children[0].info.run_id, "bpb")] == [1, 2, 3, 4]
    names = ("bpe", "byte", "fsqtok", "multiword")
    assert lm_runs == {"repro": [f"integrate/{t}" for t in names],
                       "exp:seed1": [f"integrate/{t}/seed{s}" for t in names for s in (0, 1)]}
    assert len(by_id) == len(STAGES) * 2 + 1 + 4 + 8  # stages twice, one parent, LM child runs
    check_pipeline_rows(client, exp, parents, pipeline_repo, env)
    check_flow(pipeline_repo, env)
    noise = client.search_runs([exp.experiment_id], filter_string="tags.`fsqtok.pipeline` = 'exp:noise'")[0]
    assert "flow.flow_judge_bpb" in noise.data.metrics and noise.data.params["flow.noise_std"] == "0.1"


def check_profile_report(repo, name):
    """`fsqtok exp` summarises the experiment it ran from the workspace's outputs."""
    out = repo / "reports/profiles" / name
    summary = json.loads((out / "metrics.json").read_text())
    codebook = json.loads((repo / "reports/codebook/metrics.json").read_text())
    tokenizers = json.loads((repo / "reports/evaluate/metrics.json").read_text())["tokenizers"]
    pretrain = json.loads((repo / "reports/pretrain/metrics.json").read_text())
    assert summary["candidates_verified"] == codebook["verified_codes"]
    assert summary["vocab_size"] == codebook["vocab_size"]
    assert summary["bytes_per_token"]["test"]["bpe"] == tokenizers["test"]["bpe"]["bytes_per_token"]
    assert list(summary["bytes_per_token"]["val"]) == list(tokenizers["val"])  # every tokenizer
    lm = json.loads((repo / "reports/integrate/metrics.json").read_text())
    assert summary["lm"] == {name: {key: lm[name][key] for key in ("val_bpb", "val_bpb_std", "val_bpb_per_seed")}
                             for name in ("fsqtok", "bpe", "multiword", "byte")}
    assert summary["pretrain"]["best"] == pretrain["best"]
    assert {"byte_accuracy_train_over_100", "byte_accuracy_train_0_2"} <= set(pretrain["best"])
    assert sum(pretrain["val_bytes"].values()) == pytest.approx(1.0)
    assert list(summary["seed_strings"]) == ["hello world", "The quick brown fox", "123 test"]
    assert (out / "curve.csv").read_bytes() == (repo / "reports/pretrain/curve.csv").read_bytes()
    assert (out / "curve.png").read_bytes()[:4] == b"\x89PNG"


def check_pipeline_rows(client, exp, parents, repo, env):
    """Parent runs compare whole pipelines: headline metrics and params on the parent row, the
    splits as dataset inputs of the stages, and the experiment opens on its training runs."""
    assert exp.tags["mlflow.experimentKind"] == "custom_model_development"
    rows = {r.info.run_name: client.get_run(r.info.run_id) for r in parents}
    for row in rows.values():
        assert {"pretrain.byte_accuracy", "prune.verified_codes", "evaluate.fsqtok_vs_bpe_compression",
                "integrate.fsqtok_vs_bpe_bpb_ratio", "flow.flow_judge_bpb", "ae/byte_acc", "lm/bpb_vs_bpe",
                "tok/vs_bpe"} <= set(row.data.metrics)
        assert row.data.params["pretrain.steps"] == "6"
        assert row.data.params["lm.tokenizers"] == "['fsqtok', 'bpe', 'multiword', 'byte']"
    assert (rows["repro"].data.params["split.seed"], rows["exp:seed1"].data.params["split.seed"]) == ("0", "1")
    from fsqtok.report.mlflow_view import SHARED_VIEW_TAG, view_state  # the UI opens on the headline columns

    headline = list(json.loads((repo / "reports/headline.json").read_text()))
    assert client.get_experiment(exp.experiment_id).tags[SHARED_VIEW_TAG + "headline"] == view_state(headline)
    link = run(["fsqtok", "ui-url", "--port", "5001"], repo, env).stdout.strip()
    assert link == (f"http://127.0.0.1:5001/#/experiments/{exp.experiment_id}/runs"
                    "?workflowType=machine_learning&viewStateShareKey=headline")
    digests = []
    for parent in rows.values():
        [pretrain] = client.search_runs([exp.experiment_id], filter_string=f"tags.mlflow.parentRunId = "
                                        f"'{parent.info.run_id}' and attributes.run_name = 'pretrain'")
        inputs = {i.dataset.name: i.dataset for i in client.get_run(pretrain.info.run_id).inputs.dataset_inputs}
        assert set(inputs) == {"train", "val"} and len(inputs["train"].digest) == 32
        digests.append(inputs["train"].digest)
    assert digests[0] != digests[1]  # another split seed, other train bytes


def check_flow(repo, env):
    """The flow stage's report, and an experiment on its params that re-runs it alone."""
    flow = json.loads((repo / "reports/flow/metrics.json").read_text())
    assert set(flow["generators"]) == {"flow", "fsqtok", "bpe", "multiword", "byte", "val_text"}
    for scores in flow["generators"].values():
        assert {"judge_bpb", "unigram_entropy", "distinct_4", "settings"} <= set(scores)
    vocab_modes = ["grid", "vocab"] if flow["ceiling"]["vocab"] else ["grid"]  # vocab needs verified codes
    expected = sorted(f"steps{s}/{m}" for s in (2, 3) for m in vocab_modes)
    assert sorted(flow["generators"]["flow"]["settings"]) == expected
    samples = json.loads((repo / "reports/flow/samples.json").read_text())
    judged = json.loads((repo / "reports/integrate/judge_samples.json").read_text())
    for name in ("fsqtok", "bpe", "multiword", "byte"):  # integrate's samples: the LM's own distribution first
        assert list(flow["generators"][name]["settings"]) == ["untruncated", "t0.8"]
        assert flow["generators"][name]["setting"] == "untruncated"
        assert samples[name] == judged[name] and [len(t) for t in judged[name].values()] == [2, 2]
    assert 0 <= flow["ceiling"]["byte_accuracy"] <= 1
    assert all(len(text) <= 40 for texts in samples["flow"].values() for text in texts)  # 40 bytes, decoded
    run(["git", "add", "-A"], repo)
    run(["git", "commit", "-qm", "experiment outputs"], repo)
    noise = run(["dvc", "exp", "run", "-S", "flow.noise_std=0.1", "--name", "noise"], repo, env)
    assert ran_stages(noise.stdout) == ["flow", "report"]


def test_bad_params_fail_with_one_line(pipeline_repo):
    (pipeline_repo / "params.yaml").write_text("split:\n  val_fraction: -0.5\n")
    result = run(["python", "pipeline/split.py"], pipeline_repo, check=False)
    assert result.returncode == 2
    assert result.stderr.strip() == "error: split.val_fraction: must be in (0, 1), got -0.5"


def test_missing_input_names_the_file(pipeline_repo):
    result = run(["python", "pipeline/split.py"], pipeline_repo, check=False)
    assert result.returncode == 2
    assert result.stderr.strip() == (
        "error: data/corpus/documents.parquet: missing; run the stage that writes it (dvc repro)")


def test_flow_without_the_lm_samples_stops_before_training(pipeline_repo):
    result = run(["python", "pipeline/flow.py"], pipeline_repo, check=False)
    assert (result.returncode, result.stderr.strip()) == (
        2, "error: reports/integrate/judge_samples.json: missing; run the stage that writes it (dvc repro)")
    assert not (pipeline_repo / "checkpoints/flow").exists()


def check_headline(repo):
    """The report stage's short names hold the stages' own numbers, and `dvc metrics show` prints
    only them, in lines that fit a terminal."""
    headline = json.loads((repo / "reports/headline.json").read_text())
    pretrain = json.loads((repo / "reports/pretrain/metrics.json").read_text())
    evaluate = json.loads((repo / "reports/evaluate/metrics.json").read_text())
    integrate = json.loads((repo / "reports/integrate/metrics.json").read_text())
    assert headline["ae/byte_acc"] == pretrain["best"]["byte_accuracy"]
    val = evaluate["tokenizers"]["val"]
    for baseline in ("bpe", "multiword"):
        assert headline[f"tok/vs_{baseline}"] == evaluate["headline"][f"fsqtok_vs_{baseline}_compression"] == (
            val["fsqtok"]["bytes_per_token"] / val[baseline]["bytes_per_token"])
    assert headline["lm/bpb_vs_bpe"] == pytest.approx(integrate["fsqtok_vs_bpe_bpb_ratio"])
    fsqtok_val = evaluate["tokenizers"]["val"]["fsqtok"]
    assert headline["tok/fallback"] == pytest.approx(1 - fsqtok_val["learned_byte_share"])
    assert len(headline) == 8
    shown = run(["dvc", "metrics", "show"], repo, {"COLUMNS": "160"}).stdout
    assert "reports/headline.json" in shown and "metrics.json" not in shown
    assert max(len(line) for line in shown.splitlines()) <= 160


def check_offline_plots(repo):
    """`dvc plots show` writes a page that needs no network: the vega libraries are inline."""
    import re

    run(["dvc", "plots", "show", "--out", "plots_page"], repo)
    page = (repo / "plots_page/index.html").read_text()
    assert re.findall(r"<script[^>]*src=", page) == [] and "vegaEmbed(" in page and "<script>" in page
    images = re.findall(r'<img src="static/(\w+)\.png">', page)  # the one PNG figure with no CSV twin
    assert images == ["workspace_reports_evaluate_bytes_per_token"]
    plots = re.findall(r'"title": \{\s*"text": "([^"]+)"', page)  # one vega plot per question, none twice
    assert sorted(plots) == ["codebook_coverage", "codebook_rank_frequency", "flow_loss", "lm_val_bpb_by_tokenizer",
                             "pretrain_loss", "pretrain_val_accuracy"]
    assert page.count('"type": "log"') == 3  # rank-frequency on log-log axes, coverage on a log x axis


def check_reports(repo):
    """The HTML report is offline and shows the numbers of metrics.json; the LM table is complete."""
    from fsqtok.report.html import number

    evaluate = json.loads((repo / "reports/evaluate/metrics.json").read_text())
    html = (repo / "reports/evaluate/report.html").read_text()
    assert "http://" not in html and "https://" not in html.replace("https://example.org", "")
    assert html.count("data:image/png;base64,") == 4
    assert list(evaluate["tokenizers"]["val"]) == ["fsqtok", "fsqtok_noae", "bpe", "multiword", "unigram", "word",
                                                        "byte", "mine"]  # baseline.extra's file last
    assert 1 < evaluate["tokenizers"]["test"]["mine"]["bytes_per_token"] < 1.5  # "the", "and", "of"; else bytes
    for name, row in evaluate["tokenizers"]["val"].items():
        assert f"<b>{name}</b>" in html and number(row["bytes_per_token"]) in html
    assert number(evaluate["headline"]["byte_accuracy_after"]) in html
    pretrain = json.loads((repo / "reports/pretrain/metrics.json").read_text())
    codebook = json.loads((repo / "reports/codebook/metrics.json").read_text())
    assert "seen over 100 times in train" in html and "seen 0-2 times in train" in html
    assert number(pretrain["val_bytes"]["byte_share_train_0_2"]) in html
    assert f"Prune: {codebook['verified_codes']:,} of {codebook['candidates']:,} candidates" in html
    val = evaluate["tokenizers"]["val"]
    ratio = val["fsqtok"]["bytes_per_token"] / val["fsqtok_noae"]["bytes_per_token"]
    assert f"verification by the auto-encoder moves compression by {ratio:.3f}×" in html
    assert f"it verifies {codebook['noae_pieces_verified']:.1%} of them" in html
    assert f"{codebook['bpe_pieces_verified']:.1%} of the BPE baseline's pieces" in html
    assert evaluate["headline"]["fsqtok_lossless_rate"] == 1.0
    integrate = json.loads((repo / "reports/integrate/metrics.json").read_text())
    assert set(integrate) == {"fsqtok", "bpe", "multiword", "byte", "fsqtok_vs_bpe_bpb_ratio"}
    assert len({integrate[t]["val_bytes"] for t in ("fsqtok", "bpe", "multiword", "byte")}) == 1  # same val bytes
    assert integrate["fsqtok_vs_bpe_bpb_ratio"] == integrate["fsqtok"]["val_bpb"] / integrate["bpe"]["val_bpb"]
    for name in ("fsqtok", "bpe", "multiword", "byte"):  # each LM's unconditional samples, judged
        row = integrate[name]
        assert row["samples"] == 2 and row["judge_bpb"] > 0 and row["judge_bpb_se"] >= 0
        assert row["judge_bpb_truncated"] > 0 and row["judge_bpb_truncated"] != row["judge_bpb"]  # other samples
    samples = json.loads((repo / "reports/integrate/samples.json").read_text())
    assert set(samples) == {"fsqtok", "bpe", "multiword", "byte"} and all(len(s) == 2 for s in samples.values())
    # the saved LM bundle reproduces the stage's sample: same weights, tokenizer and seed
    again = run(["fsqtok", "generate", "--lm", "models/lm/fsqtok", "--prompt", "The city of", "--max-tokens", "8",
                 "--seed", "1"], repo)  # prompt i samples with seed + i
    assert again.stdout == samples["fsqtok"][1] + "\n"
    generated = run(["fsqtok", "generate", "--lm", "models/lm/byte", "--prompt", "And God", "--max-tokens", "5"], repo)
    assert generated.stdout.startswith("And God") and len(generated.stdout) <= len("And God") + 5 + 1
    mismatch = run(["fsqtok", "generate", "--lm", "models/lm/fsqtok", "-t", "byte"], repo, check=False)
    assert mismatch.returncode == 2 and "this LM was trained with tokenizer 'fsqtok'" in mismatch.stderr
