"""The multi-word BPE baseline, after the SuperBPE recipe: stage 1 is HF byte-level BPE inside
pre-tokens up to a transition size; stage 2 keeps merging adjacent tokens across pre-token
boundaries (" of" + " the"), each merged piece at most `max_bytes` long and spanning at most
`max_pretokens` pre-tokens: the caps fsqtok's own pieces have. No PyPI library trains stage 2,
so its merge loop is here.

Ids: stage 1's ids (0/1/2 specials, then HF's), then one id per stage-2 merge in merge order.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from pathlib import Path

from fsqtok.store.bundle import BundleError, check_vocab_size, read_bundle, read_json_file, write_bundle
from fsqtok.tokenizers._merges import MergeLearner, MergeTable
from fsqtok.tokenizers.base import Tokenizer, join_pieces
from fsqtok.tokenizers.baselines import BPETokenizer

KIND = "fsqtok.multiword"
MERGES_FILE = "merges.json"


def learn_merges(documents: list[list[int]], id_bytes: list[bytes], n_merges: int, max_bytes: int,
                 max_pretokens: int) -> list[tuple[int, int]]:
    """Stage 2: `n_merges` merges of the most frequent adjacent pair of the documents' ids, within
    or across pre-tokens, whose bytes stay within both caps; ties go to the smaller pair of ids.
    Counts are kept up to date merge by merge, so the cost is the number of occurrences merged,
    not documents x merges (the compiled loop in _merges.pyx; tests hold a naive recount).
    Example: ([[a, b, a, b]], 1 merge) -> [(a, b)]"""
    return MergeLearner(documents, list(id_bytes), max_bytes, max_pretokens).learn(n_merges)


class MultiwordTokenizer(Tokenizer):
    """Stage-1 BPE ids, then stage-2 merges across pre-tokens: the adjacent pair of the lowest
    merge rank (leftmost first) merges until none is left. Lossless on any
    bytes: stage 1 is (invalid UTF-8 goes byte by byte) and a merge only joins two tokens."""

    name = "multiword"

    def __init__(self, stage1: BPETokenizer, merges: list[tuple[int, int]]):
        self.stage1 = stage1
        self.merges = merges
        self.first_merge_id = stage1.vocab_size
        self.table = MergeTable(merges, self.first_merge_id)  # merge r gives id first_merge_id + r
        self._id_bytes = list(stage1._id_bytes)
        for a, b in merges:
            self._id_bytes.append(self._id_bytes[a] + self._id_bytes[b])

    @classmethod
    def train(cls, texts: Iterable[str], vocab_size: int, transition: int, max_bytes: int,
              max_pretokens: int) -> MultiwordTokenizer:
        """Stage 1 to `transition` ids on `texts`, stage 2 to `vocab_size`."""
        texts = list(texts)
        stage1 = BPETokenizer.train(texts, transition)
        documents = [stage1.encode(t) for t in texts]
        merges = learn_merges(documents, stage1._id_bytes, vocab_size - stage1.vocab_size, max_bytes, max_pretokens)
        return cls(stage1, merges)

    @property
    def vocab_size(self) -> int:
        return len(self._id_bytes)

    def encode_bytes(self, data: bytes) -> list[int]:
        return self.table.apply(self.stage1.encode_bytes(data))

    def decode_bytes(self, ids: list[int]) -> bytes:
        return join_pieces(self._id_bytes, ids, self.name)

    def save(self, path: str | Path) -> Path:
        return write_bundle(path, KIND, {"vocab_size": self.vocab_size, "stage1_vocab_size": self.first_merge_id},
                            files={"tokenizer.json": self.stage1.hf.to_str().encode(),
                                   MERGES_FILE: json.dumps(self.merges).encode()})

    @classmethod
    def load(cls, path: str | Path) -> MultiwordTokenizer:
        path = Path(path)
        config, _, _ = read_bundle(path, KIND, weights=False)
        stage1 = BPETokenizer.from_file(path / "tokenizer.json")
        try:
            merges = [(int(a), int(b)) for a, b in read_json_file(path / MERGES_FILE, expect=list)]
            tokenizer = cls(stage1, merges)
        except (TypeError, ValueError, IndexError) as err:
            raise BundleError(f"{path / MERGES_FILE}: malformed merges ({type(err).__name__}: {err})") from None
        check_vocab_size(path / MERGES_FILE, tokenizer.vocab_size, config)
        return tokenizer
