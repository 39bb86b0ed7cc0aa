"""A course as it stands: each planned administration and what became of it, and the history that made it."""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Any

from regimen.clinical.gates import DoseIntensity
from regimen.clinical.pretreatment import RequirementStatus
from regimen.engine.courses.events import AnyEvent, GateCheck, event_from_dict
from regimen.engine.courses.records import CourseStart
from regimen.engine.courses.worklist import DueRow
from regimen.engine.plan import Plan, compute_totals
from regimen.model import Administration, Patient, Regimen


@dataclass(frozen=True, slots=True)
class Change:
    """One recorded change: ``seq`` counts from 1 within the course, in the order they were recorded."""

    seq: int
    at: dt.datetime  # when it was recorded (UTC)
    who: str
    why: str
    event: AnyEvent

    @property
    def kind(self) -> str:
        return self.event.kind

    @property
    def data(self) -> dict[str, Any]:
        """What the change says, as it is recorded."""
        return self.event.to_dict()

    def to_dict(self) -> dict[str, Any]:
        return {
            "seq": self.seq,
            "kind": self.kind,
            "at": self.at.isoformat(),
            "who": self.who,
            "why": self.why,
            "data": self.data,
        }

    def data_json(self) -> str:
        return json.dumps(self.data, sort_keys=True)

    @classmethod
    def read(cls, seq: int, kind: str, at: dt.datetime, who: str, why: str, data: str) -> Change:
        """A change as the database holds it (its data as JSON text)."""
        return cls(seq=seq, at=at, who=who, why=why, event=event_from_dict(kind, json.loads(data)))


@dataclass(frozen=True, slots=True)
class GivenDose:
    """What was actually given for one planned administration."""

    dose: Fraction  # in the row's dose unit
    unit: str
    text: str  # as typed
    at: dt.datetime | None  # the instant (UTC), when recorded
    lot: str | None
    change: int


@dataclass(frozen=True, slots=True)
class CourseRow:
    """One planned administration and what became of it: planned, given, omitted or stopped."""

    row: Administration
    status: str
    given: GivenDose | None = None
    change: int | None = None  # the change that set the status
    marks: tuple[str, ...] = ()  # what changed this row: "delayed 7 days (change 2)"
    verified: int | None = None  # the pharmacist's verification that checked this dose as planned now (issue 28)


@dataclass(frozen=True, slots=True)
class CourseState:
    """The course as it stands, replayed from its start and its changes."""

    start: CourseStart
    regimen: Regimen
    changes: tuple[Change, ...]  # every change recorded, voided ones and corrections included (the history)
    rows: tuple[CourseRow, ...]
    plans: tuple[Plan, ...]  # one per distinct set of values and options in force, in cycle order
    warnings: tuple[str, ...]
    notes: tuple[str, ...]
    stopped: dt.date | None
    given_totals: tuple[tuple[str, Fraction, str], ...]  # drug, amount given, unit
    cycles: tuple[tuple[str, int], ...] = ()  # (phase, cycle) in course order
    patients: Mapping[tuple[str, int], Patient] = field(default_factory=dict)  # the values in force for each cycle
    voided: Mapping[int, int] = field(default_factory=dict)  # change voided -> the correction that voided it
    #: each cycle's gate checks (change number, check), in the order recorded (issue 27)
    checks: Mapping[tuple[str, int], tuple[tuple[int, GateCheck], ...]] = field(default_factory=dict)
    requirements: tuple[RequirementStatus, ...] = ()  # what must be known before the first dose, as recorded
    intensity: tuple[DoseIntensity, ...] = ()  # relative dose intensity per drug, over the cycles begun

    @property
    def course_id(self) -> str:
        return self.start.course_id

    @property
    def status(self) -> str:
        return "stopped" if self.stopped is not None else "active"

    def active_plans(self) -> list[Plan]:
        """The course's calendar: each part plan with its rows still to happen or already given (not omitted or
        stopped), keyed by the course (so that its events keep their identity through every change)."""
        live = {id(cr.row) for cr in self.rows if cr.status in ("planned", "given")}
        out = []
        for plan in self.plans:
            rows = [a for a in plan.administrations if id(a) in live]
            if rows:
                out.append(
                    dataclasses.replace(
                        plan, administrations=tuple(rows), totals=tuple(compute_totals(rows)), key=self.course_id
                    )
                )
        return out


#: The name the course's readers used before courses became a package.
CourseView = CourseState


__all__ = ["Change", "CourseRow", "CourseState", "CourseView", "DueRow", "GivenDose"]
