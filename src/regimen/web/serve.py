"""The app as ``regimen serve`` starts it in each worker process (its options passed in the environment)."""

from __future__ import annotations

import gc
import os
from typing import Any

from regimen.lazy import freeze_start_up
from regimen.web.app import LOOPBACK, create_app

#: The address ``regimen serve`` was told to listen on, the course database, the rate limit and the CSRF key (one
#: for all the workers of a server, made afresh by each start), the names a reverse proxy forwards (comma-separated).
HOST, DB, RATE, SECRET = "REGIMEN_SERVE_HOST", "REGIMEN_SERVE_DB", "REGIMEN_SERVE_RATE", "REGIMEN_SERVE_SECRET"
NAMES = "REGIMEN_SERVE_NAMES"


def hosts_for(host: str) -> frozenset[str] | None:
    """The Host names a server listening on ``host`` answers to: this machine's names, and the address itself; any
    name for a server listening on every address (it was told to be reachable by whatever name reaches it)."""
    if host in ("0.0.0.0", "::", ""):
        return None
    name = host.lower()
    return LOOPBACK | {name, *([f"[{name}]"] if ":" in name else [])}  # an IPv6 address is [::1] in a Host


def reachable_from_elsewhere(host: str, names: list[str]) -> bool:
    """Whether other machines may reach a server on ``host`` (any address but this machine's own), or through a
    reverse proxy forwarding other ``names``: then nobody may use it without signing in."""
    return host.lower() not in LOOPBACK or any(n.lower() not in LOOPBACK for n in names)


def app_from_environment() -> Any:
    """The app of one worker process, made from the options ``regimen serve`` put in the environment.

    What it loaded for the worker's life (Starlette, Jinja2, pint, the plan engine, the app) is then frozen out of
    the cyclic garbage collector's full scans, as the console script freezes its start-up (regimen.__main__). Those
    scans took 1.2 s of each of two workers' time in the API benchmark's run (49 of them, up to 33 ms each, each a
    pause of every request in flight); frozen, 34 to 43 ms in all. What requests make is collected as before."""
    secret = os.environ.get(SECRET)
    host = os.environ.get(HOST, "127.0.0.1")
    names = [n for n in os.environ.get(NAMES, "").split(",") if n]
    hosts = hosts_for(host)
    app = create_app(
        os.environ.get(DB),
        rate=float(os.environ.get(RATE, "300")),
        hosts=None if hosts is None else hosts | {n.lower() for n in names},
        secret=bytes.fromhex(secret) if secret else None,
        require_sign_in=reachable_from_elsewhere(host, names),
    )
    gc.collect()  # no garbage among what is frozen
    freeze_start_up()  # as the console script does (regimen.lazy): the same freeze, and the process says it froze
    return app


__all__ = ["app_from_environment", "hosts_for", "reachable_from_elsewhere"]
