"""The one speed harness (`make bench`, and the evaluation stages' speed columns): cold, warm and
batch encode and decode throughput of every tokenizer, memory, load and cold-start time, plus the
auto-encoder's training and encoding speed. Medians of several runs; never run as a timed test.

tiktoken is built offline from the *same* BPE ranks as the HF baseline, so the two differ only
in implementation.
"""

from __future__ import annotations

import os
import re
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
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
        return hf_batch_ids(self.hf, texts)


def hf_batch_ids(hf, texts: list[str]) -> list[list[int]]:
    """A `tokenizers.Tokenizer`'s ids of `texts` on every core, as a user who wants only ids gets
    them: `encode_batch_fast` skips the offsets (same ids, 1.2× `encode_batch` here)."""
    return [encoding.ids for encoding in hf.encode_batch_fast(texts, add_special_tokens=False)]


def batch_encoder(tokenizer):
    """The tokenizer's batch encode on every core: HF's threaded Rust for the BPE baseline, tiktoken's
    and fsqtok's own `encode_batch` (threads over a GIL-free core); the Python baselines encode one
    document after another."""
    if isinstance(tokenizer, BPETokenizer):
        return partial(hf_batch_ids, tokenizer.hf)
    return tokenizer.encode_batch


SPEED_KEYS = ("cold_encode_mb_s", "warm_encode_mb_s", "batch_encode_mb_s", "decode_mb_s")


def tokenizer_speeds(loaders: dict[str, Callable], documents: list[str], repeats: int) -> dict:
    """MB/s of every tokenizer on `documents` (joined by newlines for the single-call timings),
    medians of `repeats` rounds. Each round loads every tokenizer afresh (`loaders`: name -> a
    function that loads it) and times, one thread: its first encode of the text (cold: no cache has
    seen it), the second (warm), decode; then, for all of them after that, the documents as one
    batch on every core, warm too (the second batch call: its threads awake). The rounds
    run every tokenizer in turn, so a noisy machine slows all of them alike and ratios hold."""
    text = "\n".join(documents)
    megabytes = len(text.encode("utf-8")) / 1e6
    times = {(name, key): [] for name in loaders for key in SPEED_KEYS}
    tokens = {}

    def timed(name: str, key: str, run: Callable, argument):
        start = time.perf_counter()
        result = run(argument)
        times[name, key].append(time.perf_counter() - start)
        return result

    names = list(loaders)
    for round_ in range(repeats):
        # each round starts with the next tokenizer: the first timing after a pause runs slower
        fresh = {name: loaders[name]() for name in names[round_ % len(names):] + names[: round_ % len(names)]}
        for name, tokenizer in fresh.items():
            ids = timed(name, "cold_encode_mb_s", tokenizer.encode, text)
            timed(name, "warm_encode_mb_s", tokenizer.encode, text)
            timed(name, "decode_mb_s", tokenizer.decode, ids)
            tokens[name] = len(ids)
        for name, tokenizer in fresh.items():  # after the one-thread timings
            encode_batch = batch_encoder(tokenizer)
            encode_batch(documents)  # warm, as the one-thread timing it is compared with: threads awake
            timed(name, "batch_encode_mb_s", encode_batch, documents)
        time.sleep(0.2)  # a Rust thread pool keeps spinning for a moment after its batch
    return {name: {"timed_tokens": tokens[name],
                   **{key: megabytes / statistics.median(times[name, key]) for key in SPEED_KEYS}}
            for name in names}


def add_ratios(rows: dict, reference: str) -> None:
    """Each row's speeds divided by `reference`'s, as `<key>_vs_<reference>`."""
    for row in rows.values():
        row.update({f"{key}_vs_{reference}": row[key] / rows[reference][key] for key in SPEED_KEYS})


def cpu_description() -> dict:
    """What the speeds were measured on: CPU model, cores, the vector extensions that decide
    torch's speed, and torch's chosen kernel level."""
    import platform

    import torch

    from fsqtok.runtime.device import cpuinfo_text

    info = cpuinfo_text()
    model = next((line.split(":", 1)[1].strip() for line in info.splitlines() if line.startswith("model name")),
                 platform.processor() or platform.machine())
    flags = sorted(set(re.findall(r"\b(avx2|avx512[a-z_0-9]*|amx[a-z_0-9]*)\b", info)))
    return {"model": model, "cores": os.cpu_count(), "flags": flags,
            "torch_capability": torch.backends.cpu.get_cpu_capability()}


def load_seconds(path: str, repeats: int) -> float:
    return median_seconds(lambda: load_tokenizer(path), repeats)


COLD_START_PROBE = ("import sys; from fsqtok.tokenizers.loading import load_tokenizer; "
                    "load_tokenizer(sys.argv[1]).encode('Hello world')")


def cold_start_seconds(path: str, repeats: int) -> float:
    """Wall time of a fresh Python process that imports fsqtok, loads the tokenizer and encodes one
    line: what a script pays before its first ids (median of `repeats`)."""
    return median_seconds(lambda: subprocess.run([sys.executable, "-c", COLD_START_PROBE, path], check=True,
                                                 capture_output=True), repeats)


def training_speed(tokenizer_path: str, text: str, pretrain: PretrainConfig, precision: str, steps: int) -> dict:
    """Training steps/s (the pretrain step: forward, backward, clip, AdamW) at pretrain.batch_size,
    on this machine's device, with every core."""
    import torch

    from fsqtok.autoencoder.data import pack_chunks
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
    chunks = chunk_bytes(text.encode("utf-8"), model.max_chunk_bytes)
    repeated = (chunks * (pretrain.batch_size // max(1, len(chunks)) + 1))[: pretrain.batch_size]
    batch = pack_chunks(repeated, model.max_chunk_bytes).to(device)
    train_step(model, optimizer, batch, precision, pretrain.grad_clip)  # warm-up
    start = time.perf_counter()
    for _ in range(steps):
        train_step(model, optimizer, batch, precision, pretrain.grad_clip)
    if device.type == "cuda":
        torch.cuda.synchronize()
    return {"device": device.type, "precision": "bf16" if uses_bf16(device, precision) else "fp32",
            "train_steps_per_s": steps / (time.perf_counter() - start), "train_batch_size": pretrain.batch_size}


NEURAL_TARGETS_MS = {"encode_chunk_ms": 0.5, "reconstruct_chunk_ms": 1.0}  # the original design's CPU targets


def chunk_byte_accuracy(decoded: list[bytes], chunks: list[bytes]) -> float:
    """Share of the chunks' bytes that the decoder gives back at their position.
    Example: ([b"ab", b"x"], [b"ac", b"x"]) -> 2 / 3"""
    right = sum(a == b for out, chunk in zip(decoded, chunks, strict=True) for a, b in zip(out, chunk, strict=False))
    return right / max(1, sum(map(len, chunks)))


def inference_speed(tokenizer_path: str, text: str) -> dict:
    """The neural path on CPU, one thread: latency of one chunk (batch 1) through the encoder and
    through encoder + decoder (one token's reconstruction), chunks/s batched, against the original
    targets; and the INT8 encoder (autoencoder/quantize.py) with its speed-up and byte accuracy
    change, calibrated on other chunks of `text` than those it is scored on."""
    import torch

    from fsqtok.autoencoder.data import pack_chunks
    from fsqtok.autoencoder.infer import BATCH_CHUNKS, decode_indices, encode_chunks
    from fsqtok.autoencoder.io import load_autoencoder
    from fsqtok.autoencoder.quantize import Int8Encoder
    from fsqtok.text.chunking import chunk_bytes
    from fsqtok.tokenizers.fsqtok import TOKENIZER

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        model, _ = load_autoencoder(tokenizer_path, kind=TOKENIZER)
        model.eval()
        chunks = chunk_bytes(text.encode("utf-8"), model.max_chunk_bytes)
        # 20,000 scored chunks (a fifth of val): on the first 4,000 alone the INT8 change moved by
        # a third of a point from model to model (docs/experiments.md, stop 39)
        scored, calibration = chunks[:20_000], chunks[20_000:28_000] or chunks[:20_000]
        distinct = list(dict.fromkeys(scored))  # encode_chunks and decode_indices run each distinct one once
        one, packed = pack_chunks(scored[:1], model.max_chunk_bytes), pack_chunks(scored, model.max_chunk_bytes)
        distinct_batches = pack_chunks(distinct, model.max_chunk_bytes).split(BATCH_CHUNKS)  # as encode_chunks runs
        int8 = Int8Encoder(model, calibration)
        with torch.no_grad():
            indices = model.encode(packed)[1]
            int8_indices = int8(packed)[1]
            codes = torch.unique(indices)  # decode_indices spells each distinct code once
            report = {
                "threads": 1, "targets_ms": NEURAL_TARGETS_MS,
                "encode_chunk_ms": 1000 * median_seconds(lambda: model.encode(one), 200),
                "reconstruct_chunk_ms": 1000 * median_seconds(
                    lambda: decode_indices(model, model.encode(one)[1]), 50),
                "encoder_chunks_per_s": len(distinct) / median_seconds(lambda: encode_chunks(model, distinct), 5),
                "decoder_chunks_per_s": len(codes) / median_seconds(lambda: decode_indices(model, codes), 3),
                "int8_encode_chunk_ms": 1000 * median_seconds(lambda: int8(one), 200),
                "int8_encoder_chunks_per_s": len(distinct) / median_seconds(
                    lambda: [int8(batch) for batch in distinct_batches], 5),
                "byte_accuracy": chunk_byte_accuracy(decode_indices(model, indices), scored),
                "int8_byte_accuracy": chunk_byte_accuracy(decode_indices(model, int8_indices), scored),
                "int8_same_code": (indices == int8_indices).float().mean().item(), "scored_chunks": len(scored)}
    finally:
        torch.set_num_threads(threads)
    report["int8_speedup"] = report["int8_encoder_chunks_per_s"] / report["encoder_chunks_per_s"]
    report["int8_accuracy_change_points"] = 100 * (report["int8_byte_accuracy"] - report["byte_accuracy"])
    return report


def run_bench(paths: dict[str, str], documents: list[str], repeats: int, params: Params, large_bytes: int,
              ae_steps: int = 20) -> dict:
    """Every tokenizer in `paths` (name -> bundle folder or "byte"), plus tiktoken on the BPE's ranks
    and the fsqtok bundle's HF export, timed on `documents` in this one process; fsqtok's peak memory
    encoding their text repeated to `large_bytes`; the auto-encoder of the fsqtok bundle as params
    say."""
    loaders = {name: partial(load_tokenizer, path) for name, path in paths.items()}
    if "bpe" in paths:
        loaders["tiktoken"] = partial(TiktokenBPE, load_tokenizer(paths["bpe"]))
    if "fsqtok" in paths and (Path(paths["fsqtok"]) / "hf/tokenizer.json").exists():
        loaders["fsqtok-hf"] = partial(HFExport, Path(paths["fsqtok"]) / "hf/tokenizer.json")
    results = tokenizer_speeds(loaders, documents, repeats)
    text = "\n".join(documents)
    for name, path in paths.items():
        results[name]["load_s"] = load_seconds(path, repeats)
        results[name]["cold_start_s"] = cold_start_seconds(path, 3)
        results[name]["resident_mb"] = resident_memory_mb(path, text)
    for reference in ("tiktoken", "bpe"):
        if reference in results:
            add_ratios(results, reference)
    report = {"text_bytes": len(text.encode("utf-8")), "documents": len(documents), "repeats": repeats,
              "threads": os.cpu_count(), "cpu": cpu_description(), "tokenizers": results}
    if "fsqtok" in paths:  # memory must stay O(input): ids in an array('I')
        report["large_encode"] = {"bytes": large_bytes,
                                  "fsqtok_peak_mb": resident_memory_mb(paths["fsqtok"], text, large_bytes)}
        report["autoencoder"] = {**training_speed(paths["fsqtok"], text, params.pretrain, params.precision, ae_steps),
                                 **inference_speed(paths["fsqtok"], text)}
    return report


TABLE_COLUMNS = [  # (header, key in a tokenizer's row, format)
    ("cold encode MB/s", "cold_encode_mb_s", "{:.1f}"), ("warm encode MB/s", "warm_encode_mb_s", "{:.1f}"),
    ("batch encode MB/s", "batch_encode_mb_s", "{:.1f}"), ("decode MB/s", "decode_mb_s", "{:.1f}"),
    ("cold encode vs tiktoken", "cold_encode_mb_s_vs_tiktoken", "{:.2f}×"),
    ("decode vs tiktoken", "decode_mb_s_vs_tiktoken", "{:.2f}×"),
    ("batch vs tiktoken", "batch_encode_mb_s_vs_tiktoken", "{:.2f}×"),
    ("resident MB", "resident_mb", "{:.0f}"), ("cold start s", "cold_start_s", "{:.2f}"),
]


def markdown_table(report: dict) -> str:
    cpu = report["cpu"]
    rows = [f"{cpu['model']}, {cpu['cores']} cores ({', '.join(cpu['flags']) or 'no AVX2'}); "
            f"{report['text_bytes'] / 1e6:.2f} MB of val text in {report['documents']} documents; "
            f"medians of {report['repeats']} rounds.\n",
            "| tokenizer | " + " | ".join(header for header, _, _ in TABLE_COLUMNS) + " |",
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
                    f"training steps/s (batch {ae['train_batch_size']}). One thread, CPU: one chunk encodes in "
                    f"{ae['encode_chunk_ms']:.2f} ms (target < 0.5) and reconstructs in "
                    f"{ae['reconstruct_chunk_ms']:.2f} ms (target < 1 per token); batched, "
                    f"{ae['encoder_chunks_per_s']:,.0f} chunks/s encode, {ae['decoder_chunks_per_s']:,.0f} decode. "
                    f"INT8 encoder: {ae['int8_encoder_chunks_per_s']:,.0f} chunks/s ({ae['int8_speedup']:.2f}×), "
                    f"byte accuracy {ae['int8_accuracy_change_points']:+.2f} points "
                    f"({100 * ae['int8_byte_accuracy']:.2f}% vs {100 * ae['byte_accuracy']:.2f}%).")
    return "\n".join(rows)
