"""The HTTP API: the command line's computations as JSON (plans, calendars, cohorts, order checks), described at
/openapi.json. Also the budgets every request keeps to (rows expanded, patients of a roster), which the pages
share, and the regimen catalogue both read."""

from __future__ import annotations

import json
import time
from typing import Any

import orjson
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from regimen.engine.orders import orders_from_json
from regimen.engine.plan import Plan
from regimen.engine.verify import parse_tolerance, verify
from regimen.errors import RegimenError, option
from regimen.export.ics import plan_to_ics
from regimen.export.records import plan_record
from regimen.export.verification import verification_json
from regimen.protocol.catalog import list_regimens
from regimen.protocol.describe import describe
from regimen.web import inputs
from regimen.web.inputs import api_message, read, regimen_of
from regimen.web.openapi import openapi

MAX_ROSTER = 500  # patients of an API cohort
MAX_ROWS = 20_000  # administrations one API request may expand (a plan, or all the plans of a roster)
MAX_PAGE_ROWS = 5_000  # administrations of a plan page or a download
MAX_CHART_ROWS = 1_500  # administrations a timeline is drawn for (beyond, it is a smear, and seconds of work)
MAX_HANDOUT_MONTHS = 24  # pages of a handout

# ---- budgets ------------------------------------------------------------------------------------------------


def within(plan: Plan, most: int) -> Plan:
    n = len(plan.administrations)
    if n > most:
        raise RegimenError(
            f"this plan has {n:,} administrations; the web app expands at most {most:,} in one request: give fewer "
            f"{option('cycles')}, or use 'regimen expand' on the command line"
        )
    return plan


_CATALOG: tuple[float, list[Any]] | None = None


def catalog() -> list[Any]:
    """The regimens, read at most once a minute (every regimen file parsed is several milliseconds)."""
    global _CATALOG
    now = time.monotonic()
    if _CATALOG is None or now - _CATALOG[0] > 60:
        regimens, _ = list_regimens()
        _CATALOG = (now, sorted(regimens, key=lambda r: r.id))
    return _CATALOG[1]


def matches(regimen: Any, query: str) -> bool:
    if not query:
        return True
    text = " ".join([regimen.id, regimen.name, regimen.indication or "", *(c.drug for c in regimen.components())])
    return all(word in text.lower() for word in query.lower().split())


# ---- the API ----------------------------------------------------------------------------------------------


class _Twice(ValueError):
    pass


def _object(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in pairs:
        if key in out:
            raise _Twice(key)
        out[key] = value
    return out


async def json_body(request: Request) -> dict[str, Any]:
    if request.headers.get("content-type", "").split(";")[0].strip().lower() != "application/json":
        raise HTTPException(415, "send the request as JSON (Content-Type: application/json)")
    raw = await request.body()
    try:
        body = json.loads(raw, object_pairs_hook=_object)
    except _Twice as twice:
        raise HTTPException(400, f"the body gives the field {twice.args[0]!r} twice: give each field once") from None
    except (ValueError, RecursionError):  # RecursionError: nested deeper than the parser goes
        raise HTTPException(400, "the body is not valid JSON (or is nested too deep)") from None
    if not isinstance(body, dict):
        raise HTTPException(400, 'the body must be a JSON object of fields, e.g. {"regimen": "cenersen-arm3"}')
    return body


async def api_regimens(request: Request) -> JSONResponse:
    query = request.query_params.get("q", "").strip()[:100]
    return JSONResponse(
        [
            {"id": r.id, "name": r.name, "indication": r.indication, "drugs": sorted({c.drug for c in r.components()})}
            for r in catalog()
            if matches(r, query)
        ]
    )


async def api_regimen(request: Request) -> JSONResponse:
    try:
        regimen = regimen_of(request.path_params["regimen_id"])
    except RegimenError as exc:
        raise HTTPException(404, api_message(exc)) from None
    return JSONResponse(
        {
            "id": regimen.id,
            "name": regimen.name,
            "version": regimen.version,
            "status": regimen.status,
            "indication": regimen.indication,
            "sources": [{"citation": s.citation, "registry": s.registry, "url": s.url} for s in regimen.sources],
            "description": describe(regimen),
        }
    )


def _plan_json(body: dict[str, Any]) -> bytes:
    return orjson.dumps(plan_record(within(read(body, inputs.PLAN_FIELDS).plan, MAX_ROWS), paths=False))


async def api_plan(request: Request) -> Response:
    """A plan of the regimen's own cycles is worked out in the event loop: 1-3 ms, which a hop to a worker thread
    (and the threads taking the GIL in turn) made 1.3 times as long, with the 99th percentile at 55-60 ms against
    38-42 ms here (benchmarks/web.py, mFOLFOX6, 20 clients on 2 cores). A body naming its own ``cycles`` may ask for
    up to 500 of them (0.24 s for CAPOX), so it goes to the thread pool, where the loop keeps answering others."""
    body = await json_body(request)
    if "cycles" in body:
        return Response(await run_in_threadpool(_plan_json, body), media_type="application/json")
    return Response(_plan_json(body), media_type="application/json")


def _calendar(body: dict[str, Any]) -> bytes:
    asked = read(body, inputs.CALENDAR_FIELDS)
    return plan_to_ics(within(asked.plan, MAX_PAGE_ROWS), label=asked.label, remind=asked.remind)


async def api_calendar(request: Request) -> Response:
    body = await json_body(request)
    return Response(await run_in_threadpool(_calendar, body), media_type="text/calendar; charset=utf-8")


def _cohort(body: dict[str, Any]) -> bytes:
    patients = body.get("patients")
    if not isinstance(patients, list) or not patients or len(patients) > MAX_ROSTER:
        raise HTTPException(400, f"patients: a list of 1 to {MAX_ROSTER} objects of patient values")
    common = {k: v for k, v in body.items() if k != "patients"}
    checked = inputs.clean(common)  # the common fields are a plan's (checked once, not once per patient)
    if "regimen" not in checked:
        raise RegimenError(f"{option('regimen')}: choose a regimen (its id, e.g. cenersen-arm3) for the roster")
    regimen_of(checked["regimen"])
    plans: list[dict[str, Any]] = []
    rejected: list[dict[str, Any]] = []
    rows = 0
    for n, patient in enumerate(patients, start=1):
        if not isinstance(patient, dict):
            raise HTTPException(400, f"patient {n}: each patient is an object of values")
        extra = sorted(set(patient) - inputs.PATIENT_FIELDS - {"patient_id"})
        if extra:
            fields = ", ".join(["patient_id", *sorted(inputs.PATIENT_FIELDS)])
            raise HTTPException(400, f"patient {n}: unknown field {extra[0]!r}: a patient gives {fields}")
        pid = patient.get("patient_id", n)
        if isinstance(pid, bool) or not isinstance(pid, str | int) or len(str(pid)) > 100:
            raise HTTPException(400, f"patient {n}: patient_id is text or a whole number, at most 100 characters")
        pid = str(pid)
        values = {k: v for k, v in patient.items() if k != "patient_id"}
        try:
            plan = read({**common, **values}).plan
        except RegimenError as exc:
            rejected.append({"patient": n, "patient_id": pid, "error": api_message(exc)})
            continue
        rows += len(plan.administrations)
        if rows > MAX_ROWS:
            raise HTTPException(
                413,
                f"the roster's plans have more than {MAX_ROWS:,} administrations together: send fewer patients a "
                "request, or use 'regimen cohort' on the command line",
            )
        plans.append({"patient_id": pid, "plan": plan_record(plan, paths=False)})
    return orjson.dumps({"plans": plans, "rejected": rejected})


async def api_cohort(request: Request) -> Response:
    body = await json_body(request)
    return Response(await run_in_threadpool(_cohort, body), media_type="application/json")


def _verify(body: dict[str, Any]) -> str:
    """'regimen verify' over HTTP: the plan's fields, and orders (the command line's spellings or objects of the
    CSV columns), a FHIR bundle, tolerance and cycle; the answer is 'regimen verify --format json'."""
    asked = {k: body.pop(k) for k in ("orders", "bundle", "tolerance", "cycle") if k in body}
    orders, notes = orders_from_json(asked.get("orders"), asked.get("bundle"))
    if not orders:
        raise RegimenError(f"no order to check: give {option('orders')} or a FHIR {option('bundle')}")
    tolerance = asked.get("tolerance") or []
    tolerance = [tolerance] if isinstance(tolerance, str) else tolerance
    if not isinstance(tolerance, list) or len(tolerance) > 20 or not all(isinstance(t, str) for t in tolerance):
        raise RegimenError(f"{option('tolerance')}: '5%', 'carboplatin=10%', or a list of them")
    cycle = asked.get("cycle", 1)
    if isinstance(cycle, bool) or not isinstance(cycle, int) or not 1 <= cycle <= 500:
        raise RegimenError(f"{option('cycle')}: the cycle of the orders that give none, a whole number from 1")
    plan = within(read(body).plan, MAX_ROWS)
    return verification_json(verify(plan, orders, parse_tolerance(tolerance), cycle=cycle, notes=notes))


async def api_verify(request: Request) -> Response:
    body = await json_body(request)
    return Response(await run_in_threadpool(_verify, body), media_type="application/json")


async def api_openapi(request: Request) -> JSONResponse:
    return JSONResponse(openapi([r.id for r in catalog()]))


async def health(request: Request) -> JSONResponse:
    return JSONResponse({"status": "ok"})


__all__ = [
    "MAX_CHART_ROWS",
    "MAX_HANDOUT_MONTHS",
    "MAX_PAGE_ROWS",
    "MAX_ROWS",
    "api_calendar",
    "api_cohort",
    "api_openapi",
    "api_plan",
    "api_regimen",
    "api_regimens",
    "api_verify",
    "catalog",
    "health",
    "json_body",
    "matches",
    "within",
]
