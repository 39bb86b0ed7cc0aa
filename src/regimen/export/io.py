"""Writing outputs safely: to a temporary file beside the target, then an atomic rename.

A run that fails leaves no file and never clobbers an existing one. A new file gets the permissions any program
of the user's would give it (0666 less the umask: readable by colleagues on a shared drive when the umask says so);
a replaced file keeps its own.
"""

from __future__ import annotations

import errno
import glob
import os
import re
import shutil
import signal
import stat
import sys
import tempfile
import time
from collections.abc import Iterator, Mapping
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


def check_target(path: str | Path) -> Path:
    """The file an output goes to: ``path``, or the regular file a symbolic link at ``path`` points to. Anything else
    that exists there (a folder, a device such as /dev/sda, a pipe, a socket) is refused, even to root: an output
    replaces only a regular file."""
    target = Path(path)
    if target.is_symlink() or target.exists():
        resolved = target.resolve()
        try:
            mode = resolved.stat().st_mode
        except OSError:
            mode = 0
        if stat.S_ISDIR(mode):
            raise RegimenError(f"cannot write {path}: it is a folder; give a file name")
        if resolved.exists() and not stat.S_ISREG(mode):
            raise RegimenError(
                f"cannot write {path}: it is not a regular file (a device, a pipe or a socket); choose a file name"
            )
        return resolved
    return target


def cannot_write(target: Path, exc: OSError) -> RegimenError:
    """One line for an OSError while writing ``target``: the reason and what to do."""
    reason = exc.strerror or type(exc).__name__
    hint = {
        errno.ENOSPC: "free some space or write elsewhere",
        errno.EROFS: "write to another folder",
        errno.EACCES: "check the folder's permissions or write elsewhere",
        errno.EPERM: "check the folder's permissions or write elsewhere",
        errno.EDQUOT: "free some space or write elsewhere",
    }.get(exc.errno or 0, "check the path")
    return RegimenError(f"cannot write {target}: {reason.lower()}; {hint} (nothing was written)")


#: Temporary files and folders of outputs being written, removed by :func:`remove_pending` when a run is stopped
#: (SIGTERM) at any point, even between a temporary file's creation and the code that would clean it up.
_PENDING: set[Path] = set()


@contextmanager
def _signals_held() -> Iterator[None]:
    """SIGTERM and SIGINT held back (delivered right after) while a temporary file is created and registered."""
    held = {signal.SIGTERM, signal.SIGINT}
    try:
        old = signal.pthread_sigmask(signal.SIG_BLOCK, held)
    except (AttributeError, ValueError, OSError):  # no pthread_sigmask on this platform
        yield
        return
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, old)


#: ".NAME.PID-RANDOM.tmp": the writer's process id in the name tells a live writer's file from a dead one's.
_TEMP_PID = re.compile(r"^\.(?P<name>.+)\.(?P<pid>[0-9]+)-[^.]+\.tmp$")


def _prefix(target: Path) -> str:
    return f".{target.name}.{os.getpid()}-"


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:  # another user's process: alive
        return True
    return True


def _held_open(path: Path) -> bool | None:
    """Whether a process has ``path`` open (Linux: /proc/*/fd); None where that cannot be seen."""
    proc = Path("/proc")
    if not (proc / "self" / "fd").is_dir():
        return None
    wanted = str(path.resolve())
    for fd_dir in proc.glob("[0-9]*/fd"):
        try:
            if any(os.readlink(fd) == wanted for fd in fd_dir.iterdir()):
                return True
        except OSError:  # a process that ended, or one we may not look into
            continue
    return False


def stale_temporaries(path: str | Path, before: float | None = None) -> tuple[list[Path], list[Path]]:
    """Temporary files (and folders) of the output ``path`` that a stopped run left behind (SIGKILL, a power cut:
    nothing could clean up): last written before ``before`` (default: now, as the run that asks begins) by a process
    that is gone. Removes them; returns (removed, kept) — kept: those that may still be in use and could not be told
    apart (named, not touched)."""
    cutoff = time.time() if before is None else before
    target = Path(path)
    folder = target.parent if str(target.parent) else Path(".")
    removed: list[Path] = []
    kept: list[Path] = []
    try:
        found = list(folder.glob(f".{glob.escape(target.name)}.*.tmp"))
    except OSError:
        return removed, kept
    for tmp in found:
        if tmp in _PENDING:
            continue
        try:
            if tmp.lstat().st_mtime >= cutoff:
                continue  # written since this run began: another run's, at work
        except OSError:
            continue
        match = _TEMP_PID.match(tmp.name)
        if match is not None and match["name"] == target.name:
            if int(match["pid"]) != os.getpid() and _alive(int(match["pid"])):
                continue  # its writer runs still
        else:  # a name from an older regimen: stale only when no process has it open
            held = _held_open(tmp) if not tmp.is_dir() else False
            if held is None:
                kept.append(tmp)
                continue
            if held:
                continue
        try:
            if tmp.is_dir() and not tmp.is_symlink():
                shutil.rmtree(tmp)
            else:
                tmp.unlink()
        except OSError:
            kept.append(tmp)
            continue
        removed.append(tmp)
    return sorted(removed), sorted(kept)


def temporary_file(target: Path) -> Path:
    """An empty temporary file beside ``target`` (hidden, mode 0600 until put in place), registered for removal."""
    folder = target.parent if str(target.parent) else Path(".")
    with _signals_held():
        fd, tmp = tempfile.mkstemp(prefix=_prefix(target), suffix=".tmp", dir=folder)
        os.close(fd)
        _PENDING.add(Path(tmp))
    return Path(tmp)


def temporary_folder(target: Path) -> Path:
    folder = target.parent if str(target.parent) else Path(".")
    with _signals_held():
        tmp = Path(tempfile.mkdtemp(prefix=_prefix(target), suffix=".tmp", dir=folder))
        _PENDING.add(tmp)
    return tmp


def done_with(tmp: Path) -> None:
    """``tmp`` was put in place or removed: nothing left to clean up."""
    _PENDING.discard(tmp)


#: Outputs this process has put in place whole (renamed onto their target), in order: what a run stopped after them
#: still leaves behind, so that its message does not say "no output was written" beside a finished file.
_WRITTEN: list[Path] = []


def put_in_place(tmp: Path, target: Path) -> None:
    """Rename a finished temporary file or folder onto ``target``, and remember that ``target`` was written whole."""
    os.replace(tmp, target)
    _WRITTEN.append(target)


def written_whole() -> tuple[Path, ...]:
    """The outputs this process has put in place whole so far."""
    return tuple(_WRITTEN)


def remove_pending() -> list[Path]:
    """Remove every temporary file and folder of an output still being written; the paths removed."""
    removed = []
    for tmp in list(_PENDING):
        if tmp.is_dir() and not tmp.is_symlink():
            shutil.rmtree(tmp, ignore_errors=True)
        else:
            tmp.unlink(missing_ok=True)
        _PENDING.discard(tmp)
        removed.append(tmp)
    return removed


@contextmanager
def atomic_target(path: str | Path) -> Iterator[Path]:
    """A temporary path beside ``path``, renamed onto it when the block succeeds; removed otherwise (also when the
    run is stopped by SIGTERM or Ctrl-C: the command line turns both into an exit that unwinds through here).

    For outputs written in pieces (cohort chunks, Parquet row groups) as well as all at once. A full disk, a
    read-only or forbidden folder is one error naming the file; the existing file is left as it was.
    """
    target = check_target(path)
    folder = target.parent if str(target.parent) else Path(".")
    if not folder.is_dir():
        raise RegimenError(f"cannot write {target}: folder {folder} does not exist; create it or choose another path")
    try:
        tmp = temporary_file(target)
    except OSError as exc:
        raise cannot_write(target, exc) from None
    try:
        yield tmp
        os.chmod(tmp, _mode_for(target))  # mkstemp makes 0600: give the file the mode the user expects
        put_in_place(tmp, target)
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        raise cannot_write(target, exc) from None
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    finally:
        done_with(tmp)


def distinct_files(outputs: Mapping[str, str | Path | None], inputs: Mapping[str, str | Path | None]) -> None:
    """Refuse a run whose outputs name one file twice, or name one of its inputs (``-o roster.csv``, ``--errors X -o
    X``, ``--ics X -o X``): the second write would destroy the first, or the input. Keys name each path for the
    message (the command line gives its flags)."""

    def key(path: str | Path) -> tuple[int, int] | str:
        p = Path(path)
        try:
            st = p.resolve().stat()
            return (st.st_dev, st.st_ino)
        except OSError:
            return os.path.realpath(p)

    seen: dict[tuple[int, int] | str, str] = {}
    for name, path in inputs.items():
        if path is not None and str(path) != "-":
            seen.setdefault(key(path), name)
    for name, path in outputs.items():
        if path is None or str(path) == "-":
            continue
        k = key(path)
        if k in seen:
            raise RegimenError(
                f"{name} {path} is the same file as {seen[k]}: writing it would destroy that; choose another name"
            )
        seen[k] = name


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
        try:
            sys.stdout.write(text)
            sys.stdout.flush()
        except BrokenPipeError:
            raise  # a reader that stopped early ('| head'): the command line exits quietly
        except OSError as exc:  # standard output on a full disk (> /dev/full), a closed terminal
            raise RegimenError(f"cannot write to standard output: {(exc.strerror or str(exc)).lower()}") from None
    else:
        write_atomic(path, text)
