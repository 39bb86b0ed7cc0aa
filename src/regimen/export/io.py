"""Writing outputs safely: to a temporary file beside the target, then an atomic rename.

A run that fails leaves no file and never clobbers an existing one.
"""

from __future__ import annotations

import os
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from regimen.errors import RegimenError


@contextmanager
def atomic_target(path: str | Path) -> Iterator[Path]:
    """A temporary path beside ``path``, renamed onto it when the block succeeds; removed otherwise.

    For outputs written in pieces (cohort chunks, Parquet row groups) as well as all at once.
    """
    target = Path(path)
    folder = target.parent if str(target.parent) else Path(".")
    if not folder.is_dir():
        raise RegimenError(f"cannot write {target}: folder {folder} does not exist; create it or choose another path")
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=folder)
    os.close(fd)
    try:
        yield Path(tmp)
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def write_atomic(path: str | Path, data: str | bytes) -> None:
    """Write ``data`` to ``path`` all at once, or not at all."""
    if Path(path).is_dir():
        raise RegimenError(f"cannot write {path}: it is a folder; give a file name")
    raw = data.encode("utf-8") if isinstance(data, str) else data
    with atomic_target(path) as tmp, open(tmp, "wb") as handle:
        handle.write(raw)
        handle.flush()
        os.fsync(handle.fileno())


def write_output(text: str, path: str | Path | None) -> None:
    """Write to ``path`` atomically, or to standard output when ``path`` is None or '-'."""
    if path is None or str(path) == "-":
        sys.stdout.write(text)
        sys.stdout.flush()
    else:
        write_atomic(path, text)
