"""The verified top-k: candidates through the encoder, kept only where the decoder gives the
candidate back (a fixed point enc(s) = c, dec(c) = s), ranked by bytes saved and refined on a
train sample."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

from fsqtok.autoencoder.infer import decode_indices, encode_chunks
from fsqtok.autoencoder.model import ByteAutoEncoder
from fsqtok.tokenizers.base import FIRST_LEARNED_ID
from fsqtok.tokenizers.vocab import ChunkVocabulary


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
