"""Writing outputs safely: to a temporary file beside the target, then an atomic rename.

A run that fails leaves no file and never clobbers an existing one. A new file gets the permissions any program
of the user's would give it (0666 less the umask: readable by colleagues on a shared drive when the umask says so);
a replaced file keeps its own.
"""

from __future__ import annotations

import os
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from regimen.errors import RegimenError


def _umask() -> int:
    """The process's umask, read without changing it for other threads (Linux), or set back at once elsewhere."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("Umask:"):
                return int(line.split()[1], 8)
    except OSError:
        pass
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def _mode_for(target: Path) -> int:
    try:
        return target.stat().st_mode & 0o7777 if target.is_file() else 0o666 & ~_umask()
    except OSError:
        return 0o666 & ~_umask()


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
        os.chmod(tmp, _mode_for(target))  # mkstemp makes 0600: give the file the mode the user expects
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
