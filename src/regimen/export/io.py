"""Writing outputs safely: to a temporary file beside the target, then an atomic rename.

A run that fails leaves no file and never clobbers an existing one. A new file gets the permissions any program
of the user's would give it (0666 less the umask: readable by colleagues on a shared drive when the umask says so);
a replaced file keeps its own.

Nothing is destroyed (issue 11.4): only a regular file (or nothing) is replaced: a device, a pipe, a socket or a
folder at the target is refused, as root too, and a symbolic link is followed (the file it names is replaced, the
link stays). :func:`check_paths` refuses a run whose two outputs are one file, or whose output is one of its inputs.
A run stopped by SIGTERM removes its temporary files before it ends (:func:`temporary`); a full disk, a read-only
folder or a missing permission is one line (:class:`OutputError`), never a traceback.
"""

from __future__ import annotations

import os
import shutil
import signal
import stat
import sys
import tempfile
import threading
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from types import FrameType

from regimen.errors import RegimenError, option


class OutputError(RegimenError):
    """An output that cannot be written where it was asked for (not a file, the same as an input, a full disk)."""


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


# ---- what may be replaced ----------------------------------------------------------------------------------


def _kind(mode: int) -> str:
    for test, name in (
        (stat.S_ISDIR, "a folder"),
        (stat.S_ISCHR, "a device"),
        (stat.S_ISBLK, "a device"),
        (stat.S_ISFIFO, "a pipe"),
        (stat.S_ISSOCK, "a socket"),
    ):
        if test(mode):
            return name
    return "not a regular file"


def writable_target(path: str | Path) -> Path:
    """The file an output to ``path`` replaces: ``path`` itself, or the file its symbolic link names.

    :class:`OutputError` when something other than a regular file is there (a device such as /dev/sda or
    /dev/null, a pipe, a socket, a folder): replacing it by a rename would destroy it."""
    target = Path(path)
    if target.is_symlink():
        target = Path(os.path.realpath(target))
    try:
        mode = os.stat(target).st_mode
    except FileNotFoundError:
        return target
    except OSError as exc:
        raise OutputError(f"cannot write {path}: {exc.strerror}") from None
    if not stat.S_ISREG(mode):
        what = _kind(mode)
        hint = "; give a file name" if what == "a folder" else "; give the path of a regular file"
        raise OutputError(f"cannot write {path}: it is {what}, which regimen never replaces{hint}")
    return target


def _same(a: Path, b: Path) -> bool:
    try:
        return os.path.samefile(a, b)
    except OSError:  # one of them does not exist yet: the same path is still the same file
        return os.path.realpath(a) == os.path.realpath(b)


def check_paths(
    outputs: Mapping[str, str | Path | None], inputs: Mapping[str, str | Path | None] | None = None
) -> None:
    """Refuse a run whose outputs (input name -> path) include one file twice, or one of its ``inputs``.

    Paths are compared as files (the same device and inode: a link, ``./x`` and ``x`` are one file), before anything
    is read or written. '-' (standard input or output) and None are not files."""
    files = {k: Path(v) for k, v in outputs.items() if v is not None and str(v) != "-"}
    sources = {k: Path(v) for k, v in (inputs or {}).items() if v is not None and str(v) != "-"}
    names = list(files)
    for i, a in enumerate(names):
        for b in names[i + 1 :]:
            if _same(files[a], files[b]):
                raise OutputError(
                    f"{option(a)} and {option(b)} are the same file ({files[a]}): give each output its own file"
                )
        for src, where in sources.items():
            if _same(files[a], where):
                raise OutputError(
                    f"{option(a)} {files[a]} is the {option(src)} this run reads: write the output to another file"
                )


# ---- temporary files, and SIGTERM ---------------------------------------------------------------------------

_LIVE: set[Path] = set()
_LOCK = threading.Lock()
_installed = False


def _remove(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path, ignore_errors=True)
    else:
        path.unlink(missing_ok=True)


def _on_sigterm(signum: int, frame: FrameType | None) -> None:
    """Remove every temporary output, then end as SIGTERM would have (exit status 128 + 15)."""
    for path in list(_LIVE):
        _remove(path)
    signal.signal(signum, signal.SIG_DFL)
    os.kill(os.getpid(), signum)


def _install() -> None:
    """Handle SIGTERM while temporary files exist, when nobody else does (the main thread only can)."""
    global _installed
    if _installed or threading.current_thread() is not threading.main_thread():
        return
    if signal.getsignal(signal.SIGTERM) in (signal.SIG_DFL, None):
        signal.signal(signal.SIGTERM, _on_sigterm)
    _installed = True


def track(path: Path) -> Path:
    """Put ``path`` (a temporary file or folder) on the list that SIGTERM removes, until :func:`untrack`."""
    _install()
    with _LOCK:
        _LIVE.add(path)
    return path


def untrack(path: Path, remove: bool = False) -> None:
    """Take ``path`` off the list (renamed into place), or ``remove`` it (a failed run)."""
    if remove:
        _remove(path)
    with _LOCK:
        _LIVE.discard(path)


@contextmanager
def temporary(path: Path) -> Iterator[Path]:
    """Keep ``path`` on the list SIGTERM cleans while the block runs; remove it if the block fails. The block
    renames it into place when it succeeds."""
    track(path)
    try:
        yield path
    except BaseException:
        untrack(path, remove=True)
        raise
    untrack(path)


def os_error(target: str | Path, exc: OSError) -> OutputError:
    """One line for an output the system would not take: a full disk, a read-only folder, a missing permission."""
    return OutputError(f"cannot write {target}: {exc.strerror or exc} (nothing was written there)")


@contextmanager
def atomic_target(path: str | Path) -> Iterator[Path]:
    """A temporary path beside ``path``, renamed onto it when the block succeeds; removed otherwise.

    For outputs written in pieces (cohort chunks, Parquet row groups) as well as all at once. ``path`` must be a
    regular file or nothing (:func:`writable_target`). An :class:`OSError` of writing is one :class:`OutputError`.
    """
    target = writable_target(path)
    folder = target.parent if str(target.parent) else Path(".")
    if not folder.is_dir():
        raise OutputError(f"cannot write {path}: folder {folder} does not exist; create it or choose another path")
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=folder)
    except OSError as exc:
        raise os_error(path, exc) from None
    os.close(fd)
    try:
        with temporary(Path(tmp)):
            yield Path(tmp)
            os.chmod(tmp, _mode_for(target))  # mkstemp makes 0600: give the file the mode the user expects
            os.replace(tmp, target)
    except OSError as exc:
        raise os_error(path, exc) from None


def write_atomic(path: str | Path, data: str | bytes) -> None:
    """Write ``data`` to ``path`` all at once, or not at all."""
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


__all__ = [
    "OutputError",
    "atomic_target",
    "check_paths",
    "os_error",
    "temporary",
    "track",
    "untrack",
    "writable_target",
    "write_atomic",
    "write_output",
]
