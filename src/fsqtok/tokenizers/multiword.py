"""The multi-word BPE baseline, after the SuperBPE recipe: stage 1 is HF byte-level BPE inside
pre-tokens up to a transition size; stage 2 keeps merging adjacent tokens across pre-token
boundaries (" of" + " the"), each merged piece at most `max_bytes` long and spanning at most
`max_pretokens` pre-tokens: the caps fsqtok's own pieces have. No PyPI library trains stage 2,
so its merge loop is here.

Ids: stage 1's ids (0/1/2 specials, then HF's), then one id per stage-2 merge in merge order.
"""

from __future__ import annotations

import heapq
import json
from collections.abc import Iterable
from pathlib import Path

from fsqtok.store.bundle import BundleError, check_vocab_size, read_bundle, read_json_file, write_bundle
from fsqtok.text.chunking import pretokenize
from fsqtok.tokenizers.base import Tokenizer, join_pieces
from fsqtok.tokenizers.baselines import BPETokenizer

KIND = "fsqtok.multiword"
MERGES_FILE = "merges.json"
SEPARATOR = -1  # between documents in the training sequence: no pair spans it


def apply_merges(ids: list[int], rank: dict[tuple[int, int], int], first_id: int) -> list[int]:
    """BPE encoding over token ids: merge the adjacent pair with the lowest rank (leftmost first)
    until none is left; the merge of rank r gives id `first_id + r`. O(n log n) with a heap.
    Example: ([5, 6, 7], {(5, 6): 0, (9, 7): 1}, 9) -> [10]"""
    n = len(ids)
    if n < 2:
        return list(ids)
    tokens, following, preceding = list(ids), list(range(1, n + 1)), list(range(-1, n - 1))
    alive = [True] * n
    heap = [(r, i) for i in range(n - 1) if (r := rank.get((tokens[i], tokens[i + 1]))) is not None]
    heapq.heapify(heap)
    while heap:
        r, i = heapq.heappop(heap)
        j = following[i]
        if not alive[i] or j >= n or rank.get((tokens[i], tokens[j])) != r:
            continue  # stale: one side was merged away since
        tokens[i], alive[j] = first_id + r, False
        following[i] = k = following[j]
        if k < n:
            preceding[k] = i
            if (new := rank.get((tokens[i], tokens[k]))) is not None:
                heapq.heappush(heap, (new, i))
        if (p := preceding[i]) >= 0 and (new := rank.get((tokens[p], tokens[i]))) is not None:
            heapq.heappush(heap, (new, p))
    return [t for t, keep in zip(tokens, alive, strict=True) if keep]


def learn_merges(documents: list[list[int]], id_bytes: list[bytes], n_merges: int, max_bytes: int,
                 max_pretokens: int) -> list[tuple[int, int]]:
    """Stage 2: `n_merges` merges of the most frequent adjacent pair of the documents' ids, within
    or across pre-tokens, whose bytes stay within both caps. Ties go to the pair seen first.
    Counts are kept up to date merge by merge (pair -> count, pair -> positions), so the cost is
    the number of occurrences merged, not documents x merges.
    Example: ([[a, b, a, b]], 1 merge) -> [(a, b)]"""
    tokens = [t for doc in documents for t in (*doc, SEPARATOR)]
    n = len(tokens)
    following, preceding, alive = list(range(1, n + 1)), list(range(-1, n - 1)), [True] * n
    piece = list(id_bytes)  # id -> bytes, grows with each merge
    allowed: dict[tuple[int, int], bool] = {}

    def fits(pair: tuple[int, int]) -> bool:
        if pair not in allowed:
            joined = piece[pair[0]] + piece[pair[1]]
            allowed[pair] = len(joined) <= max_bytes and len(pretokenize(joined)) <= max_pretokens
        return allowed[pair]

    counts: dict[tuple[int, int], int] = {}
    positions: dict[tuple[int, int], list[int]] = {}

    def add(pair: tuple[int, int], at: int) -> None:
        if SEPARATOR not in pair and fits(pair):
            counts[pair] = counts.get(pair, 0) + 1
            positions.setdefault(pair, []).append(at)

    for i in range(n - 1):
        add((tokens[i], tokens[i + 1]), i)
    heap = [(-c, pair) for pair, c in counts.items()]
    heapq.heapify(heap)
    merges: list[tuple[int, int]] = []
    while heap and len(merges) < n_merges:
        negative, pair = heapq.heappop(heap)
        count = counts.get(pair, 0)
        if count != -negative or count == 0:  # stale entry: re-queue at its current count
            if count > 0:
                heapq.heappush(heap, (-count, pair))
            continue
        new_id = len(piece)
        piece.append(piece[pair[0]] + piece[pair[1]])
        merges.append(pair)
        touched = set()
        for i in sorted(positions.pop(pair)):
            j = following[i]
            if not alive[i] or j >= n or (tokens[i], tokens[j]) != pair:
                continue  # merged away by an earlier occurrence, or recorded before a change
            p, k = preceding[i], following[j]
            if p >= 0 and (tokens[p], tokens[i]) in counts:  # the neighbours' pairs lose this occurrence
                counts[tokens[p], tokens[i]] -= 1
            if k < n and (tokens[j], tokens[k]) in counts:
                counts[tokens[j], tokens[k]] -= 1
            tokens[i], alive[j], following[i] = new_id, False, k
            if k < n:
                preceding[k] = i
            for new, at in (((tokens[p], new_id), p), ((new_id, tokens[k] if k < n else SEPARATOR), i)):
                if at >= 0 and SEPARATOR not in new and fits(new):
                    add(new, at)
                    touched.add(new)
        counts.pop(pair, None)
        for new in touched:
            if counts[new] > 0:  # a pair made and unmade within this merge has none left
                heapq.heappush(heap, (-counts[new], new))
    return merges


class MultiwordTokenizer(Tokenizer):
    """Stage-1 BPE ids, then stage-2 merges across pre-tokens (see apply_merges). Lossless on any
    bytes: stage 1 is (invalid UTF-8 goes byte by byte) and a merge only joins two tokens."""

    name = "multiword"

    def __init__(self, stage1: BPETokenizer, merges: list[tuple[int, int]]):
        self.stage1 = stage1
        self.merges = merges
        self.first_merge_id = stage1.vocab_size
        self.rank = {pair: r for r, pair in enumerate(merges)}
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
        return apply_merges(self.stage1.encode_bytes(data), self.rank, self.first_merge_id)

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
