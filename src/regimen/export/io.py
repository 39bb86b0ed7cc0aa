"""Writing outputs safely: to a temporary file beside the target, then an atomic rename.

A run that fails leaves no file and never clobbers an existing one.
"""

from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path

from ..errors import RegimenError


def write_atomic(path: str | Path, data: str | bytes) -> None:
    """Write ``data`` to ``path`` all at once, or not at all."""
    target = Path(path)
    folder = target.parent if str(target.parent) else Path(".")
    if not folder.is_dir():
        raise RegimenError(f"cannot write {target}: folder {folder} does not exist; create it or choose another path")
    if target.is_dir():
        raise RegimenError(f"cannot write {target}: it is a folder; give a file name")
    raw = data.encode("utf-8") if isinstance(data, str) else data
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=folder)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(raw)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def write_output(text: str, path: str | Path | None) -> None:
    """Write to ``path`` atomically, or to standard output when ``path`` is None or '-'."""
    if path is None or str(path) == "-":
        sys.stdout.write(text)
        sys.stdout.flush()
    else:
        write_atomic(path, text)
