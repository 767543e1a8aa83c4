"""Evaluation reports shared by baseline_eval and evaluate: the same metrics, before and after."""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
from importlib import resources
from pathlib import Path

from fsqtok.metrics import reconstruction_case, speed_metrics, summarize_cases, tokenization_metrics
from fsqtok.protocol import Tokenizer


def test_cases() -> tuple[int, list[str]]:
    """(version, strings) of the standard test cases every evaluation runs."""
    data = json.loads(resources.files("fsqtok").joinpath("data/test_cases.json").read_text("utf-8"))
    return data["version"], data["cases"]


def reconstruction_report(model, val_chunks, device) -> dict:
    """The neural path on the test cases and on val chunk occurrences."""
    import math

    from fsqtok.autoencoder import reconstruct_text
    from fsqtok.train_autoencoder import evaluate_chunks

    version, cases = test_cases()
    per_case = [reconstruction_case(t, reconstruct_text(model, t.encode()).decode("utf-8", "replace"))
                for t in cases]
    chunks = evaluate_chunks(model, val_chunks, 4096, device)
    chunks["perplexity"] = math.exp(chunks["loss"])
    return {"test_cases_version": version, "test_cases": summarize_cases(per_case),
            "val_chunks": chunks, "cases": per_case}


def tokenizer_report(tokenizer: Tokenizer, texts: list[str], speed_text: str, repeats: int) -> dict:
    """Compression on `texts` plus single-thread speed on `speed_text`."""
    return {"vocab_size": tokenizer.vocab_size, **tokenization_metrics(tokenizer, texts),
            **speed_metrics(tokenizer, speed_text, repeats)}


def speed_sample(texts: list[str], n_bytes: int) -> str:
    """The first documents of `texts` up to about n_bytes UTF-8 bytes, joined."""
    taken, total = [], 0
    for text in texts:
        if total >= n_bytes:
            break
        taken.append(text)
        total += len(text.encode("utf-8"))
    return "\n".join(taken)


# Peak RSS from VmHWM: ru_maxrss would report the parent's peak, since Linux keeps it across exec.
MEMORY_PROBE = """
import re, sys
from fsqtok.loading import load_tokenizer
tokenizer = load_tokenizer(sys.argv[1])
tokenizer.encode(open(sys.argv[2], encoding="utf-8").read())
print(int(re.search(r"VmHWM:\\s+(\\d+) kB", open("/proc/self/status").read()).group(1)) / 1024)
"""


def resident_memory_mb(tokenizer_path: str, text: str) -> float:
    """Peak resident memory (MB) of a fresh Python process that loads the tokenizer and encodes
    `text`: what a user pays to use it, interpreter included."""
    with tempfile.TemporaryDirectory() as tmp:
        sample = Path(tmp) / "sample.txt"
        sample.write_text(text, encoding="utf-8")
        result = subprocess.run([sys.executable, "-c", MEMORY_PROBE, tokenizer_path, str(sample)],
                                capture_output=True, text=True, check=True)
    return float(result.stdout.strip().splitlines()[-1])
