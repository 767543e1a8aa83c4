"""AutoEncoderTokenizer: a verified vocabulary of learned chunks plus byte fallback — lossless.

Ids: 0 <pad>, 1 <bos>, 2 <eos>, 3..258 the raw bytes, 259.. learned chunks (pieces). Every
piece `s_c` is the decoded string of an FSQ code `c` that re-encodes to `c` (verified in the
prune stage), so the string -> id table doubles as the encoder's cache.

Lossless encode, on pre-tokens (see chunking): at each pre-token, the longest run of at least
two whole pre-tokens that is a piece wins (" of the"); otherwise the pre-token is covered left to right
by its longest piece prefix, and what no piece covers becomes byte tokens. The lossless path
needs no torch; torch is imported only for `reconstruct` (the lossy neural path).
"""

from __future__ import annotations

import json
import re
from itertools import chain
from pathlib import Path

from fsqtok.bundle import BundleError, check_vocab_size, read_bundle, read_json_file, write_bundle
from fsqtok.chunking import PRETOKEN, pretoken_end, pretokenize
from fsqtok.errors import FsqtokError
from fsqtok.protocol import N_SPECIAL, SPECIAL_TOKENS, Tokenizer, id_table, join_pieces, to_utf8

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
        # Joins: pieces that can be a run of several whole pre-tokens of a text (" of the"; also
        # "\n\n", one pre-token alone but two before a word). One regex splits text into joins
        # (longest first) and pre-tokens, so encoding is a findall plus a dict lookup per match.
        joins = [p for p in pieces if len(pretokenize(p)) > 1 or p.isspace()]
        self.splitter = re.compile(b"(?:" + join_trie(joins) + b")|" + PRETOKEN.pattern) if joins else PRETOKEN
        self._ids_of = {p: [self.piece_to_id[p]] for p in joins}  # match -> ids; grows as a cache
        self._cache_limit = len(joins) + CACHE_LIMIT
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
        if len(self._ids_of) < self._cache_limit:
            self._ids_of[token] = ids
        return ids

    def encode_bytes(self, data: bytes) -> list[int]:
        matches = self.splitter.findall(data)
        ids = list(map(self._ids_of.get, matches))  # the hot path: a pre-token repeats a lot
        if None in ids:
            for i, hit in enumerate(ids):
                if hit is None:
                    ids[i] = self.encode_pretoken(matches[i])
        return list(chain.from_iterable(ids))

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
        return self.vocab.decode_bytes([token_id])  # an id outside the vocabulary fails here

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
