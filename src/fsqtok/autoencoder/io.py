"""Auto-encoder bundles: config.json (dims, FSQ levels, chunk length), model.safetensors, meta.json."""

from __future__ import annotations

import dataclasses
from pathlib import Path

from fsqtok.autoencoder.model import ByteAutoEncoder
from fsqtok.config import AutoencoderConfig, ConfigError, FSQConfig, build_section
from fsqtok.store.bundle import CONFIG, BundleError, load_state_checked, read_bundle, write_bundle

AUTOENCODER = "fsqtok.autoencoder"


def autoencoder_config(model: ByteAutoEncoder) -> dict:
    """Everything needed to rebuild a ByteAutoEncoder: dims, FSQ levels, chunk length."""
    return {
        "autoencoder": dataclasses.asdict(model.config),
        "fsq": {"levels": model.fsq.levels_list},
        "chunking": {"max_chunk_bytes": model.max_chunk_bytes},
    }


def build_autoencoder(config: dict) -> ByteAutoEncoder:
    """A fresh ByteAutoEncoder from the dict written by autoencoder_config."""
    try:
        missing = [f.name for f in dataclasses.fields(AutoencoderConfig) if f.name not in config["autoencoder"]]
        if missing:  # a default would silently rebuild another model than the one trained
            raise ConfigError(f"lacks autoencoder.{', autoencoder.'.join(missing)}; made by an older fsqtok, "
                              "retrain it (dvc repro)")
        ae = build_section(AutoencoderConfig, config["autoencoder"], "autoencoder")
        fsq = build_section(FSQConfig, config["fsq"], "fsq")
        max_chunk_bytes = int(config["chunking"]["max_chunk_bytes"])
    except (KeyError, TypeError, ConfigError) as err:
        raise BundleError(f"{CONFIG}: bad auto-encoder settings ({err})") from None
    return ByteAutoEncoder(ae, fsq.levels, max_chunk_bytes)


def save_autoencoder(model, path: str | Path, meta: dict | None = None) -> Path:
    return write_bundle(path, AUTOENCODER, autoencoder_config(model), model.state_dict(), meta)


def load_autoencoder(path: str | Path, kind: str = AUTOENCODER) -> tuple[ByteAutoEncoder, dict]:
    """(model in eval mode, meta) from an auto-encoder bundle, or from another bundle `kind`
    that carries the auto-encoder (the tokenizer bundle does)."""
    path = Path(path)
    config, tensors, meta = read_bundle(path, kind)
    model = build_autoencoder(config)
    load_state_checked(model, tensors, path)
    return model.eval(), meta
