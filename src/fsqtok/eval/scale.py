"""`make bench-scale`: how the corpus-side work grows with the corpus. Corpus prep, split,
candidate counting, selection and tokenising the train split run at several multiples of the
configured corpus, each step in a fresh process (its time and peak resident memory), into
reports/bench/scale.csv, scale.json (growth exponents) and scale.png.

A larger corpus is the configured one plus perturbed copies: in each copy every longer word has
two inner letters swapped with probability 1/2, so the number of distinct strings grows with the
corpus as it does with new text (plain repetition would keep it flat and hide memory growth).
"""

from __future__ import annotations

import json
import math
import random
import re
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd

STEPS = ("prepare", "split", "count", "select", "tokenize")
WORD = re.compile(r"[A-Za-z]{4,}")


def perturbed(text: str, rng: random.Random) -> str:
    """`text` with two inner letters of about half its words of 4+ letters swapped.
    Example: "the beginning" -> "the bgeinning" (depending on rng)"""

    def swap(match: re.Match) -> str:
        word = match.group()
        if rng.random() < 0.5:
            return word
        i = rng.randrange(1, len(word) - 2)
        return word[:i] + word[i + 1] + word[i] + word[i + 2 :]

    return WORD.sub(swap, text)


def scaled_corpus(documents: pd.DataFrame, factor: int, seed: int) -> pd.DataFrame:
    """The documents and factor - 1 perturbed copies of them (doc_id suffixed "#k")."""
    rng = random.Random(seed)
    copies = [documents] + [documents.assign(doc_id=documents["doc_id"] + f"#{k}",
                                             text=[perturbed(t, rng) for t in documents["text"]])
                            for k in range(1, factor)]
    return pd.concat(copies, ignore_index=True)


def run_step(step: str, work: Path, factor: int, tokenizer: Path) -> None:
    """One step on the files of `work` (each step reads what the one before wrote)."""
    from fsqtok.config import load_params
    from fsqtok.store.files import read_texts, write_parquet

    params = load_params()
    max_bytes = params.chunking.max_chunk_bytes
    if step == "prepare":
        from fsqtok.text.corpus import build_corpus

        write_parquet(work / "documents.parquet", scaled_corpus(build_corpus(params.corpus)[0], factor, params.seed))
    elif step == "split":
        from fsqtok.text.split import split_documents

        for name, frame in split_documents(pd.read_parquet(work / "documents.parquet"), params.split).items():
            write_parquet(work / f"{name}.parquet", frame)
    elif step == "count":  # the prune stage's counting and candidate ranking
        from fsqtok.tokenizers.candidates import candidate_counts, select_candidates

        chunks, joins = candidate_counts(read_texts(work / "train.parquet"), max_bytes)
        candidates = select_candidates(chunks, joins, params.prune.max_candidates)
        (work / "candidates.json").write_text(json.dumps({s.hex(): n for s, n in candidates.items()}))
    elif step == "select":  # the selection without the auto-encoder's check (that costs per candidate, not per byte)
        from collections import Counter

        from fsqtok.tokenizers.base import FIRST_LEARNED_ID
        from fsqtok.tokenizers.select import prune_without_autoencoder, train_sample

        counts = json.loads((work / "candidates.json").read_text())
        candidates = Counter({bytes.fromhex(s): n for s, n in counts.items()})
        sample = train_sample(read_texts(work / "train.parquet"), params.prune.sample_bytes)
        config = params.prune
        prune_without_autoencoder(candidates, config.vocab_size - FIRST_LEARNED_ID, sample, config.pool_size,
                                  config.shrink_keep, max_bytes)
    elif step == "tokenize":
        from fsqtok.tokenizers.loading import load_tokenizer

        load_tokenizer(tokenizer).encode_batch(read_texts(work / "train.parquet"))


def measure(step: str, work: Path, factor: int, tokenizer: Path) -> dict:
    """Seconds and peak resident MB of one step in a fresh process."""
    result = subprocess.run([sys.executable, "-m", "fsqtok.eval.scale", step, str(work), str(factor), str(tokenizer)],
                            capture_output=True, text=True)
    if result.returncode != 0:
        raise RuntimeError(f"bench-scale step {step} at {factor}x failed:\n{result.stderr[-2000:]}")
    return json.loads(result.stdout.strip().splitlines()[-1])


def growth(rows: list[dict], key: str) -> dict[str, float]:
    """Per step, the exponent b of key ~ factor^b between the smallest and the largest factor
    (1.0: linear)."""
    out = {}
    for step in STEPS:
        mine = sorted((r["factor"], r[key]) for r in rows if r["step"] == step)
        (f0, v0), (f1, v1) = mine[0], mine[-1]
        out[step] = math.log(v1 / v0) / math.log(f1 / f0) if f1 > f0 and v0 > 0 and v1 > 0 else float("nan")
    return out


def bench_scale(factors: list[int], work: Path, tokenizer: Path, out_dir: Path, progress=print) -> dict:
    """Every step at every factor -> scale.csv and scale.json under out_dir (the CLI draws scale.png)."""
    rows = []
    for factor in factors:
        folder = work / f"x{factor}"
        folder.mkdir(parents=True, exist_ok=True)
        for step in STEPS:
            rows.append({"factor": factor, "step": step, **measure(step, folder, factor, tokenizer)})
            progress(f"{factor:>3}x {step:<9} {rows[-1]['seconds']:8.2f} s {rows[-1]['peak_mb']:8.0f} MB")
        train_mb = sum(len(t.encode("utf-8")) for t in pd.read_parquet(folder / "train.parquet")["text"]) / 1e6
        for row in rows[-len(STEPS):]:
            row["train_mb"] = train_mb
    out_dir.mkdir(parents=True, exist_ok=True)
    pd.DataFrame(rows).to_csv(out_dir / "scale.csv", index=False)
    report = {"factors": factors, "rows": rows, "time_exponent": growth(rows, "seconds"),
              "memory_exponent": growth(rows, "peak_mb")}
    (out_dir / "scale.json").write_text(json.dumps(report, indent=2) + "\n")
    return report


if __name__ == "__main__":  # one step, in the process `measure` starts
    step, work, factor, tokenizer = sys.argv[1], Path(sys.argv[2]), int(sys.argv[3]), Path(sys.argv[4])
    start = time.perf_counter()
    run_step(step, work, factor, tokenizer)
    seconds = time.perf_counter() - start
    peak_kb = int(re.search(r"VmHWM:\s+(\d+) kB", Path("/proc/self/status").read_text()).group(1))
    print(json.dumps({"seconds": seconds, "peak_mb": peak_kb / 1024}))
