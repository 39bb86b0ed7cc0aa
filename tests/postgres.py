"""A real PostgreSQL server for the tests: a new cluster in a temporary folder, on 127.0.0.1 and a free port.

Debian's ``postgresql`` package (installed by ``.ci/run``) gives the binaries; without it the tests that need the
server skip, naming the install (tests/system.py), or fail under ``REGIMEN_REQUIRE_SYSTEM=1``, as in CI. PostgreSQL
refuses to run as root, so as root the cluster belongs to the ``postgres`` user and its commands run through
``runuser``.

``pg_ctl`` starts the server and stops it in *immediate* mode: the cluster is thrown away, so it skips the shutdown
checkpoint (which, after the tests' hundred-odd new databases, writes and syncs hundreds of megabytes: over a minute
measured on a loaded machine in *fast* mode) and ends the sessions still open. Before, the tests sent SIGTERM to
``runuser``: PostgreSQL's *smart* mode, which waits for every client to leave, while the test process still held pooled
connections; a cluster then waited out the 20 s allowed before ``runuser`` was killed (22 s measured for
test_courses' cluster; 71 s for the three clusters the suite started).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from tests.helpers import free_port
from tests.system import postgres_bindir


@contextmanager
def postgres_server() -> Iterator[str]:
    """Start a throwaway cluster; yield its URL (database ``regimen``, user ``postgres``, trust on loopback)."""
    bindir = postgres_bindir()
    root = Path(tempfile.mkdtemp(prefix="regimen-pg-", dir=_in_memory()))
    as_root = os.geteuid() == 0
    prefix = ["runuser", "-u", "postgres", "--"] if as_root else []
    data, sockets, log = root / "data", root / "sock", root / "log"
    sockets.mkdir()
    if as_root:
        shutil.chown(root, "postgres")
        shutil.chown(sockets, "postgres")
    os.chmod(root, 0o700)
    subprocess.run(
        [*prefix, str(bindir / "initdb"), "-D", str(data), "-U", "postgres", "--auth=trust", "-E", "UTF8"],
        check=True,
        capture_output=True,
    )
    port = free_port()
    options = f"-p {port} -h 127.0.0.1 -k {sockets} -c fsync=on -c max_connections=50"
    pg_ctl = [*prefix, str(bindir / "pg_ctl"), "-D", str(data)]
    try:
        # -w: return once the server accepts connections (pg_ctl's own bounded wait, -t seconds)
        started = subprocess.run(
            [*pg_ctl, "-o", options, "-l", str(log), "-w", "-t", "60", "start"], capture_output=True, text=True
        )
        if started.returncode != 0:
            raise RuntimeError(f"postgres did not start: {started.stdout}{started.stderr}{_tail(log)}")
        subprocess.run(
            [str(bindir / "createdb"), "-h", "127.0.0.1", "-p", str(port), "-U", "postgres", "regimen"],
            check=True,
            capture_output=True,
        )
        yield f"postgresql://postgres@127.0.0.1:{port}/regimen"
    finally:
        subprocess.run([*pg_ctl, "-m", "immediate", "-w", "-t", "60", "stop"], capture_output=True)
        shutil.rmtree(root, ignore_errors=True)


def _in_memory() -> str | None:
    """/dev/shm when it has room for the cluster and the tests' databases (about 8 MB each), else the temp folder.

    In memory, creating the databases and deleting the cluster at the end take a fraction of the time they take on a
    busy disk (33 s measured to delete the cluster of test_courses' 39 PostgreSQL tests). The cluster is thrown away,
    so nothing is lost. Containers often give /dev/shm only 64 MB: then the disk it is.
    """
    shm = Path("/dev/shm")
    if shm.is_dir() and os.access(shm, os.W_OK) and shutil.disk_usage(shm).free >= 2 * 1024**3:
        return str(shm)
    return None


def _tail(log: Path) -> str:
    return log.read_text(errors="replace")[-2000:] if log.exists() else ""


__all__ = ["postgres_server"]
