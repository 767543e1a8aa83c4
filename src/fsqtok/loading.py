"""Load any fsqtok tokenizer bundle by what its config.json says it is."""

from __future__ import annotations

from pathlib import Path

from fsqtok.baselines import BPETokenizer, ByteTokenizer, WordTokenizer
from fsqtok.bundle import BundleError, read_json_file
from fsqtok.protocol import Tokenizer
from fsqtok.tokenizer import TOKENIZER, AutoEncoderTokenizer

LOADERS = {TOKENIZER: AutoEncoderTokenizer.load, "fsqtok.bpe": BPETokenizer.load, "fsqtok.word": WordTokenizer.load}


def load_tokenizer(path: str | Path) -> Tokenizer:
    """A tokenizer from a bundle folder; the literal path "byte" gives the byte tokenizer."""
    if str(path) == "byte":
        return ByteTokenizer()
    path = Path(path)
    if not path.is_dir():
        raise BundleError(f"{path}: no such tokenizer folder; train it first (dvc repro) or check the path")
    kind = read_json_file(path / "config.json").get("format")
    if kind not in LOADERS:
        raise BundleError(f"{path / 'config.json'}: {kind!r} is not a tokenizer bundle (one of {', '.join(LOADERS)})")
    return LOADERS[kind](path)


PIPELINE_TOKENIZERS = {"fsqtok": "models/tokenizer", "bpe": "models/baselines/bpe",
                       "word": "models/baselines/word", "byte": "byte"}  # where the pipeline puts each


def pipeline_tokenizer(name: str) -> Tokenizer:
    """The pipeline's tokenizer called `name` (fsqtok, bpe, word, byte) from its usual place."""
    return load_tokenizer(PIPELINE_TOKENIZERS[name])
