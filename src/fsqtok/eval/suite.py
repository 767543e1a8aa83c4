"""The evaluation suite both evaluation stages run, before training (baseline_eval) and after
(evaluate): reconstruction on the standard test cases and val chunks, tokenizer compression and
memory (speed: eval/bench.py, the one harness)."""

from __future__ import annotations

import json
import math
import subprocess
import sys
import tempfile
from importlib import resources
from pathlib import Path

import torch

from fsqtok.autoencoder.infer import BATCH_CHUNKS, reconstruct_text
from fsqtok.autoencoder.metrics import evaluate_chunks
from fsqtok.autoencoder.model import ByteAutoEncoder
from fsqtok.eval.metrics import reconstruction_case, summarize_cases, tokenization_metrics
from fsqtok.text.split import take_bytes
from fsqtok.tokenizers.base import Tokenizer


def test_cases() -> tuple[int, list[str]]:
    """(version, strings) of the standard test cases every evaluation runs."""
    data = json.loads(resources.files("fsqtok.eval").joinpath("test_cases.json").read_text("utf-8"))
    return data["version"], data["cases"]


def reconstruction_report(model: ByteAutoEncoder, chunks: torch.Tensor) -> dict:
    """The neural path on the test cases and on chunk occurrences (M, T) of a split, on CPU."""
    version, cases = test_cases()
    per_case = [reconstruction_case(t, reconstruct_text(model, t.encode()).decode("utf-8", "replace"))
                for t in cases]
    chunk_metrics = evaluate_chunks(model, chunks, BATCH_CHUNKS, torch.device("cpu"))
    chunk_metrics["perplexity"] = math.exp(chunk_metrics["loss"])
    return {"test_cases_version": version, "test_cases": summarize_cases(per_case),
            "val_chunks": chunk_metrics, "cases": per_case}


def without_cases(report: dict) -> dict:
    """A reconstruction report's numbers: the per-case texts belong in reports, not metrics."""
    return {k: v for k, v in report.items() if k != "cases"}


def tokenizer_report(tokenizer: Tokenizer, texts: list[str]) -> dict:
    """Vocabulary size and compression on `texts`."""
    return {"vocab_size": tokenizer.vocab_size, **tokenization_metrics(tokenizer, texts)}


def speed_documents(texts: list[str], n_bytes: int) -> list[str]:
    """The leading documents of `texts` within n_bytes: what speed is timed on (joined by
    newlines for single calls, as they are for batches)."""
    return take_bytes(texts, n_bytes)[0]


# Peak RSS from VmHWM: ru_maxrss would report the parent's peak, since Linux keeps it across exec.
MEMORY_PROBE = """
import re, sys
from fsqtok.tokenizers.loading import load_tokenizer
tokenizer = load_tokenizer(sys.argv[1])
data = open(sys.argv[2], "rb").read()
size = int(sys.argv[3]) or len(data)
data = (data * (size // max(1, len(data)) + 1))[:size]
tokenizer.encode_array(data)
print(int(re.search(r"VmHWM:\\s+(\\d+) kB", open("/proc/self/status").read()).group(1)) / 1024)
"""


def resident_memory_mb(tokenizer_path: str, text: str, n_bytes: int = 0) -> float:
    """Peak resident memory (MB) of a fresh Python process that loads the tokenizer and encodes
    `text` (repeated to `n_bytes` when given) into an id array: what a user pays to use it,
    interpreter included."""
    with tempfile.TemporaryDirectory() as tmp:
        sample = Path(tmp) / "sample.txt"
        sample.write_text(text, encoding="utf-8")
        result = subprocess.run([sys.executable, "-c", MEMORY_PROBE, tokenizer_path, str(sample), str(n_bytes)],
                                capture_output=True, text=True, check=True)
    return float(result.stdout.strip().splitlines()[-1])
