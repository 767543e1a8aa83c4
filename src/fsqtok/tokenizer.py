"""AutoEncoderTokenizer: a verified vocabulary of learned chunks plus byte fallback — lossless.

Ids: 0 <pad>, 1 <bos>, 2 <eos>, 3..258 the raw bytes, 259.. learned chunks (pieces). Every
piece `s_c` is the decoded string of an FSQ code `c` that re-encodes to `c` (verified in the
prune stage), so the string -> id table doubles as the encoder's cache.

Lossless encode, on pre-tokens (see chunking): at each pre-token, the longest run of whole
pre-tokens that is a piece wins (" of the"); otherwise the pre-token is covered left to right
by its longest piece prefix, and what no piece covers becomes byte tokens. The lossless path
needs no torch; torch is imported only for `reconstruct` (the lossy neural path).
"""

from __future__ import annotations

import json
from pathlib import Path

from fsqtok.bundle import BundleError, check_vocab_size, read_bundle, read_json_file, write_bundle
from fsqtok.chunking import PRETOKEN, pretokenize
from fsqtok.errors import FsqtokError
from fsqtok.protocol import N_SPECIAL, SPECIAL_TOKENS, Tokenizer, to_utf8

BYTE_OFFSET = N_SPECIAL
FIRST_PIECE_ID = BYTE_OFFSET + 256
TOKENIZER = "fsqtok.tokenizer"
VOCAB_FILE = "vocab.json"
CACHE_LIMIT = 1 << 18  # pre-tokens whose ids are memoised (a pre-token repeats a lot in text)


class ChunkVocabulary:
    """Pieces (bytes) in id order and the greedy longest-match encoder over them.
    Example: pieces [b" the", b" of the"] -> encode_bytes(b" of the") == [260]"""

    def __init__(self, pieces: list[bytes], max_piece_bytes: int):
        self.pieces = pieces
        self.max_piece_bytes = max_piece_bytes
        self.piece_to_id = {p: FIRST_PIECE_ID + i for i, p in enumerate(pieces)}
        # Pieces of several pre-tokens, found by their first pre-token: {first: max pre-tokens}.
        self.join_starts: dict[bytes, int] = {}
        for piece in pieces:
            parts = pretokenize(piece)
            if len(parts) > 1:
                self.join_starts[parts[0]] = max(self.join_starts.get(parts[0], 0), len(parts))
        self._cache: dict[bytes, list[int]] = {}
        self._id_bytes = [b""] * FIRST_PIECE_ID + pieces
        for byte in range(256):
            self._id_bytes[BYTE_OFFSET + byte] = bytes([byte])

    def encode_pretoken(self, token: bytes) -> list[int]:
        """Longest piece prefix first, byte tokens where none fits.
        Example (pieces [b" wor", b"ld"]): b" world" -> [259, 260]"""
        cached = self._cache.get(token)
        if cached is not None:
            return cached
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
        if len(self._cache) < CACHE_LIMIT:
            self._cache[token] = ids
        return ids

    def longest_join(self, tokens: list[bytes], i: int) -> tuple[int, int] | None:
        """(pre-tokens covered, id) of the longest piece made of whole pre-tokens from i on."""
        best, joined = None, tokens[i]
        for j in range(i + 1, min(len(tokens), i + self.join_starts[tokens[i]])):
            joined += tokens[j]
            if len(joined) > self.max_piece_bytes:
                break
            piece_id = self.piece_to_id.get(joined)
            if piece_id is not None:
                best = (j - i + 1, piece_id)
        return best

    def encode_bytes(self, data: bytes) -> list[int]:
        ids: list[int] = []
        extend, cached, joins = ids.extend, self._cache.get, self.join_starts
        tokens = PRETOKEN.findall(data)
        skip = 0
        for i, token in enumerate(tokens):  # the hot loop: one dict lookup per pre-token when cached
            if skip:
                skip -= 1
                continue
            if token in joins:
                join = self.longest_join(tokens, i)
                if join is not None:
                    ids.append(join[1])
                    skip = join[0] - 1
                    continue
            hit = cached(token)
            extend(hit if hit is not None else self.encode_pretoken(token))
        return ids

    def decode_bytes(self, ids: list[int]) -> bytes:
        """Concatenated bytes of `ids`; specials are empty."""
        table = self._id_bytes
        try:
            data = b"".join(map(table.__getitem__, ids))
            if ids and min(ids) < 0:  # a negative index would silently wrap around
                raise IndexError
        except (IndexError, TypeError):
            bad = next(i for i in ids if not (isinstance(i, int) and 0 <= i < len(table)))
            raise FsqtokError(f"token id {bad!r} is out of range [0, {len(table)})") from None
        return data


class AutoEncoderTokenizer(Tokenizer):
    """The learned tokenizer: lossless `encode`/`decode`, lossy `reconstruct` via the auto-encoder."""

    def __init__(self, pieces: list[bytes], codes: list[int], max_chunk_bytes: int,
                 autoencoder_dir: Path | None = None, meta: dict | None = None, model=None):
        if len(pieces) != len(codes):
            raise FsqtokError(f"{len(pieces)} pieces but {len(codes)} codes; each piece needs its code")
        self.vocab = ChunkVocabulary(pieces, max_chunk_bytes)
        self.codes = codes  # codes[i] is the FSQ index whose decoded string is pieces[i]
        self.code_to_id = {c: FIRST_PIECE_ID + i for i, c in enumerate(codes)}
        self.max_chunk_bytes = max_chunk_bytes
        self.autoencoder_dir = autoencoder_dir
        self.meta = meta or {}
        self._model = model  # the ByteAutoEncoder; loaded lazily from autoencoder_dir when None

    name = "fsqtok"

    @property
    def vocab_size(self) -> int:
        return FIRST_PIECE_ID + len(self.vocab.pieces)

    def encode_bytes(self, data: bytes) -> list[int]:
        return self.vocab.encode_bytes(bytes(data))

    def decode_bytes(self, ids: list[int]) -> bytes:
        return self.vocab.decode_bytes(ids)

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
        self.check_ids([token_id])
        return self.vocab.decode_bytes([token_id])

    # --- the neural path --------------------------------------------------------------------
    @property
    def model(self):
        """The auto-encoder, loaded (with torch) on first use."""
        if self._model is None:
            if self.autoencoder_dir is None:
                raise FsqtokError("this tokenizer has no auto-encoder attached; load it from a bundle")
            from fsqtok.bundle import load_autoencoder

            self._model, _ = load_autoencoder(self.autoencoder_dir, kind=TOKENIZER)
        return self._model

    def neural_codes(self, chunks: list[bytes]) -> list[int]:
        """FSQ code index of each chunk (the encoder's view)."""
        from fsqtok.autoencoder import encode_chunks

        return encode_chunks(self.model, chunks).tolist()

    def reconstruct_bytes(self, data: bytes) -> bytes:
        """Chunks -> codes -> decoder -> bytes. Lossy: this is what reconstruction metrics score."""
        from fsqtok.autoencoder import reconstruct_text

        return reconstruct_text(self.model, data)

    def reconstruct(self, text: str) -> str:
        return self.reconstruct_bytes(to_utf8(text)).decode("utf-8", errors="replace")

    # --- persistence ------------------------------------------------------------------------
    def save(self, path: str | Path, meta: dict | None = None) -> Path:
        """A bundle: config.json, vocab.json, meta.json, and the auto-encoder beside them."""
        from fsqtok.bundle import autoencoder_config

        model = self.model
        vocab = {"pieces": [p.hex() for p in self.vocab.pieces], "codes": self.codes}
        config = {
            "vocab_size": self.vocab_size,
            "special_ids": self.special_ids,
            "byte_offset": BYTE_OFFSET,
            "max_chunk_bytes": self.max_chunk_bytes,
            **autoencoder_config(model),
        }
        return write_bundle(path, TOKENIZER, config, model.state_dict(), {**self.meta, **(meta or {})},
                            files={VOCAB_FILE: json.dumps(vocab).encode()})

    @classmethod
    def load(cls, path: str | Path) -> AutoEncoderTokenizer:
        """Load without torch; the auto-encoder weights are read on first `reconstruct`."""
        path = Path(path)
        config, _, meta = read_bundle(path, TOKENIZER, weights=False)
        vocab = read_json_file(path / VOCAB_FILE)
        try:
            pieces = [bytes.fromhex(p) for p in vocab["pieces"]]
            codes = [int(c) for c in vocab["codes"]]
        except (KeyError, TypeError, ValueError) as err:
            raise BundleError(f"{path / VOCAB_FILE}: malformed vocabulary ({err})") from None
        if config.get("special_ids") != SPECIAL_TOKENS or config.get("byte_offset") != BYTE_OFFSET:
            raise BundleError(f"{path / 'config.json'}: special ids differ from {SPECIAL_TOKENS}")
        tokenizer = cls(pieces, codes, int(config["max_chunk_bytes"]), autoencoder_dir=path, meta=meta)
        check_vocab_size(path / VOCAB_FILE, tokenizer.vocab_size, config)
        return tokenizer
