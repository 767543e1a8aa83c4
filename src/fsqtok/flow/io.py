"""Flow bundles: models/flow/ with config.json (model args, the flow params it was trained with,
and the auto-encoder it generates for: its tokenizer bundle and weights checksum),
model.safetensors and meta.json. Loading checks that the auto-encoder is that one."""

from __future__ import annotations

import dataclasses
from pathlib import Path

from fsqtok.config import ConfigError, FlowConfig, build_section
from fsqtok.flow.model import FlowModelConfig, FlowTransformer
from fsqtok.store.bundle import (
    CHECKSUMS,
    META,
    WEIGHTS,
    BundleError,
    load_state_checked,
    read_bundle,
    read_json_file,
    write_bundle,
)
from fsqtok.tokenizers.fsqtok import AutoEncoderTokenizer

FLOW = "fsqtok.flow"


def autoencoder_identity(tokenizer_dir: Path) -> str:
    """The SHA-256 of a tokenizer bundle's auto-encoder weights, as its meta.json lists it."""
    return read_json_file(Path(tokenizer_dir) / META).get(CHECKSUMS, {}).get(WEIGHTS, "")


def save_flow(flow: FlowTransformer, config: FlowConfig, tokenizer_dir: Path, path: Path, meta: dict) -> Path:
    bundle_config = {"model": dataclasses.asdict(flow.config), "flow": dataclasses.asdict(config),
                     "autoencoder": {"tokenizer": str(tokenizer_dir),
                                     "weights_sha256": autoencoder_identity(tokenizer_dir)}}
    return write_bundle(path, FLOW, bundle_config, flow.state_dict(), meta)


def load_flow(path: str | Path, tokenizer_dir: str | Path | None = None
              ) -> tuple[FlowTransformer, FlowConfig, AutoEncoderTokenizer]:
    """(flow model in eval mode, its training params, the tokenizer whose auto-encoder it was
    trained on); `tokenizer_dir` defaults to the one the bundle names."""
    path = Path(path)
    config, tensors, _ = read_bundle(path, FLOW)
    try:
        model_config = FlowModelConfig(**config["model"])
        flow_config = build_section(FlowConfig, config["flow"], "flow")
        trained_on, expected_sha = config["autoencoder"]["tokenizer"], config["autoencoder"]["weights_sha256"]
    except (KeyError, TypeError, ConfigError) as err:
        raise BundleError(f"{path / 'config.json'}: bad flow settings ({err})") from None
    tokenizer_dir = Path(tokenizer_dir or trained_on)
    tokenizer = AutoEncoderTokenizer.load(tokenizer_dir)
    if autoencoder_identity(tokenizer_dir) != expected_sha:
        raise BundleError(f"{path / 'config.json'}: this flow model was trained on another auto-encoder than "
                          f"{tokenizer_dir}'s (weights SHA-256 {expected_sha[:12]}…); retrain it "
                          "(dvc repro) or pass the tokenizer it was trained with")
    flow = FlowTransformer(model_config)
    load_state_checked(flow, tensors, path)
    return flow.eval(), flow_config, tokenizer
