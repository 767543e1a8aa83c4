"""Bundles: a folder of config.json + model.safetensors + meta.json (+ vocabulary files).

Never pickle. A bundle is written into a temp folder and renamed into place, so a crash leaves
either the old bundle or the new one. `read_bundle` checks presence, format name and version
and fails with one line naming the file and what to do.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from fsqtok.errors import FsqtokError
from fsqtok.store.files import read_json
from fsqtok.store.provenance import git_rev, versions

FORMAT_VERSION = 1
CONFIG, WEIGHTS, META = "config.json", "model.safetensors", "meta.json"


class BundleError(FsqtokError):
    """A bundle folder that is missing, corrupt or does not match what loads it."""


def write_bundle(
    path: str | Path,
    kind: str,
    config: dict,
    tensors: dict | None = None,
    meta: dict | None = None,
    files: dict[str, bytes] | None = None,
) -> Path:
    """Write a bundle of `kind` (e.g. "fsqtok.autoencoder") atomically; returns its path."""
    from safetensors.torch import save_file

    path = Path(path)
    tmp = path.with_name(f".{path.name}.tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    header = {"format": kind, "format_version": FORMAT_VERSION, "versions": versions()}
    (tmp / CONFIG).write_text(json.dumps({**header, **config}, indent=2) + "\n")
    if tensors is not None:
        save_file({k: v.detach().contiguous().cpu() for k, v in tensors.items()}, str(tmp / WEIGHTS))
    (tmp / META).write_text(json.dumps({"git_rev": git_rev(), **(meta or {})}, indent=2) + "\n")
    for name, data in (files or {}).items():
        (tmp / name).write_bytes(data)
    old = path.with_name(f".{path.name}.old")
    shutil.rmtree(old, ignore_errors=True)
    if path.exists():
        path.rename(old)
    tmp.rename(path)
    shutil.rmtree(old, ignore_errors=True)
    return path


def read_json_file(path: Path) -> dict:
    return read_json(path, BundleError, "the bundle is incomplete, re-create it (dvc repro)")


def read_bundle(path: str | Path, kind: str, weights: bool = True) -> tuple[dict, dict, dict]:
    """(config, tensors, meta) of a bundle of `kind`; tensors is {} when weights=False."""
    path = Path(path)
    if not path.is_dir():
        raise BundleError(f"{path}: no such bundle folder; train it first (dvc repro) or check the path")
    config = read_json_file(path / CONFIG)
    if config.get("format") != kind:
        raise BundleError(f"{path / CONFIG}: holds a {config.get('format')!r} bundle, expected {kind!r}")
    if config.get("format_version") != FORMAT_VERSION:
        raise BundleError(
            f"{path / CONFIG}: format_version {config.get('format_version')!r} is not supported "
            f"(this fsqtok reads {FORMAT_VERSION}); re-create the bundle"
        )
    meta = read_json_file(path / META)
    return config, (read_weights(path / WEIGHTS) if weights else {}), meta


def read_weights(path: Path) -> dict:
    from safetensors.torch import load_file

    if not path.exists():
        raise BundleError(f"{path}: missing; the bundle is incomplete, re-create it (dvc repro)")
    try:
        return load_file(str(path))
    except Exception as err:  # safetensors raises its own error types for corrupt headers/data
        raise BundleError(f"{path}: corrupt safetensors file ({str(err).splitlines()[0]})") from None


def check_vocab_size(path: Path, actual: int, config: dict) -> None:
    """The vocabulary file at `path` must hold as many ids as config.json says."""
    if actual != config.get("vocab_size"):
        raise BundleError(f"{path}: holds {actual} ids but config.json says vocab_size {config.get('vocab_size')}")


def load_state_checked(module, tensors: dict, path: Path) -> None:
    """Load weights into `module`, or fail naming the file when they do not fit its config."""
    try:
        module.load_state_dict(tensors, strict=True)
    except RuntimeError as err:
        first = str(err).splitlines()[1].strip() if "\n" in str(err) else str(err)
        raise BundleError(f"{path / WEIGHTS}: weights do not match {CONFIG} ({first})") from None
