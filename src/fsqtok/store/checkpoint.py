"""Training checkpoints: atomic files, keep the last K plus the best, find the latest to resume.

A checkpoint is a plain dict of tensors and Python values saved with torch.save and read with
torch.load(weights_only=True) (no arbitrary pickle). It is written to a temp name and renamed,
so a kill at any moment leaves only whole files under checkpoint names; the temp file a kill
may leave behind is deleted by the next run's Checkpointer.
"""

from __future__ import annotations

import io
import re
from pathlib import Path

import torch

from fsqtok.errors import FsqtokError
from fsqtok.store.files import TEMP_NAME, atomic_write_bytes

STEP_FILE = re.compile(r"step_(\d{8})\.pt")
BEST = "best.pt"


class Checkpointer:
    def __init__(self, directory: str | Path, keep: int):
        self.directory, self.keep = Path(directory), keep
        # One run writes a directory at a time, so any temp file here was cut off by a kill.
        if self.directory.is_dir():
            for partial in self.directory.iterdir():
                if TEMP_NAME.fullmatch(partial.name):
                    partial.unlink()

    def _write(self, name: str, state: dict) -> Path:
        buffer = io.BytesIO()
        torch.save(state, buffer)
        path = self.directory / name
        atomic_write_bytes(path, buffer.getvalue())
        return path

    def save(self, state: dict, step: int) -> Path:
        """Write step_XXXXXXXX.pt, then delete all but the newest `keep` step files."""
        path = self._write(f"step_{step:08d}.pt", state)
        for old in self.step_files()[: -self.keep]:
            old.unlink()
        return path

    def save_best(self, state: dict) -> Path:
        return self._write(BEST, state)

    def step_files(self) -> list[Path]:
        """Step checkpoints, oldest first."""
        if not self.directory.is_dir():
            return []
        return sorted(p for p in self.directory.iterdir() if STEP_FILE.fullmatch(p.name))

    def latest(self) -> Path | None:
        files = self.step_files()
        return files[-1] if files else None

    @property
    def best_path(self) -> Path:
        return self.directory / BEST


def load_checkpoint(path: str | Path) -> dict:
    path = Path(path)
    if not path.exists():
        raise FsqtokError(f"{path}: checkpoint not found")
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:  # zip/pickle errors of many kinds for a damaged file
        raise FsqtokError(f"{path}: corrupt checkpoint ({type(err).__name__}); delete it to start over") from None
