"""fsqtok's tokenizers over a vocabulary of pieces plus byte fallback — lossless.

Ids: 0 <pad>, 1 <bos>, 2 <eos>, 3..258 the raw bytes, 259.. learned chunks (pieces).
`PieceTokenizer` is the lossless part alone (the `fsqtok_noae` ablation is one);
`AutoEncoderTokenizer` adds, for every piece `s_c`, the FSQ code `c` whose decoded string it is
and which re-encodes to `c` (verified in the prune stage), so the string -> id table doubles as
the encoder's cache.

Lossless encode: see vocab.ChunkVocabulary (the compiled core, `_core.pyx`). The lossless path needs no torch; torch is
imported only for `reconstruct` (the lossy neural path).
"""

from __future__ import annotations

import json
from array import array
from pathlib import Path

from fsqtok.errors import FsqtokError
from fsqtok.store.bundle import BundleError, check_vocab_size, read_bundle, read_json_file, write_bundle
from fsqtok.tokenizers.base import BOS_ID, BYTE_OFFSET, EOS_ID, FIRST_LEARNED_ID, SPECIAL_TOKENS, Tokenizer, to_utf8
from fsqtok.tokenizers.vocab import ChunkVocabulary

TOKENIZER = "fsqtok.tokenizer"
PIECES = "fsqtok.pieces"
VOCAB_FILE = "vocab.json"


class PieceTokenizer(Tokenizer):
    """Learned pieces with lossless `encode`/`decode` and no auto-encoder behind them."""

    name = "fsqtok_noae"
    kind = PIECES

    def __init__(self, pieces: list[bytes], max_chunk_bytes: int, meta: dict | None = None):
        self.vocab = ChunkVocabulary(pieces, max_chunk_bytes)
        self.max_chunk_bytes = max_chunk_bytes
        self.meta = meta or {}

    @property
    def vocab_size(self) -> int:
        return FIRST_LEARNED_ID + len(self.vocab.pieces)

    def encode_bytes(self, data: bytes) -> list[int]:
        return self.vocab.encode_bytes(bytes(data))

    def encode_array(self, data: bytes) -> array:
        return self.vocab.encode_array(bytes(data))

    def decode_bytes(self, ids: list[int]) -> bytes:
        return self.vocab.decode_bytes(ids)

    def encode_batch(self, texts: list[str], add_bos: bool = False, add_eos: bool = False,
                     num_threads: int | None = None) -> list[list[int]]:
        """encode of each text, the documents spread over `num_threads` threads (default: every
        core; the compiled core runs without the GIL); the same ids as one call per text."""
        batch = self.vocab.encode_many(texts, num_threads, to_bytes=to_utf8)
        if add_bos or add_eos:
            batch = [[BOS_ID] * add_bos + ids + [EOS_ID] * add_eos for ids in batch]
        return batch

    def decode_batch(self, batch: list[list[int]], skip_special: bool = True,
                     num_threads: int | None = None) -> list[str]:
        """decode of each list of ids; the byte gather runs without the GIL, over `num_threads`."""
        if not skip_special:
            return super().decode_batch(batch, skip_special)
        return [data.decode("utf-8", errors="replace") for data in self.vocab.decode_many(batch, num_threads)]

    def token_to_id(self, token: str | bytes) -> int | None:
        if isinstance(token, str) and token in SPECIAL_TOKENS:
            return SPECIAL_TOKENS[token]
        data = to_utf8(token) if isinstance(token, str) else token
        if len(data) == 1:
            return BYTE_OFFSET + data[0]
        return self.vocab.piece_to_id.get(data)

    def id_to_token(self, token_id: int) -> bytes | str:
        """Specials as their names, everything else as bytes."""
        for name, value in SPECIAL_TOKENS.items():
            if value == token_id:
                return name
        return self.vocab.decode_bytes([token_id])  # an id outside the vocabulary fails here

    def _config(self) -> dict:
        return {"vocab_size": self.vocab_size, "special_ids": self.special_ids, "byte_offset": BYTE_OFFSET,
                "max_chunk_bytes": self.max_chunk_bytes}

    def _vocab_json(self) -> dict:
        return {"pieces": [p.hex() for p in self.vocab.pieces]}

    def save(self, path: str | Path, meta: dict | None = None) -> Path:
        """A bundle: config.json, vocab.json (pieces as hex), meta.json."""
        return write_bundle(path, self.kind, self._config(), None, {**self.meta, **(meta or {})},
                            files={VOCAB_FILE: json.dumps(self._vocab_json()).encode()})

    @classmethod
    def load(cls, path: str | Path) -> PieceTokenizer:
        path = Path(path)
        config, meta, vocab, max_chunk_bytes = read_pieces_bundle(path, PIECES)
        tokenizer = cls(vocab["pieces"], max_chunk_bytes, meta=meta)
        check_vocab_size(path / VOCAB_FILE, tokenizer.vocab_size, config)
        return tokenizer


def read_pieces_bundle(path: Path, kind: str) -> tuple[dict, dict, dict, int]:
    """(config, meta, vocab with pieces as bytes and codes as ints if present, max_chunk_bytes) of
    a bundle of `kind`, each malformed part named with its file."""
    config, _, meta = read_bundle(path, kind, weights=False)
    vocab = read_json_file(path / VOCAB_FILE)
    try:
        vocab = {"pieces": [bytes.fromhex(p) for p in vocab["pieces"]],
                 **({"codes": [int(c) for c in vocab["codes"]]} if kind == TOKENIZER else {})}
    except (KeyError, TypeError, ValueError) as err:
        raise BundleError(f"{path / VOCAB_FILE}: malformed vocabulary ({type(err).__name__}: {err})") from None
    if config.get("special_ids") != SPECIAL_TOKENS or config.get("byte_offset") != BYTE_OFFSET:
        raise BundleError(f"{path / 'config.json'}: special ids differ from {SPECIAL_TOKENS}")
    max_chunk_bytes = config.get("max_chunk_bytes")
    if not isinstance(max_chunk_bytes, int) or max_chunk_bytes < 1:
        raise BundleError(f"{path / 'config.json'}: max_chunk_bytes must be a positive integer, "
                          f"got {max_chunk_bytes!r}; re-create the bundle")
    return config, meta, vocab, max_chunk_bytes


class AutoEncoderTokenizer(PieceTokenizer):
    """The learned tokenizer: lossless `encode`/`decode`, lossy `reconstruct` via the auto-encoder."""

    def __init__(self, pieces: list[bytes], codes: list[int], max_chunk_bytes: int,
                 autoencoder_dir: Path | None = None, meta: dict | None = None, model=None):
        if len(pieces) != len(codes):
            raise FsqtokError(f"{len(pieces)} pieces but {len(codes)} codes; each piece needs its code")
        super().__init__(pieces, max_chunk_bytes, meta)
        self.codes = codes  # codes[i] is the FSQ index whose decoded string is pieces[i]
        self.code_to_id = {c: FIRST_LEARNED_ID + i for i, c in enumerate(codes)}
        self.autoencoder_dir = autoencoder_dir
        self._model = model  # the ByteAutoEncoder; loaded lazily from autoencoder_dir when None

    name = "fsqtok"
    kind = TOKENIZER

    # --- the neural path --------------------------------------------------------------------
    @property
    def model(self):
        """The auto-encoder, loaded (with torch) on first use."""
        if self._model is None:
            if self.autoencoder_dir is None:
                raise FsqtokError("this tokenizer has no auto-encoder attached; load it from a bundle")
            from fsqtok.autoencoder.io import load_autoencoder

            self._model, _ = load_autoencoder(self.autoencoder_dir, kind=TOKENIZER)
        return self._model

    def code_tensor(self):
        """The verified FSQ code of each piece, in id order, as an int64 tensor (P,)."""
        import torch

        return torch.tensor(self.codes, dtype=torch.int64)

    def neural_codes(self, chunks: list[bytes]) -> list[int]:
        """FSQ code index of each chunk (the encoder's view)."""
        from fsqtok.autoencoder.infer import encode_chunks

        return encode_chunks(self.model, chunks).tolist()

    def reconstruct_bytes(self, data: bytes) -> bytes:
        """Chunks -> codes -> decoder -> bytes. Lossy: this is what reconstruction metrics score."""
        from fsqtok.autoencoder.infer import reconstruct_text

        return reconstruct_text(self.model, data)

    def reconstruct(self, text: str) -> str:
        return self.reconstruct_bytes(to_utf8(text)).decode("utf-8", errors="replace")

    # --- persistence ------------------------------------------------------------------------
    def save(self, path: str | Path, meta: dict | None = None) -> Path:
        """A bundle: config.json, vocab.json (pieces and codes), meta.json, and the auto-encoder
        beside them."""
        from fsqtok.autoencoder.io import autoencoder_config

        model = self.model
        return write_bundle(path, TOKENIZER, {**self._config(), **autoencoder_config(model)}, model.state_dict(),
                            {**self.meta, **(meta or {})},
                            files={VOCAB_FILE: json.dumps({**self._vocab_json(), "codes": self.codes}).encode()})

    @classmethod
    def load(cls, path: str | Path) -> AutoEncoderTokenizer:
        """Load without torch; the auto-encoder weights are read on first `reconstruct`."""
        path = Path(path)
        config, meta, vocab, max_chunk_bytes = read_pieces_bundle(path, TOKENIZER)
        tokenizer = cls(vocab["pieces"], vocab["codes"], max_chunk_bytes, autoencoder_dir=path, meta=meta)
        check_vocab_size(path / VOCAB_FILE, tokenizer.vocab_size, config)
        return tokenizer
