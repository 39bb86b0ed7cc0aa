"""A course's records: the start, and the envelope of every change (who, when, why, what). No I/O here.

A course is its start (the regimen file's exact text, the patient values and options as typed, the date of day 1)
and an append-only list of changes. What a change says is one of the typed events of
:mod:`regimen.engine.courses.events`; this module holds what every record shares and how it is written down.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from regimen.clinical.choices import build_options
from regimen.clinical.dose_change import refuse_old_reduce
from regimen.engine.courses.errors import CourseError
from regimen.errors import option
from regimen.model import Regimen
from regimen.protocol.loader import load_text
from regimen.quantities.clock import parse_time, tzinfo_for, zone

#: Patient values a course records, as ``regimen expand`` takes them.
PATIENT_KEYS = ("weight", "bsa", "age", "dob", "height", "sex", "scr", "gfr")
#: Clinical options a course records (values, not files: a file could change under a running course).
OPTION_KEYS = (
    "bsa_formula",
    "bsa_cap",
    "dosing_weight",
    "adjusted_factor",
    "gfr_method",
    "gfr_cap",
    "dose_level",
    "dose_percent",
    "reduce_by",
    "confirm",
    "round_to",
    "prior",
    "anthracycline_table",
    "anthracycline_limit",
)
FILE_OPTIONS = ("formulary", "vial_round", "band", "round_threshold")
#: A course whose day 1 is more than this many days before today is refused unless confirmed (a year typed wrong).
PAST_START_DAYS = 30
_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")
_CYCLE = re.compile(r"^\s*(?:([A-Za-z][A-Za-z0-9_-]*)\s*:\s*)?(\d{1,4})\s*$")


def check_course_id(text: str) -> str:
    if not _ID.match(text or ""):
        raise CourseError(
            f"course id {text!r}: use 1 to 64 letters, digits, '.', '_' or '-', starting with a letter or digit "
            f"(e.g. {option('course')} bed4-2026-12)"
        )
    return text


def text_hash(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


@dataclass(frozen=True, slots=True)
class CourseStart:
    """What ``regimen course start`` records."""

    course_id: str
    regimen_text: str  # the regimen file's content when the course started
    regimen_file: str  # where it was read from (for the reader; the text is what counts)
    start: dt.date
    patient: Mapping[str, str] = field(default_factory=dict)  # PATIENT_KEYS -> value as typed
    options: Mapping[str, Any] = field(default_factory=dict)  # OPTION_KEYS -> value(s) as typed
    time: str | None = None  # HH:MM of the first drug of each treatment day
    tz: str | None = None
    cycles: int | None = None  # cycles to plan, when the regimen leaves the count open
    cycle_length: int | None = None
    confirmed: bool = False  # a day 1 long past, recorded as typed

    @property
    def regimen_sha256(self) -> str:
        return text_hash(self.regimen_text)

    @property
    def regimen(self) -> Regimen:
        """The regimen the course recorded (parsed once per text and file by :func:`load_text`: the records of a
        course hold the same text for good)."""
        return load_text(self.regimen_text, self.regimen_file)

    def to_dict(self) -> dict[str, Any]:
        out = {
            "course_id": self.course_id,
            "regimen_text": self.regimen_text,
            "regimen_file": self.regimen_file,
            "regimen_sha256": self.regimen_sha256,
            "start": self.start.isoformat(),
            "patient": dict(self.patient),
            "options": {k: list(v) if isinstance(v, tuple | list) else v for k, v in self.options.items()},
            "time": self.time,
            "tz": self.tz,
            "cycles": self.cycles,
            "cycle_length": self.cycle_length,
        }
        if self.confirmed:
            out["confirmed"] = True
        return out

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> CourseStart:
        return cls(
            course_id=data["course_id"],
            regimen_text=data["regimen_text"],
            regimen_file=data["regimen_file"],
            start=dt.date.fromisoformat(data["start"]),
            patient=dict(data.get("patient") or {}),
            options={k: tuple(v) if isinstance(v, list) else v for k, v in (data.get("options") or {}).items()},
            time=data.get("time"),
            tz=data.get("tz"),
            cycles=data.get("cycles"),
            cycle_length=data.get("cycle_length"),
            confirmed=bool(data.get("confirmed")),
        )

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), sort_keys=True)

    @classmethod
    def parse(
        cls,
        *,
        course_id: str,
        regimen_text: str,
        regimen_file: str,
        start: dt.date,
        today: dt.date,
        patient: Mapping[str, str | None],
        options: Mapping[str, Any],
        time: str | None = None,
        tz: str | None = None,
        cycles: int | None = None,
        cycle_length: int | None = None,
        confirm: bool = False,
    ) -> CourseStart:
        """A start from the values a person typed, checked: the id, the time and zone, the options, and a day 1
        more than :data:`PAST_START_DAYS` days before ``today`` (unless ``confirm``)."""
        check_course_id(course_id)
        if time is not None:
            parse_time(time)
        if tz is not None:
            if time is None:
                raise CourseError(f"{option('tz')} needs {option('time')} HH:MM")
            zone(tz)
        if start < today - dt.timedelta(days=PAST_START_DAYS) and not confirm:
            raise CourseError(
                f"{option('start')} {start.isoformat()} is {(today - start).days} days before today "
                f"({today.isoformat()}): more than {PAST_START_DAYS}; check the year and month, and if the course "
                f"really began then, record it with {option('confirm')}"
            )
        unknown = set(patient) - set(PATIENT_KEYS)
        if unknown:
            raise CourseError(f"a course records no patient value {sorted(unknown)[0]!r}")
        return cls(
            course_id=course_id,
            regimen_text=regimen_text,
            regimen_file=regimen_file,
            start=start,
            patient={k: v for k, v in patient.items() if v is not None},
            options=start_options(options),
            time=time,
            tz=tz if time else None,
            cycles=cycles,
            cycle_length=cycle_length,
            confirmed=confirm and start < today - dt.timedelta(days=PAST_START_DAYS),
        )


def start_options(values: Mapping[str, Any]) -> dict[str, Any]:
    """The clinical options a course records, checked; file-based ones are refused (a file could change)."""
    for name in FILE_OPTIONS:
        if values.get(name):
            raise CourseError(
                f"{option(name)}: a course records values, not files that could change under it; start the course "
                f"without it (rounding to an increment: {option('round')} DRUG=AMOUNT)"
            )
    kept = {k: values[k] for k in OPTION_KEYS if values.get(k) not in (None, (), [], "", False)}
    refuse_old_reduce(values.get("reduce"))
    changes = build_options(dict(kept)).dose_changes  # refuse what 'regimen expand' would refuse
    # recorded in one reading ("give N %"), whichever was typed; the confirmation is kept with them
    kept.pop("reduce_by", None)
    if changes:
        kept["dose_percent"] = tuple(f"{k}={c.to_dict()['dose_percent']}" for k, c in changes.items())
    return {k: tuple(v) if isinstance(v, list | tuple) else v for k, v in kept.items()}


def parse_cycle(text: str | int, regimen: Regimen) -> tuple[str, int]:
    """'3' (a regimen of one phase) or 'consolidation:2' -> (phase id, cycle)."""
    match = _CYCLE.match(str(text))
    if match is None:
        raise CourseError(
            f"{option('cycle')} {text!r}: give a cycle number such as 3 (or PHASE:N in a regimen of phases)"
        )
    phase, number = match.group(1), int(match.group(2))
    ids = [p.id for p in regimen.phases]
    if phase is None:
        if len(ids) > 1:
            raise CourseError(
                f"{option('cycle')} {text!r}: {regimen.id} has phases ({', '.join(ids)}); "
                f"write PHASE:N, e.g. {ids[0]}:{number}"
            )
        phase = ids[0]
    if phase not in ids:
        raise CourseError(f"{option('cycle')} {text!r}: {regimen.id} has no phase {phase!r} (it has {', '.join(ids)})")
    if number < 1:
        raise CourseError(f"{option('cycle')} {text!r}: cycles count from 1")
    return phase, number


def parse_instant(text: str, tz: str | None) -> dt.datetime:
    """'2026-12-01T09:30' in the course's zone (or with an offset) -> UTC."""
    try:
        value = dt.datetime.fromisoformat(text.strip())
    except ValueError:
        raise CourseError(
            f"{option('at')} {text!r}: give the date and time as YYYY-MM-DDTHH:MM, e.g. 2026-12-01T09:30"
        ) from None
    if value.tzinfo is None:
        value = value.replace(tzinfo=tzinfo_for(tz))
    return value.astimezone(dt.UTC)


def one_line(text: str | None, what: str, limit: int = 200) -> str:
    """Who or why, as recorded: one line, not empty, at most ``limit`` characters."""
    said = " ".join((text or "").split())
    if not said or len(said) > limit:
        raise CourseError(f"{option(what)}: one line of at most {limit} characters")
    return said


__all__ = [
    "FILE_OPTIONS",
    "OPTION_KEYS",
    "PAST_START_DAYS",
    "PATIENT_KEYS",
    "CourseError",
    "CourseStart",
    "check_course_id",
    "one_line",
    "parse_cycle",
    "parse_instant",
    "start_options",
    "text_hash",
]
