"""Load any fsqtok tokenizer bundle by what its config.json says it is."""

from __future__ import annotations

from pathlib import Path

from fsqtok.store.bundle import BundleError, read_json_file
from fsqtok.tokenizers.base import Tokenizer
from fsqtok.tokenizers.baselines import BPETokenizer, ByteTokenizer, WordTokenizer
from fsqtok.tokenizers.extra import ExtraTokenizer
from fsqtok.tokenizers.fsqtok import PIECES, TOKENIZER, AutoEncoderTokenizer, PieceTokenizer
from fsqtok.tokenizers.multiword import KIND as MULTIWORD
from fsqtok.tokenizers.multiword import MultiwordTokenizer
from fsqtok.tokenizers.unigram import KIND as UNIGRAM
from fsqtok.tokenizers.unigram import UnigramTokenizer

BASELINE_BUNDLES = ("fsqtok_noae", "bpe", "multiword", "unigram", "word")  # models/baselines/<name>/, in table order
LOADERS = {TOKENIZER: AutoEncoderTokenizer.load, PIECES: PieceTokenizer.load, "fsqtok.bpe": BPETokenizer.load,
           "fsqtok.word": WordTokenizer.load, MULTIWORD: MultiwordTokenizer.load, UNIGRAM: UnigramTokenizer.load}


def load_tokenizer(path: str | Path) -> Tokenizer:
    """A tokenizer from a bundle folder; the literal path "byte" gives the byte tokenizer, a .json
    file a HF tokenizer file made lossless (see tokenizers.extra)."""
    if str(path) == "byte":
        return ByteTokenizer()
    path = Path(path)
    if path.suffix == ".json":
        return ExtraTokenizer.from_file(path)
    if not path.is_dir():
        raise BundleError(f"{path}: no such tokenizer folder; train it first (dvc repro) or check the path")
    kind = read_json_file(path / "config.json").get("format")
    if kind not in LOADERS:
        raise BundleError(f"{path / 'config.json'}: {kind!r} is not a tokenizer bundle (one of {', '.join(LOADERS)})")
    return LOADERS[kind](path)


def tokenizer_paths(tokenizer_dir: str | Path, baselines_dir: str | Path, extra: list[str] = ()) -> dict[str, str]:
    """Where each tokenizer the pipeline compares lives: fsqtok's bundle, the baseline bundles
    under `baselines_dir` (one folder per name), "byte" (which needs no files), then the `extra`
    tokenizer.json files (baseline.extra) under their stems."""
    baselines = Path(baselines_dir)
    return {"fsqtok": str(tokenizer_dir), **{name: str(baselines / name) for name in BASELINE_BUNDLES},
            "byte": "byte", **{Path(path).stem: str(path) for path in extra}}
