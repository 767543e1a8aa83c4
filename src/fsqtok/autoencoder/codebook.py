"""How the train chunks use the FSQ codebook: codes used, perplexity, collisions, rank-frequency."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

import torch

from fsqtok.autoencoder.infer import encode_chunks
from fsqtok.autoencoder.metrics import code_perplexity
from fsqtok.autoencoder.model import ByteAutoEncoder


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
