"""The course page at the chair (issue 28): what the command line's ``regimen course`` records, as forms.

A dose given (time, dose, lot), an omission, a delay, a new weight, a dose change, a cycle's gate check (issue 27:
each gate against its threshold and the proposal, accepted or overridden with a reason), a pre-treatment
requirement, and a pharmacist's verification of a cycle. Each form is read into the same values the command line
gives :class:`~regimen.engine.courses.CourseBook` and goes through the same call, so it meets the same refusals; the
web layer only turns text into the types the command line's options give (a day is a whole number). Each is a POST
checked against cross-site forgery (web.security.Csrf) and each kind against the one permission table
(store.roles.CHANGE_ACTIONS); the change is recorded as the signed-in user, never a typed name.
"""

from __future__ import annotations

import datetime as dt
import getpass
import os
from pathlib import Path
from typing import Any
from urllib.parse import quote

from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from regimen.engine.courses import CourseStart, CourseState, history_line, parse_cycle
from regimen.engine.courses.describe import cycle_arg, status_of
from regimen.engine.courses.events import DEFAULT_REASONS, MEASURE_KEYS
from regimen.engine.courses.gatecheck import course_check, decision_entries
from regimen.engine.orders import orders_from_texts
from regimen.engine.preparations import grouped
from regimen.engine.verify import verify
from regimen.errors import RegimenError, option, render
from regimen.export.course import course_parts
from regimen.export.verification import check_record
from regimen.protocol.catalog import find, load
from regimen.quantities.labs import TESTS, describe
from regimen.store.roles import CHANGE_ACTIONS
from regimen.web.api import catalog
from regimen.web.pages import Pages
from regimen.web.security import Account, permit

#: Each form's fields, as the command's options name them (``confirm``: its check box).
FIELDS: dict[str, tuple[str, ...]] = {
    "given": ("cycle", "day", "drug", "dose", "at", "lot", "dose_number", "confirm"),
    "omit": ("cycle", "day", "drug", "dose_number", "confirm"),
    "delay": ("cycle", "by", "confirm"),
    "measure": ("cycle", *MEASURE_KEYS, "confirm"),
    "dose": ("cycle", "drug", "level", "dose_percent", "reduce_by", "confirm"),
    "requirement": ("id", "status", "result"),
    "verify": ("cycle", "seen"),
}
WHOLE = ("day", "dose_number")
#: The patient values the start form takes (as 'regimen course start' records them).
START_PATIENT = ("weight", "height", "bsa", "age", "sex", "scr", "gfr")  # the command line's IntRange(min=1) options
#: A gate check's fields: the tests a regimen may gate on, and the values a CrCl is computed from.
CHECK_FIELDS = (*TESTS, "scr", "age", "weight", "sex")
#: The form's words for an input a refusal names ('‘Dose given’ ...').
LABELS = {
    **{k: k.upper() if len(k) <= 3 else k.capitalize() for k in MEASURE_KEYS},
    "cycle": "Cycle",
    "day": "Day",
    "drug": "Drug",
    "dose": "Dose given",
    "at": "Given at",
    "lot": "Lot",
    "dose_number": "Dose of the day",
    "by": "Delay by",
    "level": "Dose level",
    "dose_percent": "Give % of the dose",
    "reduce_by": "Reduce by %",
    "confirm": "Confirm as typed",
    "reason": "Reason",
    "id": "Requirement",
    "status": "Status",
    "override": "Override with",
    "regimen": "Regimen",
    "start": "Day 1",
    "course": "Course id",
    "age": "Age",
    "sex": "Sex",
}


def _words(message: str) -> str:
    return render(message, lambda n: f"‘{LABELS.get(n, n)}’")


def _who(request: Request) -> tuple[str, bool]:
    """The signed-in user, and whether the server has users (a team: a dose is given only once verified); without
    sign-in (one person on their own machine), the login name the server runs under, as the command line's."""
    user = request.user
    if isinstance(user, Account):
        return user.user.name, True
    try:
        return getpass.getuser(), False
    except (KeyError, OSError):
        return os.environ.get("USER") or "unknown", False


def _values(kind: str, form: dict[str, str]) -> dict[str, Any]:
    """The form's text as the command's options give it: empty is not given, a day is a whole number."""
    out: dict[str, Any] = {}
    for name in FIELDS[kind]:
        text = form.get(name, "").strip()
        if name == "confirm":
            out[name] = bool(text)
        elif name in WHOLE and text:
            if not text.isdigit() or int(text) < 1:
                raise RegimenError(f"{option(name)} {text!r}: a whole number from 1")
            out[name] = int(text)
        else:
            out[name] = text or None
    return out


class Chair:
    """The course page and its forms, over the course database of ``pages``."""

    def __init__(self, pages: Pages) -> None:
        self.pages = pages

    # ---- the page ---------------------------------------------------------------------------------------

    async def course(self, request: Request) -> Response:
        recorded = request.query_params.get("recorded", "")
        return await self._page(request, 200, recorded=int(recorded) if recorded.isdigit() else None)

    async def _page(self, request: Request, code: int, **extra: Any) -> Response:
        store = self.pages.need_store()
        course_id = request.path_params["course_id"]
        try:
            shown = await run_in_threadpool(_parts, store, course_id, extra.pop("recorded", None))
        except RegimenError as exc:
            raise HTTPException(404, _words(exc.message)) from None
        may = {action: action in request.auth.scopes for action in set(CHANGE_ACTIONS.values())}
        return self.pages.render(
            request, "course.html", code, course_id=course_id, may=may, labels=LABELS, **shown, **extra
        )

    # ---- starting a course (the prescriber) ---------------------------------------------------------------

    async def start(self, request: Request) -> Response:
        """POST /courses/start: 'regimen course start' for a bundled regimen and the patient's values (the clinical
        options of the command line are the command line's); recorded as the signed-in prescriber."""
        permit(request, "course.start")
        form = await self.pages.form_values(request)
        store = self.pages.need_store()
        who, _ = _who(request)

        def started() -> str:
            ref = form.get("regimen", "").strip()
            if ref not in {r.id for r in catalog()}:  # an id of the catalogue, never a path on the server
                raise RegimenError(f"{option('regimen')} {ref!r}: choose one of the regimens listed")
            path = find(ref)
            load(ref)  # the same checks as 'regimen course start'
            try:
                day1 = dt.date.fromisoformat(form.get("start", "").strip())
            except ValueError:
                raise RegimenError(f"{option('start')}: the date of day 1 as YYYY-MM-DD") from None
            record = CourseStart.parse(
                course_id=form.get("course", "").strip(),
                regimen_text=Path(path).read_text(encoding="utf-8"),
                regimen_file=str(path),
                start=day1,
                today=dt.date.today(),
                patient={k: form.get(k, "").strip() or None for k in START_PATIENT},
                options={},
                confirm=bool(form.get("confirm")),
            )
            store.start(record, who=who, why=form.get("reason", "").strip() or DEFAULT_REASONS["start"])
            return record.course_id

        try:
            course_id = await run_in_threadpool(started)
        except RegimenError as exc:
            listed = await run_in_threadpool(store.courses)
            return self.pages.render(
                request, "courses.html", 400, courses=listed, regimens=catalog(), error=_words(exc.message), values=form
            )
        return RedirectResponse(f"/courses/{quote(course_id)}", status_code=303)

    # ---- recording ----------------------------------------------------------------------------------------

    async def record(self, request: Request) -> Response:
        """POST /courses/{id}/record/{kind}: one change, as 'regimen course KIND' records it."""
        kind = request.path_params["kind"]
        if kind not in FIELDS and kind != "check":
            raise HTTPException(404, f"no form {kind!r}")
        permit(request, CHANGE_ACTIONS[kind])
        form = await self.pages.form_values(request)
        store = self.pages.need_store()
        course_id = request.path_params["course_id"]
        who, team = _who(request)
        reason = form.get("reason", "").strip() or DEFAULT_REASONS.get(kind, "")

        def recorded() -> int:
            if kind == "check":
                state = store.view(course_id)
                found = course_check(state, form.get("cycle", ""), _tests(form), **_crcl_values(form))
                override = form.get("override", "").strip() or None
                entries = decision_entries(
                    state, found, accept=form.get("decision") == "accept", override=override, reason=reason or None
                )
                _, made = store.changes(course_id, entries, who=who, verified_only=team)
                return int(made[-1].seq)
            values = _values(kind, form)
            if kind == "requirement":  # a waiver's reason is its detail, as 'regimen course requirement' keeps it
                values["detail"] = values.pop("result") if values["status"] != "waived" else form.get("reason")
            _, change = store.change(course_id, kind, who=who, why=reason, verified_only=team, **values)
            return int(change.seq)

        try:
            seq = await run_in_threadpool(recorded)
        except RegimenError as exc:
            return await self._page(request, 400, error=(kind, _words(exc.message)), values=form)
        return RedirectResponse(f"/courses/{quote(course_id)}?recorded={seq}", status_code=303)

    async def check(self, request: Request) -> Response:
        """POST /courses/{id}/check: a cycle's values against the gates, and the proposal; nothing recorded."""
        form = await self.pages.form_values(request)
        store = self.pages.need_store()
        course_id = request.path_params["course_id"]

        def checked() -> Any:
            return course_check(store.view(course_id), form.get("cycle", ""), _tests(form), **_crcl_values(form))

        try:
            found = await run_in_threadpool(checked)
        except RegimenError as exc:
            return await self._page(request, 400, error=("check", _words(exc.message)), values=form)
        return await self._page(request, 200, check=found, values=form)

    async def orders(self, request: Request) -> Response:
        """POST /courses/{id}/orders: a prescriber's orders (one a line, as 'regimen verify --order') checked against
        the cycle's doses as the course now plans them, the way 'regimen verify' checks them; nothing recorded."""
        form = await self.pages.form_values(request)
        store = self.pages.need_store()
        course_id = request.path_params["course_id"]

        def checked() -> Any:
            state: CourseState = store.view(course_id)
            cycle = form.get("cycle", "").strip()
            key = parse_cycle(cycle, state.regimen)
            plan = next((p for p in state.plans if any((a.phase, a.cycle) == key for a in p.administrations)), None)
            if plan is None:
                raise RegimenError(f"{option('cycle')} {cycle}: the course has no such cycle")
            lines = [line for line in form.get("orders", "").splitlines() if line.strip()]
            if not lines or len(lines) > 50:
                raise RegimenError("orders: one order a line (e.g. oxaliplatin=150mg), at most 50")
            found = verify(plan, orders_from_texts(lines), cycle=key[1])
            records = [check_record(plan, c) for c in found.checks]
            rows = [  # a problem naming an input names it as the form does ('give ‘Sex’'), as every refusal here
                {
                    **r,
                    "problems": [_words(p) for p in r["problems"]],
                    "notes": [_words(n) for n in r["notes"]],
                    "typed": line,
                }
                for r, line in zip(records, lines, strict=True)
            ]
            return {"summary": found.summary, "ok": found.ok, "rows": rows}

        try:
            result = await run_in_threadpool(checked)
        except RegimenError as exc:
            return await self._page(request, 400, error=("orders", _words(exc.message)), values=form)
        return await self._page(request, 200, orders=result, values=form)


def _tests(form: dict[str, str]) -> dict[str, str | None]:
    return {t: (form.get(t) or "").strip() or None for t in TESTS}


def _crcl_values(form: dict[str, str]) -> dict[str, str | None]:
    return {k: (form.get(k) or "").strip() or None for k in ("scr", "age", "weight", "sex")}


def _parts(store: Any, course_id: str, recorded: int | None) -> dict[str, Any]:
    """Everything the course page shows, worked out away from the event loop."""
    view: CourseState = store.view(course_id)
    record = store.record(course_id)
    started = (dt.datetime.fromisoformat(record["started_at"]), record["started_by"], record["reason"])
    said = next((history_line(view, c) for c in view.changes if c.seq == recorded), None)
    planned = {(cr.row.phase, cr.row.cycle) for cr in view.rows if cr.status == "planned"}
    drugs = dict.fromkeys(c.id for c in view.regimen.components())
    verify_rows = [
        (cycle_arg(view.regimen, (p.first.phase, p.first.cycle)), p.first.day, p.component, p.dose_text, status_of(crs))
        for p, crs in grouped([cr for cr in view.rows if cr.status == "planned"], lambda cr: cr.row)
    ]
    return {
        "parts": course_parts(view, started),
        "recorded": said,
        "cycles": [cycle_arg(view.regimen, k) for k in view.cycles],
        "open_cycles": [cycle_arg(view.regimen, k) for k in view.cycles if k in planned],
        "drugs": list(drugs),
        "requirements": view.requirements,
        "revision": len(view.changes),
        "to_verify": verify_rows,
        "tests": {name: describe(name) for name in TESTS},
        "check_fields": CHECK_FIELDS,
    }


__all__ = ["CHECK_FIELDS", "FIELDS", "LABELS", "START_PATIENT", "Chair"]
