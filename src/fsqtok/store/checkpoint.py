"""Training checkpoints: atomic files, keep the last K, find the newest readable one to resume.

A checkpoint is a plain dict of tensors and Python values saved with torch.save and read with
torch.load(weights_only=True) (no arbitrary pickle). It is written to a temp name, fsynced and
renamed (and the folder fsynced), so a kill at any moment leaves only whole files under
checkpoint names; the temp file a kill may leave behind is deleted by the next run's
Checkpointer. A checkpoint holds everything a resume needs, the best weights so far included.
"""

from __future__ import annotations

import io
import re
from pathlib import Path

import torch

from fsqtok.errors import FsqtokError
from fsqtok.store.files import TEMP_NAME, atomic_write_bytes

STEP_FILE = re.compile(r"step_(\d{8})\.pt")


class Checkpointer:
    def __init__(self, directory: str | Path, keep: int, label: str = "pretrain"):
        self.directory, self.keep, self.label = Path(directory), keep, label  # label: who prints
        # One run writes a directory at a time, so any temp file here was cut off by a kill.
        if self.directory.is_dir():
            for partial in self.directory.iterdir():
                if TEMP_NAME.fullmatch(partial.name):
                    partial.unlink()

    def save(self, state: dict, step: int) -> Path:
        """Write step_XXXXXXXX.pt, then delete all but the newest `keep` step files."""
        buffer = io.BytesIO()
        torch.save(state, buffer)
        path = self.directory / f"step_{step:08d}.pt"
        atomic_write_bytes(path, buffer.getvalue())
        for old in self.step_files()[: -self.keep]:
            old.unlink()
        return path

    def step_files(self) -> list[Path]:
        """Step checkpoints, oldest first."""
        if not self.directory.is_dir():
            return []
        return sorted(p for p in self.directory.iterdir() if STEP_FILE.fullmatch(p.name))

    def latest(self) -> Path | None:
        files = self.step_files()
        return files[-1] if files else None

    def load_latest(self) -> tuple[dict | None, Path | None]:
        """(checkpoint, path) of the newest readable step file, saying which unreadable ones it
        passed over; (None, None) when there is none."""
        for path in reversed(self.step_files()):
            try:
                return load_checkpoint(path), path
            except FsqtokError as err:
                print(f"{self.label}: {err}; falling back to the previous checkpoint")
        return None, None

    def resume(self) -> tuple[dict | None, Path | None]:
        """load_latest, saying when a run starts from scratch although other runs left checkpoints
        beside this run's folder (other data, code or params)."""
        checkpoint, path = self.load_latest()
        if checkpoint is None and self.directory.parent.is_dir() and any(self.directory.parent.iterdir()):
            print(f"{self.label}: no checkpoint of this data, code and params (key {self.directory.name}); "
                  "starting at step 0")
        return checkpoint, path


def load_checkpoint(path: str | Path, explicit: bool = False) -> dict:
    """A checkpoint dict; `explicit` (a path the user gave) changes only the advice on failure."""
    path = Path(path)
    if not path.exists():
        raise FsqtokError(f"{path}: checkpoint not found")
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:  # zip/pickle errors of many kinds for a damaged file
        advice = "pass a step_XXXXXXXX.pt file of a pretrain run" if explicit else "it will be skipped"
        raise FsqtokError(f"{path}: not a readable checkpoint ({type(err).__name__}); {advice}") from None
