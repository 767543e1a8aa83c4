"""Shared fixtures: tiny params that run every stage on CPU in seconds."""

import copy
import dataclasses
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from hypothesis import settings

from fsqtok.config import params_from_dict

ROOT = Path(__file__).resolve().parents[1]
FIXTURE_4K = ROOT / "tests" / "fixtures" / "fsqtok-4k"  # the default run's 3,837 pieces as a bundle, no weights


def shipped_texts(bible_chapters: int, wikipedia_summaries: int) -> list[str]:
    """The first documents of both corpora that ship in pip packages."""
    from fsqtok.config import CorpusConfig, SourceConfig
    from fsqtok.text.corpus import iter_documents

    config = CorpusConfig(sources=[SourceConfig(kind="kjv", max_documents=bible_chapters),
                                   SourceConfig(kind="wikipedia_summaries", max_documents=wikipedia_summaries)])
    return [data.decode("utf-8") for _, _, data in iter_documents(config)]

# No per-example deadline: timing belongs in `make bench`, and a busy CI machine pausing for
# GC must not fail a property test.
settings.register_profile("fsqtok", deadline=None)
settings.load_profile("fsqtok")

TINY_PARAMS = {
    "seed": 0,
    "device": "cpu",
    "corpus": {"sources": [{"kind": "kjv", "max_documents": 12}, {"kind": "wikipedia_summaries", "max_documents": 24}]},
    "split": {"val_fraction": 0.2, "test_fraction": 0.2, "seed": 0},
    "autoencoder": {"d_byte": 8, "conv_channels": [16, 16, 16], "deconv_channels": [16, 16, 16],
                    "d_latent": 32, "decoder_hidden": 64},
    "pretrain": {"steps": 6, "batch_size": 32, "warmup_steps": 2, "eval_every": 3, "eval_chunks": 500,
                 "checkpoint_every": 3, "keep_checkpoints": 2, "threads": 1,
                 "lexicon_rate": 0.25, "lexicon_words": 500, "repeat_cap": 1, "repeat_cap_after": 0.34},
    "prune": {"vocab_size": 400, "max_candidates": 3000, "batch_size": 512, "pool_size": 1000},
    "evaluate": {"max_chunks": 500, "speed_bytes": 2000, "speed_repeats": 1},
    "lm": {"n_layer": 1, "n_head": 2, "d_model": 16, "context_tokens": 32, "batch_size": 4, "steps": 4, "eval_every": 1,
           "warmup_steps": 1, "max_val_bytes": 3000, "sample_tokens": 8},
    "flow": {"seq_chunks": 8, "d_model": 16, "n_layer": 1, "n_head": 2, "steps": 4, "batch_size": 4,
             "warmup_steps": 1, "eval_every": 2, "checkpoint_every": 2, "ce_positions": 16, "max_train_bytes": 20000,
             "max_val_bytes": 5000, "sample_steps": 3, "step_counts": [2, 3]},
    "judge": {"order": 3, "train_bytes": 20000, "samples": 2, "sample_bytes": 40},
    "tracking": {"enabled": False},
}


@pytest.fixture
def tiny_params() -> dict:
    """TINY_PARAMS with every default filled in: DVC needs each key a stage lists."""
    return dataclasses.asdict(params_from_dict(copy.deepcopy(TINY_PARAMS)))


def tool_env(env: dict | None = None) -> dict:
    """The environment with the test interpreter's bin folder (fsqtok, dvc) first on PATH."""
    return {**os.environ, "PATH": f"{Path(sys.executable).parent}:{os.environ['PATH']}", **(env or {})}


def run(cmd: list[str], cwd: Path, env: dict | None = None, check: bool = True,
        text: bool = True) -> subprocess.CompletedProcess:
    """Run a command with the test interpreter's bin folder first on PATH."""
    result = subprocess.run(cmd, cwd=cwd, env=tool_env(env), capture_output=True, text=text)
    if check and result.returncode != 0:
        raise AssertionError(f"{cmd} failed ({result.returncode}):\n{result.stdout}\n{result.stderr}")
    return result


def write_noae_pieces(repo: Path) -> None:
    """What baseline_eval writes for pretrain, without training the baselines: a fsqtok_noae bundle."""
    from fsqtok.tokenizers.fsqtok import PieceTokenizer

    PieceTokenizer([b" the", b" and"], 16).save(repo / "models/baselines/fsqtok_noae")


@pytest.fixture
def pipeline_repo(tmp_path, tiny_params):
    """A temporary git + DVC repository holding the real pipeline and tiny params."""
    repo = tmp_path / "repo"
    repo.mkdir()
    for name in ("dvc.yaml", "pipeline", "src", "plots", "extra_tokenizers"):
        source = ROOT / name
        (shutil.copytree if source.is_dir() else shutil.copy)(source, repo / name)
    shutil.copy(ROOT / ".gitignore", repo / ".gitignore")
    (repo / "params.yaml").write_text(yaml.safe_dump(tiny_params, sort_keys=False))
    run(["git", "init", "-q"], repo)
    run(["git", "config", "user.email", "test@fsqtok.invalid"], repo)
    run(["git", "config", "user.name", "fsqtok test"], repo)
    run(["dvc", "init", "-q"], repo)
    shutil.copy(ROOT / ".dvcignore", repo / ".dvcignore")  # the compiled core is not a dep
    run(["dvc", "config", "core.analytics", "false"], repo)
    run(["dvc", "config", "core.check_update", "false"], repo)
    run(["dvc", "config", "plots.html_template", "../plots/offline.html"], repo)
    run(["git", "add", "-A"], repo)
    run(["git", "commit", "-qm", "pipeline"], repo)
    return repo
