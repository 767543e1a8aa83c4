"""Hugging Face export: a `tokenizer.json` that gives exactly fsqtok's ids with `tokenizers`
alone, plus the two files `transformers.AutoTokenizer` reads.

The pipeline: a Split pre-tokenizer on fsqtok's splitter (its multi-pre-token pieces as a trie,
longest first, then the pre-token regex) translated from byte classes to Unicode (a byte >= 0x80 is a
letter, so every non-ASCII character is one; whitespace is ASCII whitespace only), ByteLevel
without its own regex, and WordPiece with an empty continuation prefix, which is fsqtok's
longest-piece-prefix rule; all 256 byte symbols are in the vocabulary, so no UNK ever occurs.
Specials sit at ids 0-2 in the vocabulary; no pre-token can spell them (a pre-token never mixes
"<" with letters), so text that contains "<pad>" is encoded as text, as fsqtok does.
"""

from __future__ import annotations

import json
from pathlib import Path

from fsqtok.store.files import atomic_write_bytes
from fsqtok.text.chunking import PRETOKEN, pretoken_end, pretokenize
from fsqtok.tokenizers.base import BYTE_OFFSET, FIRST_LEARNED_ID, SPECIAL_TOKENS
from fsqtok.tokenizers.fsqtok import PieceTokenizer

WHITESPACE = r"\x{9}-\x{D}\x{20}"  # what \s matches on bytes in Python: \t \n \v \f \r and space
MAX_WORD_CHARS = 1_000_000_000  # WordPiece turns longer words into UNK; fsqtok has no limit


def unicode_pattern(pattern: str) -> str:
    """A bytes-regex pattern of fsqtok, rewritten for Oniguruma on Unicode text.
    Example: r"[^\\sA-Za-z0-9\\x80-\\xff]+|\\s+(?!\\S)" ->
    r"[^\\x{9}-\\x{D}\\x{20}A-Za-z0-9\\x{80}-\\x{10FFFF}]+|[\\x{9}-\\x{D}\\x{20}]+(?![^\\x{9}-\\x{D}\\x{20}])\""""
    out, i, in_class = [], 0, False
    while i < len(pattern):
        two = pattern[i : i + 2]
        if two == r"\s":
            out.append(WHITESPACE if in_class else f"[{WHITESPACE}]")
        elif two == r"\S":
            out.append(f"[^{WHITESPACE}]")
        elif two == r"\Z":
            out.append(r"\z")  # Oniguruma's \Z also matches before a final newline
        elif pattern[i : i + 9] == r"\x80-\xff":
            out.append(r"\x{80}-\x{10FFFF}")
            i += 9
            continue
        elif two[:1] == "\\":
            out.append(two)
        else:
            in_class = (in_class or two[0] == "[") and not (in_class and two[0] == "]")
            out.append(two[0])
            i += 1
            continue
        i += 2
    return "".join(out)


def literal(text: str) -> str:
    """`text` as an Oniguruma literal: letters, digits and non-ASCII as they are, the rest as \\x{..}."""
    return "".join(ch if ch.isalnum() else f"\\x{{{ord(ch):X}}}" for ch in text)


def joins_of(pieces: list[bytes]) -> list[bytes]:
    """The pieces that can be a run of several whole pre-tokens of a text: " of the", and
    whitespace pieces ("\n\n" is one pre-token alone, two before a word)."""
    return [p for p in pieces if len(pretokenize(p)) > 1 or p.isspace()]


def join_trie(joins: list[bytes]) -> str:
    """An Oniguruma pattern that matches the longest of `joins` ending on a pre-token boundary of
    the text, as a trie (one branch per next character, longer branches before a join's end), so
    a match costs the length of the join, not the number of joins.
    Example: [b" of the", b" of them"] -> " of the" + (the end of a word | "m" + the end of a word)."""
    root: dict = {}
    for join in filter(is_text, joins):
        node = root
        for char in join.decode():
            node = node.setdefault(char, {})
        node[None] = unicode_pattern(pretoken_end(pretokenize(join)[-1]).decode("latin-1"))

    def pattern(node: dict) -> str:
        branches = [literal(char) + pattern(child) for char, child in sorted(
            (c, n) for c, n in node.items() if c is not None)]
        if None in node:
            branches.append(node[None])
        return branches[0] if len(branches) == 1 else "(?:" + "|".join(branches) + ")"

    return pattern(root) if root else ""


def is_text(piece: bytes) -> bool:
    try:
        piece.decode("utf-8")
    except UnicodeDecodeError:
        return False  # a piece that is not whole characters never occurs in Unicode text
    return True


def byte_symbols() -> dict[int, str]:
    """GPT-2's printable stand-in for each byte, as HF ByteLevel writes it."""
    from fsqtok.tokenizers.baselines import byte_level_tables

    return byte_level_tables()[0]


def hf_tokenizer_json(tokenizer: PieceTokenizer) -> str:
    """The `tokenizers` pipeline of an fsqtok tokenizer, serialised."""
    from tokenizers import Regex, decoders, models, pre_tokenizers
    from tokenizers import Tokenizer as HFTokenizer

    symbol = byte_symbols()
    vocab = dict(SPECIAL_TOKENS)
    vocab.update({symbol[b]: BYTE_OFFSET + b for b in range(256)})
    pieces = tokenizer.vocab.pieces
    vocab.update({"".join(symbol[b] for b in piece): FIRST_LEARNED_ID + i for i, piece in enumerate(pieces)})
    joins = join_trie(joins_of(pieces))
    splitter = (f"(?:{joins})|" if joins else "") + unicode_pattern(PRETOKEN.pattern.decode())
    hf = HFTokenizer(models.WordPiece(vocab, unk_token="<pad>", continuing_subword_prefix="",
                                      max_input_chars_per_word=MAX_WORD_CHARS))
    hf.pre_tokenizer = pre_tokenizers.Sequence([
        pre_tokenizers.Split(Regex(splitter), behavior="isolated"),
        pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False),
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
