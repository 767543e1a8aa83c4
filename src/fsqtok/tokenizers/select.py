"""The verified top-k: candidates through the encoder, kept only where the decoder gives the
candidate back (a fixed point enc(s) = c, dec(c) = s); then a pool of the verified ones is
shrunk to the vocabulary size by what each piece is worth on a train sample."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

import numpy as np

from fsqtok.autoencoder.infer import encode_chunks, spelled_back
from fsqtok.autoencoder.model import ByteAutoEncoder
from fsqtok.tokenizers._core import PieceCore
from fsqtok.tokenizers.base import FIRST_LEARNED_ID


@dataclass
class PrunedVocabulary:
    pieces: list[bytes]  # s_c, in id order (id = 259 + position)
    codes: list[int]  # c, the verified code of each piece
    candidates: int  # candidates sent through the encoder
    candidate_codes: int  # distinct codes they landed on
    verified_codes: int  # codes whose decoded string is the candidate itself (so a fixed point)


def shrink(pool: list[bytes], n_pieces: int, sample: bytes, max_bytes: int, keep: float) -> list[bytes]:
    """The `n_pieces` of `pool` that encode `sample` in the fewest tokens, found the way
    SentencePiece's Unigram trainer prunes: encode the sample with the current pieces, score each
    piece by the tokens its removal would add (uses x (tokens without it - 1)), keep the best `keep`
    share, and repeat until `n_pieces` are left; pieces the sample's segmentation does not use at
    all go in one round (so a pool of 200,000 costs seconds, not a minute). Scoring by removal
    cost, not by uses, drops the long pieces that shorter ones already cover and keeps the short
    ones words fall back on. Pieces keep their pool order (ties: earlier in the pool wins).
    Example: pool [b"ab", b"abc", b"zz"], 1 piece, sample b"abcabc" -> [b"abc"]"""
    vocab = list(pool)
    while len(vocab) > n_pieces:
        core = PieceCore(vocab, max_bytes)
        ids = np.frombuffer(core.encode_array(sample), dtype=np.uint32)
        uses = np.bincount(ids, minlength=FIRST_LEARNED_ID + len(vocab))[FIRST_LEARNED_ID:]  # (len(vocab),)
        cost = uses * (np.array(core.tokens_without(), dtype=np.int64) - 1)
        target = max(n_pieces, min(int(len(vocab) * keep), int((cost > 0).sum())))
        best = np.argsort(-cost, kind="stable")[:target]  # stable: pool order breaks ties
        vocab = [vocab[i] for i in np.sort(best)]
    return vocab


def rank_by_bytes_saved(candidates: Counter) -> list[bytes]:
    """Multi-byte candidates, most bytes saved (occurrences x (length - 1)) first."""
    return sorted((s for s in candidates if len(s) > 1), key=lambda s: -candidates[s] * (len(s) - 1))


def fixed_points(model: ByteAutoEncoder, strings: list[bytes], batch_size: int) -> tuple[list[int], dict[bytes, int]]:
    """(code of each string, {string: code} for the strings the decoder gives back from their code)."""
    codes = encode_chunks(model, strings, batch_size)  # (N,)
    back = spelled_back(model, strings, codes, batch_size)
    return codes.tolist(), {s: c for s, c, ok in zip(strings, codes.tolist(), back, strict=True) if ok}


def prune(model: ByteAutoEncoder, candidates: Counter, n_pieces: int, batch_size: int, sample: bytes,
          pool_size: int, keep: float) -> PrunedVocabulary:
    """`n_pieces` verified pieces: the `pool_size` verified candidates that save the most bytes,
    shrunk on `sample` (see shrink).

    A candidate s with code c = enc(s) is verified when dec(c) == s: then s_c = s and
    enc(s_c) = c, a fixed point. Codes whose decoded string is not the candidate are dropped:
    their string would be a misspelling that text rarely contains."""
    strings = rank_by_bytes_saved(candidates)
    codes, code_of = fixed_points(model, strings, batch_size)
    kept = shrink([s for s in strings if s in code_of][:pool_size], n_pieces, sample, model.max_chunk_bytes, keep)
    return PrunedVocabulary(pieces=kept, codes=[code_of[s] for s in kept], candidates=len(strings),
                            candidate_codes=len(set(codes)), verified_codes=len(code_of))


def prune_without_autoencoder(candidates: Counter, n_pieces: int, sample: bytes, pool_size: int, keep: float,
                              max_bytes: int) -> list[bytes]:
    """The same selection with every candidate counted as verified: the ablation that shows what
    the auto-encoder's filter costs or buys (tokenizer `fsqtok_noae`)."""
    return shrink(rank_by_bytes_saved(candidates)[:pool_size], n_pieces, sample, max_bytes, keep)


def train_sample(texts: list[str], n_bytes: int) -> bytes:
    """Every 4th train document up to n_bytes: a spread-out sample for usage counts."""
    return "\n".join(texts[::4]).encode("utf-8", "surrogatepass")[:n_bytes]
