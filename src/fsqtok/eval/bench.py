"""Benchmarks: encode/decode throughput, memory and load time of every tokenizer, plus the
auto-encoder's training and encoding speed. Medians of several runs; never run as a timed test.

tiktoken is built offline from the *same* BPE ranks as the HF baseline, so the two differ only
in implementation.
"""

from __future__ import annotations

import os
import statistics
import time
from functools import partial
from pathlib import Path

from fsqtok.config import Params, PretrainConfig
from fsqtok.eval.metrics import median_seconds
from fsqtok.eval.suite import resident_memory_mb
from fsqtok.tokenizers.base import N_SPECIAL, SPECIAL_TOKENS
from fsqtok.tokenizers.baselines import BPETokenizer
from fsqtok.tokenizers.loading import load_tokenizer

GPT2_PATTERN = r"""'(?:[sdmt]|ll|ve|re)| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+"""


class TiktokenBPE:
    """tiktoken's Rust BPE over the HF BPE's ranks (id = rank), same specials."""

    name = "tiktoken"

    def __init__(self, bpe: BPETokenizer):
        import tiktoken

        ranks = {bpe.decode_bytes([i]): i for i in range(N_SPECIAL, bpe.vocab_size)}
        self.encoding = tiktoken.Encoding("fsqtok-bpe", pat_str=GPT2_PATTERN, mergeable_ranks=ranks,
                                          special_tokens=dict(SPECIAL_TOKENS))
        self.vocab_size = bpe.vocab_size

    def encode(self, text: str) -> list[int]:
        return self.encoding.encode_ordinary(text)

    def decode(self, ids: list[int]) -> str:
        return self.encoding.decode(ids)

    def encode_batch(self, texts: list[str]) -> list[list[int]]:
        return self.encoding.encode_ordinary_batch(texts, num_threads=os.cpu_count() or 1)


class HFExport:
    """fsqtok's Hugging Face export (models/tokenizer/hf/tokenizer.json) run by `tokenizers`."""

    name = "fsqtok-hf"

    def __init__(self, path: Path):
        from tokenizers import Tokenizer as HFTokenizer

        self.hf = HFTokenizer.from_file(str(path))

    def encode(self, text: str) -> list[int]:
        return self.hf.encode(text, add_special_tokens=False).ids

    def decode(self, ids: list[int]) -> str:
        return self.hf.decode(ids)

    def encode_batch(self, texts: list[str]) -> list[list[int]]:
        return [e.ids for e in self.hf.encode_batch(texts, add_special_tokens=False)]


def batch_encoder(tokenizer):
    """All-core batch encode where the tokenizer has one (HF and tiktoken: threaded Rust); the
    Python tokenizers hold the GIL, so their `encode_batch` runs on one core (a thread pool only
    adds overhead, and on 2 cores a process pool measured slower than one process: pickling)."""
    if isinstance(tokenizer, BPETokenizer):
        return lambda texts: tokenizer.hf.encode_batch(texts, add_special_tokens=False)
    return tokenizer.encode_batch


def tokenizer_speeds(tokenizers: dict, text: str, lines: list[str], repeats: int) -> dict:
    """Encode, decode and batch-encode MB/s of every tokenizer, medians of `repeats` rounds. The
    rounds run every tokenizer in turn, so a noisy machine slows all of them alike and the
    ratios between them hold."""
    megabytes = len(text.encode("utf-8")) / 1e6
    ids = {name: tok.encode(text) for name, tok in tokenizers.items()}  # also warms any cache
    jobs = {}
    for name, tok in tokenizers.items():
        encode_batch = batch_encoder(tok)
        jobs[name, "encode_mb_s"] = partial(tok.encode, text)
        jobs[name, "decode_mb_s"] = partial(tok.decode, ids[name])
        jobs[name, "batch_encode_mb_s"] = partial(encode_batch, lines)
    times = {job: [] for job in jobs}
    for _ in range(repeats):
        for job, run in jobs.items():
            start = time.perf_counter()
            run()
            times[job].append(time.perf_counter() - start)
    return {name: {"tokens": len(ids[name]), **{key: megabytes / statistics.median(times[name, key])
                                                for key in ("encode_mb_s", "decode_mb_s", "batch_encode_mb_s")}}
            for name in tokenizers}


def load_seconds(path: str, repeats: int) -> float:
    return median_seconds(lambda: load_tokenizer(path), repeats)


def autoencoder_speed(tokenizer_path: str, text: str, pretrain: PretrainConfig, precision: str, steps: int) -> dict:
    """Training steps/s (the pretrain step: forward, backward, clip, AdamW) at pretrain.batch_size,
    and encoder chunks/s on up to 20,000 chunks of `text`, on this machine's device."""
    import torch

    from fsqtok.autoencoder.data import pack_chunks
    from fsqtok.autoencoder.infer import encode_chunks
    from fsqtok.autoencoder.io import load_autoencoder
    from fsqtok.autoencoder.train import make_optimizer, train_step
    from fsqtok.runtime.device import resolve_device
    from fsqtok.runtime.precision import uses_bf16
    from fsqtok.text.chunking import chunk_bytes
    from fsqtok.tokenizers.fsqtok import TOKENIZER

    device = resolve_device("auto")
    model, _ = load_autoencoder(tokenizer_path, kind=TOKENIZER)
    model = model.to(device).train()
    optimizer = make_optimizer(model, pretrain)
    chunks = chunk_bytes(text.encode("utf-8"), model.max_chunk_bytes)[:20000]
    repeated = (chunks * (pretrain.batch_size // max(1, len(chunks)) + 1))[: pretrain.batch_size]
    batch = pack_chunks(repeated, model.max_chunk_bytes).to(device)
    train_step(model, optimizer, batch, precision, pretrain.grad_clip)  # warm-up
    start = time.perf_counter()
    for _ in range(steps):
        train_step(model, optimizer, batch, precision, pretrain.grad_clip)
    if device.type == "cuda":
        torch.cuda.synchronize()
    steps_per_s = steps / (time.perf_counter() - start)
    model.eval()
    encode_s = median_seconds(lambda: encode_chunks(model, chunks), 3)
    return {"device": device.type, "precision": "bf16" if uses_bf16(device, precision) else "fp32",
            "train_steps_per_s": steps_per_s, "train_batch_size": pretrain.batch_size,
            "encoder_chunks_per_s": len(chunks) / encode_s}


def run_bench(paths: dict[str, str], text: str, repeats: int, params: Params, large_bytes: int,
              ae_steps: int = 20) -> dict:
    """Every tokenizer in `paths` (name -> bundle folder or "byte"), plus tiktoken when a bpe is
    given; fsqtok's peak memory encoding `text` repeated to `large_bytes`; the auto-encoder of
    the fsqtok bundle trained as params say."""
    tokenizers = {name: load_tokenizer(path) for name, path in paths.items()}
    if "bpe" in tokenizers:
        tokenizers["tiktoken"] = TiktokenBPE(tokenizers["bpe"])
    if "fsqtok" in paths and (Path(paths["fsqtok"]) / "hf/tokenizer.json").exists():
        tokenizers["fsqtok-hf"] = HFExport(Path(paths["fsqtok"]) / "hf/tokenizer.json")
    lines = text.splitlines(keepends=True)
    results = tokenizer_speeds(tokenizers, text, lines, repeats)
    for name, path in paths.items():
        results[name]["load_s"] = load_seconds(path, repeats)
        results[name]["resident_mb"] = resident_memory_mb(path, text)
    for reference in ("tiktoken", "bpe"):
        if reference in results:
            for row in results.values():
                for key in ("encode_mb_s", "decode_mb_s"):
                    row[f"{key}_vs_{reference}"] = row[key] / results[reference][key]
    report = {"text_bytes": len(text.encode("utf-8")), "repeats": repeats, "threads": os.cpu_count(),
              "tokenizers": results}
    if "fsqtok" in paths:  # memory must stay O(input): ids in an array('I'), a capped memo
        report["large_encode"] = {"bytes": large_bytes,
                                  "fsqtok_peak_mb": resident_memory_mb(paths["fsqtok"], text, large_bytes)}
        report["autoencoder"] = autoencoder_speed(paths["fsqtok"], text, params.pretrain, params.precision, ae_steps)
    return report


TABLE_COLUMNS = [  # (header, key in a tokenizer's row, format)
    ("encode MB/s", "encode_mb_s", "{:.2f}"), ("decode MB/s", "decode_mb_s", "{:.2f}"),
    ("batch encode MB/s", "batch_encode_mb_s", "{:.2f}"),
    ("encode vs tiktoken", "encode_mb_s_vs_tiktoken", "{:.2f}×"),
    ("decode vs tiktoken", "decode_mb_s_vs_tiktoken", "{:.2f}×"),
    ("encode vs HF", "encode_mb_s_vs_bpe", "{:.1f}×"), ("decode vs HF", "decode_mb_s_vs_bpe", "{:.1f}×"),
    ("resident MB", "resident_mb", "{:.0f}"), ("load s", "load_s", "{:.3f}"),
]


def markdown_table(report: dict) -> str:
    rows = ["| tokenizer | " + " | ".join(header for header, _, _ in TABLE_COLUMNS) + " |",
            "|---" * (len(TABLE_COLUMNS) + 1) + "|"]
    for name, r in report["tokenizers"].items():
        cells = [fmt.format(r[key]) if key in r else "–" for _, key, fmt in TABLE_COLUMNS]
        rows.append(f"| {name} | " + " | ".join(cells) + " |")
    large = report.get("large_encode")
    if large:
        rows.append(f"\nfsqtok encoding {large['bytes'] / 1e6:,.0f} MB into an id array peaks at "
                    f"{large['fsqtok_peak_mb']:,.0f} MB resident (interpreter and input included).")
    ae = report.get("autoencoder")
    if ae:
        rows.append(f"\nAuto-encoder on {ae['device']} ({ae['precision']}): {ae['train_steps_per_s']:.1f} "
                    f"training steps/s (batch {ae['train_batch_size']}), "
                    f"encoder {ae['encoder_chunks_per_s']:,.0f} chunks/s.")
    return "\n".join(rows)
