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


def pipeline_tokenizer(name: str, root: Path = Path(".")) -> Tokenizer:
    """The pipeline's tokenizer called `name` (fsqtok, bpe, word, byte) from its usual place."""
    places = {"fsqtok": root / "models/tokenizer", "bpe": root / "models/baselines/bpe",
              "word": root / "models/baselines/word"}
    return load_tokenizer(places.get(name, "byte"))
