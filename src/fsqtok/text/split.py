"""Document-level train/val/test split, deterministic from (doc_id, seed) alone, and the
split stage's run. A document's split depends only on its own id, so adding documents never
moves others. `take_bytes` picks the leading documents of a split within a byte budget.
"""

from __future__ import annotations

import hashlib
from typing import TYPE_CHECKING

from fsqtok.config import SplitConfig
from fsqtok.errors import FsqtokError

if TYPE_CHECKING:
    import pandas as pd

SPLITS = ("train", "val", "test")


class SplitError(FsqtokError):
    """A split that would leave a later stage without data."""


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


def check_splits(splits: dict[str, pd.DataFrame]) -> None:
    """Every split needs a document: train to learn from, val to select by, test to report on."""
    total = sum(len(frame) for frame in splits.values())
    for name, frame in splits.items():
        if len(frame) == 0:
            fix = "lower split.val_fraction + split.test_fraction" if name == "train" else \
                f"raise split.{name}_fraction"
            raise SplitError(f"split: the {name} split has 0 of {total} documents; {fix} or add documents")


def split_stats(splits: dict[str, pd.DataFrame]) -> dict:
    return {
        name: {"documents": len(frame), "bytes": int(frame["n_bytes"].sum())}
        for name, frame in splits.items()
    }


def take_bytes(texts: list[str], max_bytes: int) -> tuple[list[str], int]:
    """The first documents of `texts` within `max_bytes` UTF-8 bytes (at least one), and their bytes."""
    taken, total = [], 0
    for text in texts:
        size = len(text.encode("utf-8"))
        if taken and total + size > max_bytes:
            break
        taken.append(text)
        total += size
    return taken, total
