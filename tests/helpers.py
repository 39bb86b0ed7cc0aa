"""Small helpers shared by the expansion tests."""

from __future__ import annotations

import datetime as dt
import functools
import re
import socket
import subprocess
from collections.abc import Callable, Iterable
from fractions import Fraction
from pathlib import Path
from typing import Any

from hypothesis import settings
from hypothesis import strategies as st

import regimen
from regimen.engine.plan import Plan
from regimen.model import Administration

#: The course tests' regimen: capox's two drugs without the protocol the bundled file now carries (tests/data).
CAPOX_FIXTURE = str(Path(__file__).parent / "data" / "capox-course-fixture.toml")


def examples(n: int) -> int:
    """A property test's ``max_examples``: ``n`` in the whole suite and CI, a tenth of it (at least 5) in the edit
    loop, whose hypothesis profile ("fast", tests/conftest.py) draws 10 examples where the others draw hypothesis's
    100. Read when the test module is imported, after the profile is chosen."""
    return max(5, n * settings.default.max_examples // 100) if settings.default.max_examples < 100 else n


@functools.cache
def schema_validator() -> Any:
    """The validator of ``regimen schema``'s JSON Schema, made once a process (on first use: jsonschema is imported
    by the tests that check the schema only). ``jsonschema.validate`` checks the schema itself against the
    meta-schema on every call, about 60 ms against 2 ms to validate a file; tests/test_schema.py checks it once."""
    import jsonschema

    from regimen.protocol.schema import SCHEMA

    return jsonschema.Draft202012Validator(SCHEMA)


@functools.cache
def http() -> Any:
    """One HTTP client (an ``httpx.Client``) a test process, for the tests that talk to a server over HTTP.
    ``httpx.get`` and ``httpx.post`` make a client of their own for each call, and with it a TLS context that loads
    the system's certificates: 27 ms of CPU a call, 3.4 s of a run's CPU over 127 calls, for requests on loopback.
    The client keeps its connections alive, as a browser does, and keeps no cookie: what one test's server sets (a
    form's token) never reaches another test's request (every server here is on 127.0.0.1, and cookies ignore the
    port)."""
    from http.cookiejar import CookieJar, DefaultCookiePolicy

    import httpx

    return httpx.Client(timeout=30, cookies=CookieJar(policy=DefaultCookiePolicy(allowed_domains=[])))


def plan_for(
    regimen_id: str, start: dt.date | None = None, cycles: Any = None, cycle_length: int | None = None, **patient: Any
) -> Plan:
    return regimen.expand(
        regimen.load(regimen_id), regimen.make_patient(**patient), start=start, cycles=cycles, cycle_length=cycle_length
    )


def rows(plan: Plan, drug: str, cycle: int | None = None, phase: str | None = None) -> list[Administration]:
    return [
        r
        for r in plan.administrations
        if r.drug == drug and (cycle is None or r.cycle == cycle) and (phase is None or r.phase == phase)
    ]


def days(plan: Plan, drug: str, cycle: int = 1, phase: str | None = None) -> list[int]:
    return [r.day for r in rows(plan, drug, cycle, phase)]


def doses(plan: Plan, drug: str) -> set[Fraction]:
    return {r.dose for r in rows(plan, drug)}


#: Creatinines as a roster or a user types them: 0.4 to 6.0 mg/dL, to 0.1 (a value under the usual range among them).
CREATININES = st.integers(4, 60).map(lambda t: f"{t // 10}.{t % 10}")


def span_holds(condition: str, name: str, value: Fraction) -> bool:
    """Whether a row's condition on ``name`` ('age ≤ 79 years or age ≥ 122 years', '46.3 ≤ weight ≤ 77.1 kg') holds
    at ``value``."""
    for part in condition.split(" or "):
        numbers = [Fraction(n) for n in re.findall(r"\d+(?:\.\d+)?", part)]
        if part.startswith(f"{name} ≤") and value <= numbers[0]:
            return True
        if part.startswith(f"{name} ≥") and value >= numbers[0]:
            return True
        if not part.startswith(name) and numbers[0] <= value <= numbers[1]:
            return True
    return False


def check_each_span(
    plan: Plan, name: str, values: Iterable[Fraction], decided: Callable[[Fraction], Plan], errors: type[Exception]
) -> None:
    """Each span's rows of ``plan`` (unmarked, and marked with a condition on ``name`` that holds) are the doses of
    the plan ``decided`` gives with the value given, at each of ``values`` (a span's ends); a value no patient can
    have (``errors``: a clearance over 300 mL/min there) is skipped."""

    def key(r: Administration) -> tuple[object, ...]:
        return (r.cycle, r.day, r.component, r.dose_number, r.dose)

    for value in values:
        mine = sorted(key(r) for r in plan.administrations if not r.condition or span_holds(r.condition, name, value))
        try:
            other = decided(value)
        except errors:
            continue
        assert mine == sorted(key(r) for r in other.administrations), value


def shown_and_refused_under_strict(args: list[str], shown: str, settle: str) -> None:
    """The command ``args`` plans with ``shown`` in its output (exit 0), and under --strict refuses in one line naming
    what settles it (``settle``): a plan whose doses depend on a value not given."""
    from click.testing import CliRunner

    from regimen.cli import cli

    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 0, result.output
    assert shown in result.stdout
    refused = CliRunner().invoke(cli, [*args, "--strict"])
    assert refused.exit_code == 1 and refused.stderr.count("\n") == 1
    assert settle in refused.stderr


def free_port() -> int:
    """A TCP port free on 127.0.0.1 now (for a server a test starts)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def stop(proc: subprocess.Popen[Any], timeout: float = 20) -> None:
    """End a process a test started: SIGTERM, then SIGKILL if it is still running after ``timeout`` seconds."""
    proc.terminate()
    try:
        proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:  # pragma: no cover
        proc.kill()
        proc.wait(timeout=timeout)
