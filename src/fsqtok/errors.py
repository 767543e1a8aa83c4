"""User-facing errors: one line that says what was wrong and what to do, never a traceback."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager


class FsqtokError(Exception):
    """Base of every error caused by input (params, files, bundles) rather than by a bug."""


@contextmanager
def user_errors() -> Iterator[None]:
    """Turn an FsqtokError into `error: <message>` on stderr and exit status 2."""
    try:
        yield
    except FsqtokError as err:
        print(f"error: {err}", file=sys.stderr)
        raise SystemExit(2) from None
