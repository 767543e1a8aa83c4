"""Codebook analysis and pruning: which FSQ codes the train text uses, and the verified top-k.

Candidates are strings the tokenizer could use as one token: the train chunks themselves,
runs of 2..3 whole pre-tokens (" of the"), and pieces inside pre-tokens (" inter", "ing").
Each candidate is sent through the encoder; counts are summed per code; a code is kept only
if its decoded string s_c re-encodes to the same code (a verified fixed point).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import torch

from fsqtok.autoencoder.infer import decode_indices, encode_chunks
from fsqtok.autoencoder.io import load_autoencoder
from fsqtok.autoencoder.metrics import code_perplexity
from fsqtok.autoencoder.model import ByteAutoEncoder
from fsqtok.config import Params
from fsqtok.eval.metrics import tokenization_metrics
from fsqtok.eval.plots import coverage_curve, plot_codebook
from fsqtok.store.files import read_texts, write_json
from fsqtok.text.chunking import pretokenize, split_long
from fsqtok.tokenizers.base import FIRST_LEARNED_ID
from fsqtok.tokenizers.fsqtok import AutoEncoderTokenizer
from fsqtok.tokenizers.hf import export_hf
from fsqtok.tokenizers.vocab import ChunkVocabulary

MAX_JOIN = 3  # most pre-tokens in one multi-piece candidate


def candidate_counts(texts: Iterable[str], max_bytes: int) -> tuple[Counter, Counter]:
    """(chunk occurrences, multi-pre-token run occurrences) over `texts`.
    Example: (["a b"], 16) -> ({b"a": 1, b" b": 1}, {b"a b": 1})"""
    chunks, joins = Counter(), Counter()
    for text in texts:
        tokens = pretokenize(text.encode("utf-8", "surrogatepass"))
        for token in tokens:
            chunks.update(split_long(token, max_bytes))
        for n in range(2, MAX_JOIN + 1):
            for i in range(len(tokens) - n + 1):
                joined = b"".join(tokens[i : i + n])
                if len(joined) <= max_bytes:
                    joins[joined] += 1
    return chunks, joins


def inner_pieces(chunks: Counter, min_len: int = 2) -> Counter:
    """Proper substrings of chunks, weighted by the chunk's count (an upper bound on use).
    Example: {b"abc": 2} -> {b"ab": 2, b"bc": 2}"""
    pieces: Counter = Counter()
    for chunk, count in chunks.items():
        n = len(chunk)
        for length in range(min_len, n):
            for start in range(n - length + 1):
                pieces[chunk[start : start + length]] += count
    return pieces


def bytes_saved(counts: Counter) -> Counter:
    """Score = occurrences x (length - 1): tokens saved against byte fallback."""
    return Counter({s: c * (len(s) - 1) for s, c in counts.items() if len(s) > 1})


def select_candidates(chunks: Counter, joins: Counter, max_candidates: int, min_count: int = 2) -> Counter:
    """The strongest candidates by bytes saved; inner pieces get half weight, since the whole
    chunk they sit in often wins instead.
    Returns {candidate: occurrences}."""
    inner = inner_pieces(chunks)
    scores = bytes_saved(+chunks) + bytes_saved(+joins)
    for piece, score in bytes_saved(inner).items():
        scores[piece] = max(scores.get(piece, 0), score // 2)
    counts = {**inner, **joins, **chunks}
    best = [s for s, _ in scores.most_common() if counts[s] >= min_count][:max_candidates]
    return Counter({s: counts[s] for s in best})


@dataclass
class CodebookStats:
    """How the train chunks use the codebook."""

    codebook_size: int
    codes_used: int
    code_perplexity: float
    distinct_chunks: int
    mean_chunks_per_code: float
    collision_share: float  # share of used codes that more than one distinct chunk maps to
    rank_frequency: list[int]  # occurrences of each used code, most frequent first

    def as_metrics(self) -> dict:
        return {
            "codebook_size": self.codebook_size,
            "codes_used": self.codes_used,
            "utilization": self.codes_used / self.codebook_size,
            "unused_codes": self.codebook_size - self.codes_used,
            "code_perplexity": self.code_perplexity,
            "distinct_chunks": self.distinct_chunks,
            "mean_chunks_per_code": self.mean_chunks_per_code,
            "collision_share": self.collision_share,
        }


def codebook_stats(model: ByteAutoEncoder, chunks: Counter, batch_size: int) -> tuple[CodebookStats, dict]:
    """Stats over chunk occurrences, and {code: occurrences} for coverage curves."""
    distinct = list(chunks)
    codes = encode_chunks(model, distinct, batch_size)  # (U,)
    weights = torch.tensor([chunks[c] for c in distinct], dtype=torch.float64)
    used, inverse = torch.unique(codes, return_inverse=True)
    per_code = torch.zeros(len(used), dtype=torch.float64).index_add_(0, inverse, weights)
    chunks_per_code = torch.bincount(inverse, minlength=len(used))
    stats = CodebookStats(
        codebook_size=model.fsq.codebook_size,
        codes_used=len(used),
        code_perplexity=code_perplexity(per_code),
        distinct_chunks=len(distinct),
        mean_chunks_per_code=float(chunks_per_code.float().mean()),
        collision_share=float((chunks_per_code > 1).float().mean()),
        rank_frequency=sorted(per_code.long().tolist(), reverse=True),
    )
    return stats, dict(zip(used.tolist(), per_code.tolist(), strict=True))


@dataclass
class PrunedVocabulary:
    pieces: list[bytes]  # s_c, in id order (id = 259 + position)
    codes: list[int]  # c, the verified code of each piece
    candidates: int  # candidates sent through the encoder
    candidate_codes: int  # distinct codes they landed on
    verified_codes: int  # codes whose decoded string is the candidate itself (so a fixed point)


def refine(ranked: list[tuple[bytes, int]], n_pieces: int, sample: bytes, rounds: int, drop: float,
           max_bytes: int) -> list[tuple[bytes, int]]:
    """Swap pieces the encoder barely uses for the next-ranked ones, `rounds` times.

    Candidate scores overcount (an inner piece is often covered by a longer piece instead), so
    each round encodes `sample` with the current vocabulary, ranks pieces by the bytes they
    actually saved (uses x (length - 1)) and replaces the bottom `drop` share from the pool.
    Example: pieces [b"ab", b"zz"], pool [b"cd"], sample b"abcd" -> [b"ab", b"cd"] after 1 round"""
    vocab, pool = ranked[:n_pieces], ranked[n_pieces:]
    for _ in range(rounds):
        swap = min(len(pool), max(1, int(len(vocab) * drop)))
        if not pool:
            break
        usage = Counter(ChunkVocabulary([p for p, _ in vocab], max_bytes).encode_bytes(sample))
        saved = [usage[FIRST_LEARNED_ID + i] * (len(p) - 1) for i, (p, _) in enumerate(vocab)]
        order = sorted(range(len(vocab)), key=lambda i: saved[i], reverse=True)
        vocab = [vocab[i] for i in order[: len(vocab) - swap]] + pool[:swap]
        pool = pool[swap:]
    return vocab


def prune(model: ByteAutoEncoder, candidates: Counter, n_pieces: int, batch_size: int,
          sample: bytes = b"", rounds: int = 0, drop: float = 0.15) -> PrunedVocabulary:
    """Top `n_pieces` verified codes, ranked by the bytes their string saves, then refined on
    `sample` (see refine).

    A candidate s with code c = enc(s) is verified when dec(c) == s: then s_c = s and
    enc(s_c) = c, a fixed point. Codes whose decoded string is not the candidate are dropped:
    their string would be a misspelling that text rarely contains."""
    strings = list(candidates)
    codes = encode_chunks(model, strings, batch_size)
    decoded = decode_indices(model, codes, batch_size)
    verified = [(s, c) for s, c, d in zip(strings, codes.tolist(), decoded, strict=True) if d == s and len(s) > 1]
    verified.sort(key=lambda sc: candidates[sc[0]] * (len(sc[0]) - 1), reverse=True)
    kept = refine(verified, n_pieces, sample, rounds, drop, model.max_chunk_bytes)
    return PrunedVocabulary(
        pieces=[s for s, _ in kept],
        codes=[c for _, c in kept],
        candidates=len(strings),
        candidate_codes=len(set(codes.tolist())),
        verified_codes=len(verified),
    )


def refine_sample(texts: list[str], n_bytes: int) -> bytes:
    """Every 4th train document up to n_bytes: a spread-out sample for usage counts."""
    return "\n".join(texts[::4]).encode("utf-8", "surrogatepass")[:n_bytes]


def occurrence_coverage(code_counts: dict, kept_codes: list[int]) -> float:
    """Share of train chunk occurrences whose code is one of `kept_codes`.
    Example: ({1: 3.0, 2: 1.0}, [1]) -> 0.75"""
    kept = set(kept_codes)
    return sum(v for c, v in code_counts.items() if c in kept) / max(1.0, sum(code_counts.values()))


PARAMS = ("chunking", "prune", "tracking")  # the params stage prune reads; dvc.yaml lists the same


def run_prune(params: Params, autoencoder: Path, split_dir: Path, out: Path, reports: Path, tracker) -> dict:
    """The prune stage: codebook use of the train chunks, the verified top-k vocabulary as a
    tokenizer bundle at `out`, codebook metrics and plots under `reports`."""
    config = params.prune
    model, ae_meta = load_autoencoder(autoencoder)
    train, val = read_texts(split_dir / "train.parquet"), read_texts(split_dir / "val.parquet")
    chunks, joins = candidate_counts(train, model.max_chunk_bytes)
    stats, code_counts = codebook_stats(model, chunks, config.batch_size)
    candidates = select_candidates(chunks, joins, config.max_candidates)
    vocab = prune(model, candidates, config.vocab_size - FIRST_LEARNED_ID, config.batch_size,
                  refine_sample(train, config.refine_sample_bytes), config.refine_rounds, config.refine_drop)
    tokenizer = AutoEncoderTokenizer(vocab.pieces, vocab.codes, model.max_chunk_bytes, model=model)
    metrics = {
        **stats.as_metrics(),
        "vocab_size": tokenizer.vocab_size,
        "learned_pieces": len(vocab.pieces),
        "candidates": vocab.candidates,
        "candidate_codes": vocab.candidate_codes,
        "verified_codes": vocab.verified_codes,
        "top_k_occurrence_coverage": occurrence_coverage(code_counts, vocab.codes),
        "vocab_shortfall": config.vocab_size - tokenizer.vocab_size,  # ids prune.vocab_size asked for but not verified
        "val": tokenization_metrics(tokenizer, val),
    }
    tokenizer.save(out, meta={"autoencoder": ae_meta, "codebook": metrics,
                              "params_hash": params.digest("chunking", "prune")})
    export_hf(tokenizer, out / "hf")  # the same ids through Hugging Face tokenizers / transformers
    tracker.artifacts(out / "hf", "hf")
    plot_codebook(stats.rank_frequency, coverage_curve(stats.rank_frequency), reports)
    write_json(reports / "metrics.json", metrics)
    tracker.metrics(metrics)
    for name in ("rank_frequency.png", "coverage.png"):
        tracker.artifact(reports / name)
    return metrics
