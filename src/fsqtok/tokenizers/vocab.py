"""The lossless encoder over a vocabulary of pieces: per pre-token, the longest run of at least
two whole pre-tokens that is a piece wins (" of the"); otherwise the pre-token is covered left to
right by its longest piece prefix, and what no piece covers becomes byte tokens.

For speed, one compiled regex splits text into pre-tokens and multi-pre-token pieces (a trie
whose ends check the pre-token boundary), and a dict maps each match to its ids.
"""

from __future__ import annotations

import re
from array import array
from collections.abc import Iterator
from itertools import chain

from fsqtok.text.chunking import PRETOKEN, pretoken_end, pretokenize
from fsqtok.tokenizers.base import BYTE_OFFSET, FIRST_LEARNED_ID, id_table, join_pieces

CACHE_BYTES = 16 << 20  # memory the memo of pre-token ids may take (a pre-token repeats a lot in text)
CACHED_TOKEN_BYTES = 64  # longer pre-tokens rarely repeat: not memoised
BLOCK_BYTES = 1 << 20  # longer inputs are encoded block by block, so memory beyond the ids stays bounded


class ChunkVocabulary:
    """Pieces (bytes) in id order and the greedy longest-match encoder over them.
    Example: pieces [b" the", b" of the"] -> encode_bytes(b" of the") == [260]"""

    def __init__(self, pieces: list[bytes], max_piece_bytes: int):
        self.pieces = pieces
        self.max_piece_bytes = max_piece_bytes
        self.piece_to_id = {p: FIRST_LEARNED_ID + i for i, p in enumerate(pieces)}
        # Joins: pieces that can be a run of several whole pre-tokens of a text (" of the"; also
        # "\n\n", one pre-token alone but two before a word). One regex splits text into joins
        # (longest first) and pre-tokens, so encoding is a findall plus a dict lookup per match.
        self.joins = [p for p in pieces if len(pretokenize(p)) > 1 or p.isspace()]
        self.splitter = re.compile(b"(?:" + join_trie(self.joins) + b")|" + PRETOKEN.pattern) if self.joins \
            else PRETOKEN
        self._ids_of = {p: [self.piece_to_id[p]] for p in self.joins}  # match -> ids; grows as a cache
        self._cache_bytes = 0  # estimated memory of the entries added to _ids_of
        # A match whose end lies this close to a block's end may differ from the whole text's:
        # joins reach max_piece_bytes ahead, pre-token lookaheads two bytes beyond a match.
        self._block_margin = max_piece_bytes + 8
        self._id_bytes = id_table(pieces)

    def encode_pretoken(self, token: bytes) -> list[int]:
        """Longest piece prefix first, byte tokens where none fits.
        Example (pieces [b" wor", b"ld"]): b" world" -> [259, 260]"""
        ids, pos, table = [], 0, self.piece_to_id
        while pos < len(token):
            for end in range(min(len(token), pos + self.max_piece_bytes), pos + 1, -1):
                piece_id = table.get(token[pos:end])
                if piece_id is not None:
                    ids.append(piece_id)
                    pos = end
                    break
            else:
                ids.append(BYTE_OFFSET + token[pos])
                pos += 1
        cost = len(token) + 8 * len(ids) + 160  # key, list and dict slot (CPython, roughly)
        if len(token) <= CACHED_TOKEN_BYTES and self._cache_bytes + cost <= CACHE_BYTES:
            self._ids_of[token] = ids
            self._cache_bytes += cost
        return ids

    def encode_matches(self, matches: list[bytes]) -> list[list[int]]:
        """The ids of each match of the splitter."""
        ids = list(map(self._ids_of.get, matches))  # the hot path: a pre-token repeats a lot
        if None in ids:
            for i, hit in enumerate(ids):
                if hit is None:
                    ids[i] = self.encode_pretoken(matches[i])
        return ids

    def blocks(self, data: bytes) -> Iterator[list[bytes]]:
        """The splitter's matches over `data`, a block of about BLOCK_BYTES at a time: exactly the
        matches of one findall over the whole input. Each block drops its matches near the cut,
        whose choice could depend on bytes past it, and the next block re-scans from there."""
        pos = 0
        while pos < len(data):
            end = min(len(data), pos + BLOCK_BYTES)
            matches = self.splitter.findall(data, pos, end)  # they tile data[pos:end]
            if end < len(data):
                reach = end
                while matches and reach > end - self._block_margin:
                    reach -= len(matches.pop())
                if not matches:  # one pre-token longer than a block: match it in the whole input
                    matches = [self.splitter.match(data, pos).group()]
                    reach = pos + len(matches[0])
                end = reach
            yield matches
            pos = end

    def encode_bytes(self, data: bytes) -> list[int]:
        if len(data) <= BLOCK_BYTES:
            return list(chain.from_iterable(self.encode_matches(self.splitter.findall(data))))
        return self.encode_array(data).tolist()

    def encode_array(self, data: bytes) -> array:
        """encode_bytes as an array('I'): 4 bytes per id, for inputs of any size."""
        ids = array("I")
        for matches in self.blocks(data):
            ids.extend(chain.from_iterable(self.encode_matches(matches)))
        return ids

    def decode_bytes(self, ids: list[int]) -> bytes:
        """Concatenated bytes of `ids`; specials are empty."""
        return join_pieces(self._id_bytes, ids, "fsqtok")


def join_trie(joins: list[bytes]) -> bytes:
    """A regex matching the longest of `joins` that ends on a pre-token boundary of the text,
    as a trie (one branch per next byte), so matching costs the length of the match, not the
    number of joins. Example: [b" of the", b" of them"] -> " of the" + (its end | "m" + its end)."""
    root: dict = {}
    for join in joins:
        node = root
        for byte in join:
            node = node.setdefault(byte, {})
        node[None] = pretoken_end(pretokenize(join)[-1])

    def pattern(node: dict) -> bytes:
        branches = [re.escape(bytes([b])) + pattern(child) for b, child in sorted(
            (b, c) for b, c in node.items() if b is not None)]
        if None in node:
            branches.append(node[None])  # after the longer branches: longest match first
        return branches[0] if len(branches) == 1 else b"(?:" + b"|".join(branches) + b")"

    return pattern(root)
