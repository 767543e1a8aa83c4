"""The Unigram baseline: SentencePiece's Unigram model (the library's own trainer and Viterbi
encoder), set up to be lossless on any bytes — identity normalisation, no dummy prefix, extra
whitespace kept, byte fallback, "\\n" as a user symbol — and mapped onto fsqtok's id layout.

SentencePiece writes a space as "▁" (U+2581) inside its pieces, so a literal "▁" in the input
would come back as a space: it is spelled as its three raw bytes instead, like invalid UTF-8.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from pathlib import Path

from fsqtok.errors import FsqtokError
from fsqtok.store.bundle import BundleError, check_vocab_size, read_bundle, write_bundle
from fsqtok.tokenizers.base import BYTE_OFFSET, FIRST_LEARNED_ID, N_SPECIAL, Tokenizer, encode_utf8_runs, join_pieces

KIND = "fsqtok.unigram"
MODEL_FILE = "unigram.model"
SPACE = "\u2581"
BYTE_IDS = [BYTE_OFFSET + b for b in range(256)]
RAW = re.compile(rb"\xe2\x96\x81")  # "▁" in UTF-8: never handed to SentencePiece
# Share of the text's characters given their own piece, tried in turn: every one where the
# vocabulary has room, fewer (the rest spelled by byte fallback) in a small vocabulary.
CHARACTER_COVERAGE = (1.0, 0.9995, 0.99, 0.98)  # SentencePiece refuses below 0.98


class UnigramTokenizer(Tokenizer):
    """SentencePiece Unigram with fsqtok's ids: specials 0/1/2, bytes 3..258, pieces from 259."""

    name = "unigram"

    def __init__(self, model_proto: bytes):
        import sentencepiece

        self.model_proto = model_proto
        self.sp = sentencepiece.SentencePieceProcessor(model_proto=model_proto)
        self.to_ours = [0] * self.sp.get_piece_size()  # SentencePiece id -> fsqtok id
        pieces: list[bytes] = []
        for sp_id in range(self.sp.get_piece_size()):
            piece = self.sp.id_to_piece(sp_id)
            if self.sp.is_byte(sp_id):  # "<0x41>"
                self.to_ours[sp_id] = BYTE_OFFSET + int(piece[3:5], 16)
            elif self.sp.is_control(sp_id) or self.sp.is_unknown(sp_id):
                self.to_ours[sp_id] = 0  # never emitted: byte fallback leaves nothing unknown
            else:
                self.to_ours[sp_id] = FIRST_LEARNED_ID + len(pieces)
                pieces.append(piece.replace(SPACE, " ").encode("utf-8"))
        self._id_bytes = [b""] * N_SPECIAL + [bytes([b]) for b in range(256)] + pieces

    @classmethod
    def train(cls, texts: Iterable[str], vocab_size: int, threads: int = 2) -> UnigramTokenizer:
        """`vocab_size` ids in all: SentencePiece's 3 specials + 256 byte pieces become fsqtok's
        specials and bytes, so the learned pieces number vocab_size - 259, as for every tokenizer."""
        import io

        import sentencepiece

        lines = [line for text in texts for line in text.replace(SPACE, " ").split("\n") if line]
        for coverage in CHARACTER_COVERAGE:
            proto = io.BytesIO()
            try:
                sentencepiece.SentencePieceTrainer.train(
                    sentence_iterator=iter(lines), model_writer=proto, model_type="unigram", vocab_size=vocab_size,
                    normalization_rule_name="identity", add_dummy_prefix=False, remove_extra_whitespaces=False,
                    byte_fallback=True, user_defined_symbols=["\n"], character_coverage=coverage,
                    split_digits=False, allow_whitespace_only_pieces=True, max_sentence_length=1 << 16,
                    num_threads=threads, hard_vocab_limit=False,  # a small text may not fill vocab_size (as BPE)
                    minloglevel=2)
                return cls(proto.getvalue())
            except RuntimeError as err:
                if "smaller than required_chars" not in str(err):
                    raise
        raise FsqtokError(f"unigram baseline: a vocabulary of {vocab_size} ids cannot hold the text's characters "
                          "beside SentencePiece's 256 byte pieces; raise prune.vocab_size")

    @property
    def vocab_size(self) -> int:
        return len(self._id_bytes)

    def encode_bytes(self, data: bytes) -> list[int]:
        ids, pos = [], 0
        for match in RAW.finditer(data):
            ids += self._encode_text_bytes(data[pos : match.start()]) + [BYTE_OFFSET + b for b in match.group()]
            pos = match.end()
        return ids + self._encode_text_bytes(data[pos:])

    def _encode_text_bytes(self, data: bytes) -> list[int]:
        """Valid UTF-8 runs through SentencePiece, each undecodable byte as its byte token."""
        return encode_utf8_runs(data, lambda text: [self.to_ours[i] for i in self.sp.encode(text)], BYTE_IDS)

    def decode_bytes(self, ids: list[int]) -> bytes:
        return join_pieces(self._id_bytes, ids, self.name)

    def save(self, path: str | Path) -> Path:
        return write_bundle(path, KIND, {"vocab_size": self.vocab_size}, files={MODEL_FILE: self.model_proto})

    @classmethod
    def load(cls, path: str | Path) -> UnigramTokenizer:
        path = Path(path)
        config, _, _ = read_bundle(path, KIND, weights=False)
        try:
            tokenizer = cls((path / MODEL_FILE).read_bytes())
        except (OSError, RuntimeError) as err:  # sentencepiece raises RuntimeError for a bad model
            raise BundleError(f"{path / MODEL_FILE}: not a SentencePiece model ({err})") from None
        check_vocab_size(path / MODEL_FILE, tokenizer.vocab_size, config)
        return tokenizer
