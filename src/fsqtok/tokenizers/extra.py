"""Bring your own baseline: any Hugging Face `tokenizer.json` as a lossless tokenizer on fsqtok's
id layout, so it joins every comparison table (`baseline.extra` in params).

Ids: 0/1/2 fsqtok's specials, 3..258 the raw bytes, 259 + i the file's token i. The file's
tokenizer may normalise (lowercase, NFKC), drop spaces or emit an unknown token, so its ids alone
need not spell the text back. The lossless policy: a token (or the tokens that share one offset
span, such as the byte-level pieces of one emoji) is kept where its bytes are exactly the text
its offsets cover; every other byte is spelled as a byte token. Its bytes come from the token's
string by the file's own conventions: the byte-level alphabet (GPT-2 style), "▁" for a space
(SentencePiece style), the "##" of a continuing WordPiece, "<0xAB>" byte-fallback tokens.
Whatever the file cannot spell exactly shows up as byte fallback in the tables.
"""

from __future__ import annotations

import json
import re
from itertools import accumulate
from pathlib import Path

from fsqtok.store.bundle import BundleError
from fsqtok.tokenizers.base import BYTE_OFFSET, FIRST_LEARNED_ID, Tokenizer, encode_utf8_runs, id_table, join_pieces
from fsqtok.tokenizers.baselines import byte_level_tables, read_hf_file

BYTE_FALLBACK = re.compile(r"<0x([0-9A-Fa-f]{2})>")
BYTE_IDS = [BYTE_OFFSET + b for b in range(256)]


def token_bytes_table(hf) -> list[bytes | None]:
    """The bytes each of the file's token ids stands for (None: no exact bytes), by its conventions."""
    spec = json.loads(hf.to_str())
    layout = json.dumps([spec.get("pre_tokenizer"), spec.get("decoder")])
    byte_level = '"ByteLevel"' in layout
    char_to_byte = byte_level_tables()[1]
    prefix = spec["model"].get("continuing_subword_prefix") if spec["model"].get("type") == "WordPiece" else None
    table: list[bytes | None] = []
    for token_id in range(hf.get_vocab_size()):
        token = hf.id_to_token(token_id) or ""
        if byte_level:
            table.append(bytes(char_to_byte[c] for c in token) if all(c in char_to_byte for c in token) else None)
            continue
        if match := BYTE_FALLBACK.fullmatch(token):
            table.append(bytes([int(match.group(1), 16)]))
            continue
        if prefix and token.startswith(prefix) and len(token) > len(prefix):
            token = token[len(prefix):]
        table.append(token.replace("\u2581", " ").encode("utf-8", "surrogatepass") or None)
    return table


class ExtraTokenizer(Tokenizer):
    """A HF tokenizer file made lossless (see the module docstring); named after the file's stem."""

    def __init__(self, hf, name: str):
        hf.no_truncation()  # a file may ask to cut or pad every encoding: fsqtok encodes whole texts
        hf.no_padding()
        self.hf, self.name = hf, name
        self.token_bytes = token_bytes_table(hf)  # index: the file's id
        self._id_bytes = id_table([b or b"" for b in self.token_bytes])

    @classmethod
    def from_file(cls, path: str | Path) -> ExtraTokenizer:
        """The tokenizer of a tokenizer.json; a missing or broken file is a BundleError naming it."""
        path = Path(path)
        if not path.is_file():
            raise BundleError(f"{path}: no such tokenizer file (baseline.extra lists HF tokenizer.json files)")
        return cls(read_hf_file(path), path.stem)

    @property
    def vocab_size(self) -> int:
        return len(self._id_bytes)

    def _encode_text(self, text: str) -> list[int]:
        """Ids of valid text: the file's tokens whose bytes are the text they cover, bytes elsewhere."""
        data = text.encode("utf-8")
        # byte position of each character (offsets count characters): starts[k] for char k, then the end
        starts = [0, *accumulate(len(c.encode("utf-8")) for c in text)]
        encoding = self.hf.encode(text, add_special_tokens=False)
        groups: list[tuple[int, int, list[int]]] = []  # (start char, end char, the file's ids)
        for token_id, (start, end) in zip(encoding.ids, encoding.offsets, strict=True):
            if groups and groups[-1][:2] == (start, end):
                groups[-1][2].append(token_id)
            else:
                groups.append((start, end, [token_id]))
        ids, pos = [], 0  # pos: bytes of data spelled so far
        for start, end, group in groups:
            first, last = starts[start], starts[end]
            pieces = [self.token_bytes[i] for i in group]
            if first < pos or last <= first or None in pieces or b"".join(pieces) != data[first:last]:
                continue  # not exact: its bytes are spelled by the bytes around it
            ids += [BYTE_OFFSET + b for b in data[pos:first]]
            ids += [FIRST_LEARNED_ID + i for i in group]
            pos = last
        return ids + [BYTE_OFFSET + b for b in data[pos:]]

    def encode_bytes(self, data: bytes) -> list[int]:
        return encode_utf8_runs(bytes(data), self._encode_text, BYTE_IDS)

    def decode_bytes(self, ids: list[int]) -> bytes:
        return join_pieces(self._id_bytes, ids, self.name)

