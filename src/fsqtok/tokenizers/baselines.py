"""Baseline tokenizers on the shared protocol: BPE (HF `tokenizers`), word top-k, bytes.

All keep 0/1/2 for <pad>/<bos>/<eos> and are lossless on any bytes, so compression and LM
bits-per-byte compare like with like.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from collections.abc import Iterable
from pathlib import Path

from fsqtok.store.bundle import BundleError, check_vocab_size, read_bundle, read_json_file, write_bundle
from fsqtok.tokenizers.base import (
    BYTE_OFFSET,
    FIRST_LEARNED_ID,
    SPECIAL_TOKENS,
    Tokenizer,
    as_id_list,
    encode_utf8_runs,
    id_table,
    join_pieces,
)

BYTE_IDS = id_table([])


class ByteTokenizer(Tokenizer):
    """One token per byte: ids 3..258."""

    name = "byte"

    @property
    def vocab_size(self) -> int:
        return FIRST_LEARNED_ID

    def encode_bytes(self, data: bytes) -> list[int]:
        return [b + BYTE_OFFSET for b in data]

    def decode_bytes(self, ids: list[int]) -> bytes:
        return join_pieces(BYTE_IDS, ids, self.name)


WORD = re.compile(rb"[A-Za-z0-9\x80-\xff]+|\s+|[^\sA-Za-z0-9\x80-\xff]+")


class WordTokenizer(Tokenizer):
    """Words, whitespace runs and punctuation runs as tokens (spacing kept), top-k by
    frequency; anything else falls back to byte tokens (ids 3..258)."""

    name = "word"

    def __init__(self, words: list[bytes]):
        self.words = words
        self.word_to_id = {w: FIRST_LEARNED_ID + i for i, w in enumerate(words)}
        self._id_bytes = id_table(words)

    @classmethod
    def train(cls, texts: Iterable[str], vocab_size: int) -> WordTokenizer:
        counts = Counter(w for t in texts for w in WORD.findall(t.encode("utf-8", "surrogatepass")))
        words = [w for w, _ in counts.most_common() if len(w) > 1][: vocab_size - FIRST_LEARNED_ID]
        return cls(words)

    @property
    def vocab_size(self) -> int:
        return len(self._id_bytes)

    def encode_bytes(self, data: bytes) -> list[int]:
        ids, table = [], self.word_to_id
        for word in WORD.findall(data):
            word_id = table.get(word)
            if word_id is not None:
                ids.append(word_id)
            else:
                ids.extend(b + BYTE_OFFSET for b in word)
        return ids

    def decode_bytes(self, ids: list[int]) -> bytes:
        return join_pieces(self._id_bytes, ids, self.name)

    def save(self, path: str | Path) -> Path:
        vocab = json.dumps([w.hex() for w in self.words]).encode()
        return write_bundle(path, "fsqtok.word", {"vocab_size": self.vocab_size}, files={"words.json": vocab})

    @classmethod
    def load(cls, path: str | Path) -> WordTokenizer:
        path = Path(path)
        config, _, _ = read_bundle(path, "fsqtok.word", weights=False)
        try:
            words = [bytes.fromhex(w) for w in read_json_file(path / "words.json", expect=list)]
        except (TypeError, ValueError) as err:
            raise BundleError(f"{path / 'words.json'}: malformed word list ({type(err).__name__}: {err})") from None
        tokenizer = cls(words)
        check_vocab_size(path / "words.json", tokenizer.vocab_size, config)
        return tokenizer


def byte_level_tables() -> tuple[dict[int, str], dict[str, int]]:
    """GPT-2's printable stand-in for each byte, used by HF ByteLevel, and its inverse."""
    from tokenizers import pre_tokenizers

    alphabet = sorted(pre_tokenizers.ByteLevel.alphabet(), key=ord)
    printable = [*range(ord("!"), ord("~") + 1), *range(ord("¡"), ord("¬") + 1), *range(ord("®"), ord("ÿ") + 1)]
    mapping, extra = {}, 0
    for b in range(256):
        if b in printable:
            mapping[b] = chr(b)
        else:
            mapping[b] = chr(256 + extra)
            extra += 1
    assert sorted(mapping.values(), key=ord) == alphabet, "HF ByteLevel alphabet changed"
    return mapping, {v: k for k, v in mapping.items()}


def read_hf_file(path: Path):
    """A HF `tokenizers.Tokenizer` from a tokenizer.json; a broken file is a BundleError naming it."""
    from tokenizers import Tokenizer as HFTokenizer

    try:
        return HFTokenizer.from_file(str(path))
    except Exception as err:  # tokenizers raises a bare Exception for bad JSON
        raise BundleError(f"{path}: not a HF tokenizer file ({err})") from None


class BPETokenizer(Tokenizer):
    """Byte-level BPE from HF `tokenizers` (Rust), GPT-2 pre-tokenization, specials 0/1/2.
    Invalid UTF-8 is encoded byte by byte through the byte-level alphabet, so it is lossless."""

    name = "bpe"

    def __init__(self, hf_tokenizer):
        self.hf = hf_tokenizer
        self.byte_to_char, self.char_to_byte = byte_level_tables()
        self._byte_ids = [hf_tokenizer.token_to_id(self.byte_to_char[b]) for b in range(256)]
        self._id_bytes = [self._token_bytes(hf_tokenizer.id_to_token(i)) for i in range(self.vocab_size)]

    def _token_bytes(self, token: str) -> bytes:
        if token in SPECIAL_TOKENS:
            return b""
        return bytes(self.char_to_byte[ch] for ch in token)

    @classmethod
    def train(cls, texts: Iterable[str], vocab_size: int) -> BPETokenizer:
        from tokenizers import Tokenizer as HFTokenizer
        from tokenizers import decoders, models, pre_tokenizers, trainers

        hf = HFTokenizer(models.BPE())
        hf.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
        hf.decoder = decoders.ByteLevel()
        trainer = trainers.BpeTrainer(
            vocab_size=vocab_size,
            special_tokens=list(SPECIAL_TOKENS),
            initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
            show_progress=False,
        )
        hf.train_from_iterator(texts, trainer=trainer)
        return cls(hf)

    @property
    def vocab_size(self) -> int:
        return self.hf.get_vocab_size()

    def encode_bytes(self, data: bytes) -> list[int]:
        """Valid UTF-8 runs through BPE, each undecodable byte as its byte-level token."""
        return encode_utf8_runs(data, lambda text: self.hf.encode(text, add_special_tokens=False).ids,
                                self._byte_ids)

    def decode_bytes(self, ids: list[int]) -> bytes:
        return join_pieces(self._id_bytes, ids, self.name)

    def decode(self, ids: list[int], skip_special: bool = True) -> str:
        ids = as_id_list(ids)
        if skip_special:  # the Rust decoder is much faster than joining bytes in Python
            if ids and not 0 <= min(ids) <= max(ids) < self.vocab_size:
                return self.decode_bytes(ids).decode("utf-8", "replace")  # its one-line range error
            return self.hf.decode(ids, skip_special_tokens=True)
        return super().decode(ids, skip_special)

    def save(self, path: str | Path) -> Path:
        return write_bundle(path, "fsqtok.bpe", {"vocab_size": self.vocab_size},
                            files={"tokenizer.json": self.hf.to_str().encode()})

    @classmethod
    def from_file(cls, path: Path) -> BPETokenizer:
        """The BPE of a HF tokenizer.json inside a bundle; a broken file is a BundleError naming it."""
        return cls(read_hf_file(path))

    @classmethod
    def load(cls, path: str | Path) -> BPETokenizer:
        path = Path(path)
        config, _, _ = read_bundle(path, "fsqtok.bpe", weights=False)
        tokenizer = cls.from_file(path / "tokenizer.json")
        check_vocab_size(path / "tokenizer.json", tokenizer.vocab_size, config)
        return tokenizer
