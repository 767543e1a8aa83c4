"""Document-level train/val/test split, deterministic from (doc_id, seed) alone.

A document's split depends only on its own id, so adding documents never moves others.
"""

from __future__ import annotations

import hashlib

import pandas as pd

from fsqtok.config import SplitConfig

SPLITS = ("train", "val", "test")


def unit_hash(doc_id: str, seed: int) -> float:
    """A uniform number in [0, 1) from sha256 of seed and doc_id.
    Example: unit_hash("a", 0) == unit_hash("a", 0) != unit_hash("a", 1)"""
    digest = hashlib.sha256(f"{seed}:{doc_id}".encode("utf-8", "surrogatepass")).digest()
    return int.from_bytes(digest[:8], "big") / 2**64


def assign_split(doc_id: str, config: SplitConfig) -> str:
    u = unit_hash(doc_id, config.seed)
    if u < config.val_fraction:
        return "val"
    if u < config.val_fraction + config.test_fraction:
        return "test"
    return "train"


def split_documents(documents: pd.DataFrame, config: SplitConfig) -> dict[str, pd.DataFrame]:
    """{split name: its documents, in corpus order}."""
    labels = documents["doc_id"].map(lambda d: assign_split(d, config))
    return {name: documents[labels == name].reset_index(drop=True) for name in SPLITS}


def split_stats(splits: dict[str, pd.DataFrame]) -> dict:
    return {
        name: {"documents": len(frame), "bytes": int(frame["n_bytes"].sum())}
        for name, frame in splits.items()
    }
