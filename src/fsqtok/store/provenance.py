"""Where a result came from: git revision, package versions, source and run digests, repository root."""

from __future__ import annotations

import hashlib
import os
import subprocess
from importlib import metadata
from pathlib import Path


def git_rev(cwd: str | Path | None = None) -> str:
    """HEAD's commit id, with '+dirty' when the tree has changes; 'unknown' outside git."""
    try:
        rev = subprocess.run(["git", "rev-parse", "HEAD"], cwd=cwd, capture_output=True,
                             text=True, check=True).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=cwd,
                               capture_output=True, text=True, check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"
    return rev + ("+dirty" if dirty else "")


def versions() -> dict[str, str]:
    """Versions of fsqtok and torch as installed (torch is not imported for this)."""
    return {name: _version(name) for name in ("fsqtok", "torch")}


def _version(name: str) -> str:
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return "unknown"


def source_digest(*packages: str) -> str:
    """SHA-256 over the source files of fsqtok subpackages or single modules ("lm/model.py"): name
    and bytes of every .py file; changes whenever that code changes (hex, 12 characters)."""
    root = Path(__file__).resolve().parents[1]
    digest = hashlib.sha256()
    for package in packages:
        where = root / package
        for path in [where] if where.is_file() else sorted(where.rglob("*.py")):
            digest.update(str(path.relative_to(root)).encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()[:12]


def run_key(params_digest: str, data_files: list[Path], packages: tuple[str, ...]) -> str:
    """The key under which a training run's checkpoints are reused: its params, the bytes of its
    data files and the source of the code that trains (12 hex characters)."""
    from fsqtok.store.files import file_digest

    digest = hashlib.sha256(params_digest.encode())
    for path in data_files:
        digest.update(file_digest(path).encode())
    digest.update(source_digest(*packages).encode())
    return digest.hexdigest()[:12]


def repo_root() -> Path:
    """The repository a stage belongs to: $DVC_ROOT (the parent repo even under
    `dvc exp run --temp`), else the current directory."""
    return Path(os.environ.get("DVC_ROOT") or Path.cwd()).resolve()
