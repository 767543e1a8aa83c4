"""LM bundles: models/lm/<tokenizer>/ with config.json (model dims + tokenizer identity),
model.safetensors and meta.json. Loading checks the tokenizer is the one it was trained with."""

from __future__ import annotations

import dataclasses
from pathlib import Path

from fsqtok.lm.model import Transformer, TransformerConfig
from fsqtok.store.bundle import BundleError, load_state_checked, read_bundle, write_bundle
from fsqtok.tokenizers.base import Tokenizer

LM = "fsqtok.lm"


def save_lm(model: Transformer, tokenizer: Tokenizer, path: str | Path, meta: dict) -> Path:
    config = {"model": dataclasses.asdict(model.config),
              "tokenizer": {"name": tokenizer.name, "vocab_size": tokenizer.vocab_size,
                            "fingerprint": tokenizer.fingerprint(), "special_ids": tokenizer.special_ids}}
    state = {k: v for k, v in model.state_dict().items() if k != "head.weight"}  # tied to the embedding
    return write_bundle(path, LM, config, state, meta)


def load_lm(path: str | Path, tokenizer: Tokenizer) -> Transformer:
    path = Path(path)
    config, tensors, _ = read_bundle(path, LM)
    expected = config.get("tokenizer", {})
    if expected.get("vocab_size") != tokenizer.vocab_size or expected.get("fingerprint") != tokenizer.fingerprint():
        raise BundleError(
            f"{path / 'config.json'}: this LM was trained with tokenizer {expected.get('name')!r} "
            f"(vocab {expected.get('vocab_size')}, fingerprint {expected.get('fingerprint')}); the given one is "
            f"{tokenizer.name!r} (vocab {tokenizer.vocab_size}, fingerprint {tokenizer.fingerprint()})"
        )
    model = Transformer(TransformerConfig(**config["model"]))
    tensors["head.weight"] = tensors["token_embedding.weight"]
    load_state_checked(model, tensors, path)
    return model.eval()
