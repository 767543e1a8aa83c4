"""The tokenizer protocol every fsqtok tokenizer and baseline shares (HF-tokenizers/minbpe shape),
and the one id layout: 0 <pad>, 1 <bos>, 2 <eos>, 3..258 the 256 raw bytes, 259.. learned tokens.

A subclass supplies `encode_bytes`, `decode_bytes`, `vocab_size`, `name` and the token tables;
text, batch and special handling, and the protocol checks (`validate`), live here once.
"""

from __future__ import annotations

import operator
import random
from array import array
from operator import itemgetter

from fsqtok.errors import FsqtokError

PAD_ID, BOS_ID, EOS_ID = 0, 1, 2
SPECIAL_TOKENS = {"<pad>": PAD_ID, "<bos>": BOS_ID, "<eos>": EOS_ID}
N_SPECIAL = len(SPECIAL_TOKENS)
BYTE_OFFSET = N_SPECIAL  # id of byte 0
FIRST_LEARNED_ID = BYTE_OFFSET + 256  # first id after the specials and the 256 bytes


def to_utf8(text: str) -> bytes:
    """str -> UTF-8; a str that is not valid Unicode (lone surrogates) is a clear error."""
    try:
        return text.encode("utf-8")
    except UnicodeEncodeError as err:
        raise FsqtokError(
            f"text has a lone surrogate at index {err.start} and is not valid Unicode; "
            "use encode_bytes for raw bytes"
        ) from None


def id_table(pieces: list[bytes]) -> list[bytes]:
    """id -> bytes: the specials (empty), the 256 single bytes, then `pieces`."""
    return [b""] * N_SPECIAL + [bytes([b]) for b in range(256)] + pieces


def encode_utf8_runs(data: bytes, encode_text, byte_ids: list[int]) -> list[int]:
    """Ids of any bytes for a tokenizer that takes only valid text (HF BPE, SentencePiece): each
    valid UTF-8 run through `encode_text` (str -> ids), each byte no decoding accepts as
    byte_ids[byte]. Example: (b"a\xffb", lambda t: [ord(t)], list(range(256))) -> [97, 255, 98]"""
    ids, pos = [], 0
    while pos < len(data):
        try:
            text, end, bad = data[pos:].decode("utf-8"), len(data), b""
        except UnicodeDecodeError as err:
            text, end = data[pos : pos + err.start].decode("utf-8"), pos + err.end
            bad = data[pos + err.start : end]
        if text:
            ids += encode_text(text)
        ids += [byte_ids[b] for b in bad]
        pos = end
    return ids


def as_id_list(ids) -> list[int]:
    """Any iterable of integers (list, tuple, generator, numpy array, tensor) as a list of
    Python ints. A bool or a non-integer is an error: True would otherwise read as id 1.
    Example: (i for i in (3, 4)) -> [3, 4]; [True] -> error"""
    if hasattr(ids, "tolist"):  # numpy arrays and tensors, converted at C speed
        ids = ids.tolist()
    elif not isinstance(ids, list):
        ids = list(ids)
    if set(map(type, ids)) <= {int}:  # the common case, checked at C speed
        return ids
    bad = next((i for i in ids if isinstance(i, bool) or not hasattr(i, "__index__")), None)
    if bad is not None:
        raise FsqtokError(f"token id {bad!r} is not an integer")
    return [operator.index(i) for i in ids]  # numpy integer scalars and the like


def join_pieces(table: list[bytes], ids, name: str) -> bytes:
    """b"".join(table[i] for i in ids) at C speed (itemgetter), with a clear error for an id
    that is not an integer or lies outside the table."""
    ids = as_id_list(ids)
    if not ids or min(ids) >= 0:  # a negative id would silently wrap around
        try:
            return b"".join(itemgetter(*ids)(table)) if len(ids) > 1 else b"".join(table[i] for i in ids)
        except IndexError:
            pass
    bad = next(i for i in ids if not 0 <= i < len(table))
    raise FsqtokError(f"token id {bad!r} is out of range [0, {len(table)}) for {name}")


class Tokenizer:
    name = "base"

    @property
    def vocab_size(self) -> int:
        raise NotImplementedError

    def encode_bytes(self, data: bytes) -> list[int]:
        raise NotImplementedError

    def decode_bytes(self, ids: list[int]) -> bytes:
        """Bytes of `ids`; special ids contribute nothing."""
        raise NotImplementedError

    @property
    def special_ids(self) -> dict[str, int]:
        return dict(SPECIAL_TOKENS)

    def encode_array(self, data: bytes) -> array:
        """encode_bytes as an array('I') of ids (4 bytes each), for large inputs."""
        return array("I", self.encode_bytes(data))

    def encode(self, text: str, add_bos: bool = False, add_eos: bool = False) -> list[int]:
        ids = self.encode_bytes(to_utf8(text))
        return [BOS_ID] * add_bos + ids + [EOS_ID] * add_eos

    def decode(self, ids: list[int], skip_special: bool = True) -> str:
        """Text of `ids`; bytes that are not valid UTF-8 become U+FFFD (decode_bytes keeps them)."""
        if skip_special:  # the common case: decode_bytes checks the ids once
            return self.decode_bytes(ids).decode("utf-8", errors="replace")
        ids = as_id_list(ids)
        if any(0 <= i < N_SPECIAL for i in ids):
            names = {v: k for k, v in SPECIAL_TOKENS.items()}
            parts, run = [], []
            for i in ids:
                if 0 <= i < N_SPECIAL:
                    parts += [self.decode_bytes(run).decode("utf-8", "replace"), names[i]]
                    run = []
                else:
                    run.append(i)
            return "".join(parts) + self.decode_bytes(run).decode("utf-8", "replace")
        return self.decode_bytes(ids).decode("utf-8", errors="replace")

    def encode_batch(self, texts: list[str], add_bos: bool = False, add_eos: bool = False,
                     num_threads: int | None = None) -> list[list[int]]:
        """encode of each text. A tokenizer whose core releases the GIL (fsqtok's) spreads the
        documents over `num_threads` threads (default: every core); the others encode one by one."""
        return [self.encode(t, add_bos, add_eos) for t in texts]

    def decode_batch(self, batch: list[list[int]], skip_special: bool = True,
                     num_threads: int | None = None) -> list[str]:
        """decode of each list of ids; `num_threads` as in encode_batch."""
        return [self.decode(ids, skip_special) for ids in batch]

    def fingerprint(self) -> str:
        """Short hash of the whole id -> bytes table: two tokenizers with the same fingerprint
        give every id the same meaning (an LM checks it at load time)."""
        import hashlib

        digest = hashlib.sha256(f"{self.name}:{self.vocab_size}".encode())
        for i in range(N_SPECIAL, self.vocab_size):
            piece = self.decode_bytes([i])
            digest.update(len(piece).to_bytes(4, "little") + piece)
        return digest.hexdigest()[:16]


def validation_battery(seed: int = 0) -> list[bytes]:
    """Fixed inputs every tokenizer must round-trip: empty, ASCII, accents, CJK, emoji, CRLF,
    NUL, 100 kB without spaces, random bytes (invalid UTF-8 included)."""
    rng = random.Random(seed)
    texts = ["", "?", "hello world", "Ünïcödé àccents", "東京は日本の首都です", "emoji 👍🏽🚀 ok",
             "line one\r\nline two\r\n", "tab\there\x00nul", "a" * 100_000,
             "The quick brown fox jumps over the lazy dog. " * 20]
    return [t.encode() for t in texts] + [bytes(rng.randrange(256) for _ in range(n)) for n in (1, 7, 1000)]


def validate(tokenizer: Tokenizer) -> dict:
    """Checks of the protocol; {"ok": bool, "problems": [...], ...}."""
    problems = []
    if tokenizer.special_ids != SPECIAL_TOKENS:
        problems.append(f"special ids {tokenizer.special_ids} != {SPECIAL_TOKENS}")
    battery = validation_battery()
    for data in battery:
        ids = tokenizer.encode_bytes(data)
        if any(not BYTE_OFFSET <= i < tokenizer.vocab_size for i in ids):
            problems.append(f"ids out of range for input {data[:20]!r}")
        if tokenizer.decode_bytes(ids) != data:
            problems.append(f"round trip failed for input {data[:20]!r}")
    return {"ok": not problems, "vocab_size": tokenizer.vocab_size, "inputs": len(battery), "problems": problems}
