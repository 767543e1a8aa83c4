"""Bundles: a folder of config.json + model.safetensors + meta.json (+ vocabulary files).

Never pickle. meta.json lists the SHA-256 of every other file: loading checks the small files,
the first use of the weights checks them (and that every weight is finite), `verify_bundle`
checks all. A bundle is written into a temp folder and swapped into place in one atomic rename,
so the path always holds either the whole old bundle or the whole new one.
"""

from __future__ import annotations

import ctypes
import hashlib
import json
import os
import shutil
from pathlib import Path

from fsqtok.errors import FsqtokError
from fsqtok.store.files import fsync_dir, read_json
from fsqtok.store.provenance import git_rev, versions

FORMAT_VERSION = 1
CONFIG, WEIGHTS, META = "config.json", "model.safetensors", "meta.json"
CHECKSUMS = "sha256"  # meta.json key: {file name: SHA-256 hex} of every other file


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
    from safetensors.torch import save

    header = {"format": kind, "format_version": FORMAT_VERSION, "versions": versions()}
    contents = {CONFIG: (json.dumps({**header, **config}, indent=2) + "\n").encode(), **(files or {})}
    if tensors is not None:
        contents[WEIGHTS] = save({k: v.detach().contiguous().cpu() for k, v in tensors.items()})
    checksums = {name: hashlib.sha256(data).hexdigest() for name, data in contents.items()}
    contents[META] = (json.dumps({"git_rev": git_rev(), **(meta or {}), CHECKSUMS: checksums}, indent=2)
                      + "\n").encode()
    path = Path(path)
    tmp = path.with_name(f".{path.name}.tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    for name, data in contents.items():
        with open(tmp / name, "wb") as handle:
            handle.write(data)
            os.fsync(handle.fileno())
    swap_into_place(tmp, path)
    return path


def swap_into_place(new: Path, path: Path) -> None:
    """Move folder `new` to `path`. Over an existing folder, Linux's renameat2(RENAME_EXCHANGE)
    swaps the two atomically and the old one (now at `new`) is deleted; where the call is
    missing, two renames leave a moment without a bundle."""
    if path.exists():
        exchange = getattr(ctypes.CDLL(None, use_errno=True), "renameat2", None)
        at_cwd, rename_exchange = -100, 2
        if exchange is None or exchange(at_cwd, os.fsencode(new), at_cwd, os.fsencode(path), rename_exchange):
            old = path.with_name(f".{path.name}.old")
            shutil.rmtree(old, ignore_errors=True)
            path.rename(old)
            new.rename(path)
            new = old
        shutil.rmtree(new)
    else:
        new.rename(path)
    fsync_dir(path.parent)


def read_json_file(path: Path, expect: type = dict):
    """A bundle's JSON file, which must hold a JSON `expect` (object or list)."""
    data = read_json(path, BundleError, "the bundle is incomplete, re-create it (dvc repro)")
    if not isinstance(data, expect):
        raise BundleError(f"{path}: holds a JSON {type(data).__name__}, expected a JSON "
                          f"{'object' if expect is dict else 'list'}; re-create the bundle")
    return data


def checked_bytes(path: Path, checksums: dict) -> bytes:
    """The bytes of a bundle file whose SHA-256 must be the one meta.json lists."""
    if not path.exists():
        raise BundleError(f"{path}: missing; the bundle is incomplete, re-create it (dvc repro)")
    data = path.read_bytes()
    if hashlib.sha256(data).hexdigest() != checksums.get(path.name):
        raise BundleError(f"{path}: SHA-256 differs from {META} (the file was changed or damaged); re-create "
                          "the bundle (dvc repro)")
    return data


def read_bundle(path: str | Path, kind: str, weights: bool = True) -> tuple[dict, dict, dict]:
    """(config, tensors, meta) of a bundle of `kind`, every small file checked against its
    checksum; tensors (checked too) is {} when weights=False."""
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
    checksums = meta.get(CHECKSUMS)
    if not isinstance(checksums, dict) or CONFIG not in checksums:
        raise BundleError(f"{path / META}: no file checksums; re-create the bundle (dvc repro)")
    for name in checksums:
        if name != WEIGHTS:
            checked_bytes(path / name, checksums)
    return config, (read_weights(path / WEIGHTS, checksums) if weights else {}), meta


def read_weights(path: Path, checksums: dict) -> dict:
    """Tensors of a checked model.safetensors; a NaN or infinite weight is an error."""
    from safetensors.torch import load

    data = checked_bytes(path, checksums)
    try:
        tensors = load(data)
    except Exception as err:  # safetensors raises its own error types for corrupt headers/data
        raise BundleError(f"{path}: corrupt safetensors file ({str(err).splitlines()[0]})") from None
    for name, tensor in tensors.items():
        if tensor.is_floating_point() and not bool(tensor.isfinite().all()):
            raise BundleError(f"{path}: weight {name} holds NaN or infinite values; re-create the bundle")
    return tensors


def verify_bundle(path: str | Path) -> None:
    """Check every file of any bundle against meta.json, the weights' values included."""
    path = Path(path)
    checksums = read_json_file(path / META).get(CHECKSUMS)
    if not isinstance(checksums, dict) or CONFIG not in checksums:
        raise BundleError(f"{path / META}: no file checksums; re-create the bundle (dvc repro)")
    for name in checksums:
        checked_bytes(path / name, checksums)
    if WEIGHTS in checksums:
        read_weights(path / WEIGHTS, checksums)


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
