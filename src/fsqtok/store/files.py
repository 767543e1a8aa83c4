"""Reading and writing the pipeline's files: atomic writes, errors that name the file."""
# pandas is imported inside the parquet helpers: bundles (and so the tokenizer) use this module.

from __future__ import annotations

import hashlib
import json
import os
import re
from pathlib import Path

from fsqtok.errors import FsqtokError


class InputFileError(FsqtokError):
    """A missing or corrupt input file."""


TEMP_NAME = re.compile(r"\..+\.tmp-\d+")  # what temp_path names; a kill mid-write may leave one


def temp_path(path: Path) -> Path:
    """The hidden name beside `path` that a write goes to before its rename."""
    return path.with_name(f".{path.name}.tmp-{os.getpid()}")


def atomic_write_bytes(path: str | Path, data: bytes) -> None:
    """Write to a temp name beside `path`, fsync, then rename: a kill never leaves half a file."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = temp_path(path)
    with open(tmp, "wb") as handle:
        handle.write(data)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(tmp, path)
    fsync_dir(path.parent)


def fsync_dir(directory: Path) -> None:
    """Make a rename in `directory` durable: without it a power cut can undo the rename."""
    handle = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(handle)
    finally:
        os.close(handle)


def file_digest(path: str | Path, algorithm: str = "sha256") -> str:
    """A hash of a file's bytes, read in blocks (hex); DVC's file hash is the "md5" one."""
    with open(path, "rb") as handle:
        return hashlib.file_digest(handle, algorithm).hexdigest()


def write_json(path: str | Path, data: object) -> None:
    atomic_write_bytes(path, (json.dumps(data, indent=2, sort_keys=False) + "\n").encode())


def read_json(path: str | Path, error: type[FsqtokError] = InputFileError,
              missing: str = "run the stage that writes it (dvc repro)") -> dict:
    """Parsed JSON; a missing file raises `error` with the `missing` hint, a corrupt one says so."""
    path = Path(path)
    if not path.exists():
        raise error(f"{path}: missing; {missing}")
    try:
        return json.loads(path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise error(f"{path}: corrupt JSON ({err})") from None


def write_via_temp(path: str | Path, write) -> None:
    """`write(temp path)`, then rename onto `path`: readers never see a partial file."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = temp_path(path)
    write(tmp)
    os.replace(tmp, path)


def write_parquet(path: str | Path, frame) -> None:
    write_via_temp(path, lambda tmp: frame.to_parquet(tmp, index=False))


def write_csv(path: str | Path, rows: list[dict]) -> None:
    """Rows of equal keys as a CSV table (one column per key)."""
    import pandas as pd

    write_via_temp(path, lambda tmp: pd.DataFrame(rows).to_csv(tmp, index=False))


def read_csv(path: str | Path):
    """A CSV table as a DataFrame; a missing file is one clear error."""
    import pandas as pd

    if not Path(path).exists():
        raise InputFileError(f"{path}: missing; run the stage that writes it (dvc repro)")
    return pd.read_csv(path)


def read_parquet(path: str | Path, columns: list[str]):
    """Read the named columns as a DataFrame; a missing, corrupt or wrongly shaped file is one clear error."""
    import pandas as pd  # heavy; the tokenizer's load path imports this module without needing it

    path = Path(path)
    if not path.exists():
        raise InputFileError(f"{path}: missing; run the stage that writes it (dvc repro)")
    try:
        frame = pd.read_parquet(path)
    except Exception as err:  # pyarrow raises several types for a corrupt file
        raise InputFileError(f"{path}: not a readable parquet file ({type(err).__name__})") from None
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise InputFileError(f"{path}: missing column(s) {', '.join(missing)}")
    return frame[columns]


def read_texts(path: str | Path) -> list[str]:
    """The `text` column of a split parquet file, in order."""
    return list(read_parquet(path, ["text"])["text"])
