"""Hugging Face export: a `tokenizer.json` that gives exactly fsqtok's ids with `tokenizers`
alone, plus the two files `transformers.AutoTokenizer` reads.

The pipeline: ByteLevel without its own regex first, so every byte is one character and fsqtok's
byte rules carry over exactly (bytes >= 0x80 are letters, runs are counted in bytes); then a Split
pre-tokenizer on fsqtok's splitter (its multi-pre-token pieces as a trie, longest first, then the
pre-token regex) rewritten over those characters; then Unigram, whose Viterbi search with a score
of -1 per piece and -1 - 1/128 per byte symbol is fsqtok's segmentation of a pre-token, ties
included (tokenizers/_core.pyx); all 256 byte symbols are in the vocabulary, so no UNK ever
occurs. Pre-tokens are at most chunking.MAX_RUN bytes long.
Specials sit at ids 0-2 in the vocabulary; no pre-token can spell them (a pre-token never mixes
"<" with letters), so text that contains "<pad>" is encoded as text, as fsqtok does.
"""

from __future__ import annotations

import json
import re
from functools import cache
from pathlib import Path

from fsqtok.store.files import atomic_write_bytes
from fsqtok.text.chunking import PRETOKEN, pretoken_end, pretokenize
from fsqtok.tokenizers.base import BYTE_OFFSET, FIRST_LEARNED_ID, SPECIAL_TOKENS
from fsqtok.tokenizers.fsqtok import PieceTokenizer

PIECE_SCORE, BYTE_SCORE = -1.0, -129 / 128  # the core's PIECE_COST and BYTE_COST over -128


def symbol_class(members: list[int]) -> str:
    r"""An Oniguruma class of the byte-level characters of the bytes `members`, as code point ranges.
    Example: [48, 49, 50] -> [\x{30}-\x{32}]"""
    points = sorted(ord(byte_symbols()[b]) for b in members)
    ranges, start = [], 0
    for i in range(1, len(points) + 1):
        if i == len(points) or points[i] != points[i - 1] + 1:
            low, high = points[start], points[i - 1]
            ranges.append(f"\\x{{{low:X}}}" + (f"-\\x{{{high:X}}}" if high > low else ""))
            start = i
    return "[" + "".join(ranges) + "]"


def literal(data: bytes) -> str:
    """`data` as an Oniguruma literal over byte-level characters."""
    return "".join(f"\\x{{{ord(byte_symbols()[b]):X}}}" for b in data)


def byte_level_pattern(pattern: bytes) -> str:
    r"""A bytes-regex pattern of fsqtok (PRETOKEN and the lookaheads of pretoken_end) rewritten for
    Oniguruma on byte-level text: each class and escape becomes the class of the bytes it matches
    (asked of Python's re, so the two cannot differ), each literal byte its character, \Z \z.
    Example: rb" ?[0-9]{1,64}" -> \x{120}?[\x{30}-\x{39}]{1,64}"""
    out, i = [], 0
    while i < len(pattern):
        char = pattern[i : i + 1]
        if char == b"[":
            end = i + 1
            while pattern[end : end + 1] != b"]":
                end += 2 if pattern[end : end + 1] == b"\\" else 1
            out.append(symbol_class([b for b in range(256) if re.fullmatch(pattern[i : end + 1], bytes([b]))]))
            i = end + 1
        elif char == b"\\" and pattern[i + 1 : i + 2] == b"Z":
            out.append(r"\z")  # Oniguruma's \Z also matches before a final newline
            i += 2
        elif char == b"\\":
            escape = pattern[i : i + 4] if pattern[i + 1 : i + 2] == b"x" else pattern[i : i + 2]
            members = [b for b in range(256) if re.fullmatch(escape, bytes([b]))]
            out.append(symbol_class(members) if len(members) > 1 else literal(bytes(members)))
            i += len(escape)
        elif char == b"{":  # a quantifier: {m,n}
            end = pattern.index(b"}", i)
            out.append(pattern[i : end + 1].decode())
            i = end + 1
        elif char == b"(" and pattern[i + 1 : i + 2] == b"?":  # (?: (?= (?!
            out.append(pattern[i : i + 3].decode())
            i += 3
        elif char in (b"(", b")", b"|", b"+", b"*", b"?"):
            out.append(char.decode())
            i += 1
        else:
            out.append(literal(char))
            i += 1
    return "".join(out)


def joins_of(pieces: list[bytes]) -> list[bytes]:
    """The pieces that can be a run of several whole pre-tokens of a text: " of the", and
    whitespace pieces ("\n\n" is one pre-token alone, two before a word)."""
    return [p for p in pieces if len(pretokenize(p)) > 1 or p.isspace()]


def join_trie(joins: list[bytes]) -> str:
    """An Oniguruma pattern over byte-level text that matches the longest of `joins` ending on a
    pre-token boundary, as a trie (one branch per next byte, longer branches before a join's end),
    so a match costs the length of the join, not the number of joins.
    Example: [b" of the", b" of them"] -> " of the" + (the end of a word | "m" + the end of a word)."""
    root: dict = {}
    for join in joins:
        node = root
        for byte in join:
            node = node.setdefault(byte, {})
        node[None] = byte_level_pattern(pretoken_end(pretokenize(join)[-1]))

    def pattern(node: dict) -> str:
        branches = [literal(bytes([b])) + pattern(child) for b, child in sorted(
            (b, c) for b, c in node.items() if b is not None)]
        if None in node:
            branches.append(node[None])
        return branches[0] if len(branches) == 1 else "(?:" + "|".join(branches) + ")"

    return pattern(root) if root else ""


@cache
def byte_symbols() -> dict[int, str]:
    """GPT-2's printable stand-in for each byte, as HF ByteLevel writes it."""
    from fsqtok.tokenizers.baselines import byte_level_tables

    return byte_level_tables()[0]


def hf_tokenizer_json(tokenizer: PieceTokenizer) -> str:
    """The `tokenizers` pipeline of an fsqtok tokenizer, serialised."""
    from tokenizers import Regex, decoders, models, pre_tokenizers
    from tokenizers import Tokenizer as HFTokenizer

    symbol = byte_symbols()
    pieces = tokenizer.vocab.pieces
    vocab = [(name, PIECE_SCORE) for name in SPECIAL_TOKENS]  # ids 0-2; no pre-token can spell them
    vocab += [(symbol[b], BYTE_SCORE) for b in range(256)]  # ids BYTE_OFFSET + b
    vocab += [("".join(symbol[b] for b in piece), PIECE_SCORE) for piece in pieces]  # FIRST_LEARNED_ID + i
    assert len(vocab) == FIRST_LEARNED_ID + len(pieces) and BYTE_OFFSET == len(SPECIAL_TOKENS)
    joins = join_trie(joins_of(pieces))
    splitter = (f"(?:{joins})|" if joins else "") + byte_level_pattern(PRETOKEN.pattern)
    hf = HFTokenizer(models.Unigram(vocab, unk_id=0, byte_fallback=False))
    hf.pre_tokenizer = pre_tokenizers.Sequence([
        pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False),
        pre_tokenizers.Split(Regex(splitter), behavior="isolated"),
    ])
    hf.decoder = decoders.ByteLevel()
    return hf.to_str()


def export_hf(tokenizer: PieceTokenizer, out: str | Path) -> Path:
    """Write tokenizer.json, tokenizer_config.json and special_tokens_map.json into `out`."""
    out = Path(out)
    specials = {"pad_token": "<pad>", "bos_token": "<bos>", "eos_token": "<eos>"}
    config = {"tokenizer_class": "PreTrainedTokenizerFast", **specials, "model_max_length": 1_000_000_000,
              "split_special_tokens": True,  # "<pad>" in text is text, as in fsqtok
              "clean_up_tokenization_spaces": False}
    atomic_write_bytes(out / "tokenizer.json", hf_tokenizer_json(tokenizer).encode())
    atomic_write_bytes(out / "tokenizer_config.json", (json.dumps(config, indent=2) + "\n").encode())
    atomic_write_bytes(out / "special_tokens_map.json", (json.dumps(specials, indent=2) + "\n").encode())
    return out
