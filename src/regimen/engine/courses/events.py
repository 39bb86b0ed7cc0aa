"""What a change of a course says: one frozen dataclass per kind, each with its parser and its checks.

Each kind reads the values a person typed (the command line's, the web form's: :meth:`parse`), refuses what
cannot be right before anything is recorded, and is written down and read back as a plain dict (:meth:`to_dict`,
:meth:`from_dict`) in the format the course database has always held, so every course recorded before stays
readable. The correction (``void``) is a change of its own: it names the change it undoes.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, ClassVar, Protocol

from regimen.clinical.dose_change import DoseChange, parse_change, refuse_old_reduce
from regimen.clinical.patient import make_patient
from regimen.engine.courses.records import CourseError, one_line, parse_cycle, parse_instant
from regimen.errors import option
from regimen.model import Regimen
from regimen.protocol.loader import amount
from regimen.quantities.clock import tzinfo_for

#: Values a ``measure`` change may bring.
#: ``age`` and ``sex``: a value not given at the start (a rule's outcomes, both sexes' renal doses, marked until
#: then), or an age that has moved on; the replay decides the course's rows from the cycle given.
MEASURE_KEYS = ("weight", "height", "bsa", "scr", "gfr", "age", "sex")
MAX_DELAY_DAYS = 366
#: A dose recorded as given at a time later than now by more than this is refused (clocks of workstations differ).
CLOCK_SLACK = dt.timedelta(minutes=15)
_DELAY = re.compile(r"\s*(\d{1,4})\s*(d|day|days|w|wk|week|weeks)?\s*")


@dataclass(frozen=True, slots=True)
class Context:
    """What a change's values are read against: the course's regimen and zone, and the clock."""

    regimen: Regimen
    tz: str | None
    now: dt.datetime  # UTC


class Event(Protocol):
    kind: ClassVar[str]

    @property
    def confirmed(self) -> bool: ...

    def to_dict(self) -> dict[str, Any]: ...


def _cycle(values: Mapping[str, Any], ctx: Context) -> dict[str, Any]:
    phase, cycle = parse_cycle(values["cycle"], ctx.regimen)
    return {"phase": phase, "cycle": cycle}


@dataclass(frozen=True, slots=True)
class Delay:
    """Cycle N (and every cycle after it) starts ``days`` later."""

    kind: ClassVar[str] = "delay"
    phase: str
    cycle: int
    days: int
    confirmed: bool = False

    @classmethod
    def parse(cls, values: Mapping[str, Any], ctx: Context) -> Delay:
        text = values["by"]
        match = _DELAY.fullmatch(str(text))
        if match is None:
            raise CourseError(
                f"{option('by')} {text!r}: give the delay in days or weeks, e.g. {option('by')} 7d or {option('by')} 1w"
            )
        days = int(match.group(1)) * (7 if (match.group(2) or "d").startswith("w") else 1)
        if not 1 <= days <= MAX_DELAY_DAYS:
            raise CourseError(f"{option('by')} {text!r}: a delay is 1 to {MAX_DELAY_DAYS} days")
        return cls(**_cycle(values, ctx), days=days, confirmed=bool(values.get("confirm")))

    def to_dict(self) -> dict[str, Any]:
        return {"phase": self.phase, "cycle": self.cycle, "days": self.days} | _confirmed(self.confirmed)

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> Delay:
        return cls(d["phase"], d["cycle"], d["days"], bool(d.get("confirmed")))


@dataclass(frozen=True, slots=True)
class Measure:
    """New patient values from cycle N on (as typed: the replay computes the doses from them)."""

    kind: ClassVar[str] = "measure"
    phase: str
    cycle: int
    values: tuple[tuple[str, str], ...]
    confirmed: bool = False

    @classmethod
    def parse(cls, values: Mapping[str, Any], ctx: Context) -> Measure:
        found = {k: str(values[k]) for k in MEASURE_KEYS if values.get(k) is not None}
        if not found:
            raise CourseError("measure: give at least one of " + ", ".join(option(k) for k in MEASURE_KEYS))
        make_patient(**found)  # implausible values are refused here, before anything is recorded
        return cls(**_cycle(values, ctx), values=tuple(found.items()), confirmed=bool(values.get("confirm")))

    def to_dict(self) -> dict[str, Any]:
        return {"phase": self.phase, "cycle": self.cycle, "values": dict(self.values)} | _confirmed(self.confirmed)

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> Measure:
        values = tuple((k, str(v)) for k, v in d["values"].items() if v is not None)
        return cls(d["phase"], d["cycle"], values, bool(d.get("confirmed")))


@dataclass(frozen=True, slots=True)
class Dose:
    """A dose level (of one drug, or of every drug with levels), or one drug's change of dose, from cycle N on.

    ``legacy``: the text of a record made before issue 24 (``reduce: "75%"``, which meant: give 75 %)."""

    kind: ClassVar[str] = "dose"
    phase: str
    cycle: int
    drug: str | None
    level: int | None = None
    change: DoseChange | None = None
    as_typed: str | None = None  # "reduce_by 20%": the reading that was typed
    legacy: str | None = None

    @property
    def confirmed(self) -> bool:
        return self.legacy is None and self.change is not None and self.change.needs_confirming

    @classmethod
    def parse(cls, values: Mapping[str, Any], ctx: Context) -> Dose:
        refuse_old_reduce(values.get("reduce"))
        level, drug = values.get("level"), values.get("drug") or None
        readings = [r for r in ("dose_percent", "reduce_by") if values.get(r) is not None]
        if (level is None) == (not readings) or len(readings) > 1:
            raise CourseError(
                f"dose: give one of {option('level')} N (e.g. -1), {option('dose_percent')} PCT% (e.g. 80%: give "
                f"80 % of the dose) or {option('reduce_by')} PCT% (e.g. 20%: give 80 %)"
            )
        if readings and not drug:
            raise CourseError(f"dose {option(readings[0])}: name the drug with {option('drug')}")
        where = _cycle(values, ctx)
        _check_drug(ctx.regimen, drug)
        if level is not None:
            try:
                number = int(str(level).strip())
            except ValueError:
                raise CourseError(f"{option('level')} {level!r}: give a whole number such as -1") from None
            _check_level(ctx.regimen, drug, number)
            return cls(**where, drug=drug, level=number)
        reading = readings[0]
        change = parse_change(reading, values[reading], confirm=bool(values.get("confirm")), drug=drug)
        return cls(**where, drug=drug, change=change, as_typed=f"{reading} {str(values[reading]).strip()}")

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"phase": self.phase, "cycle": self.cycle, "drug": self.drug}
        if self.level is not None:
            out["level"] = self.level
        elif self.legacy is not None:
            out["reduce"] = self.legacy
        elif self.change is not None:
            out["dose_percent"] = self.change.to_dict()["dose_percent"]
            if self.as_typed is not None:
                out["as_typed"] = self.as_typed
        return out | _confirmed(self.confirmed)

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> Dose:
        base = {"phase": d["phase"], "cycle": d["cycle"], "drug": d.get("drug")}
        if d.get("level") is not None:
            return cls(**base, level=d["level"])
        if d.get("reduce") is not None:  # recorded before issue 24: "75%" meant give 75 % of the dose
            text = str(d["reduce"]).strip()
            change = parse_change("dose_percent", text if text.endswith("%") else text + "%", confirm=True)
            return cls(**base, change=change, legacy=d["reduce"])
        change = parse_change("dose_percent", d["dose_percent"], confirm=True)  # confirmed when it was recorded
        return cls(**base, change=change, as_typed=d.get("as_typed"))


def _check_drug(regimen: Regimen, drug: str | None) -> None:
    if drug is not None and not any(drug.lower() in (c.id.lower(), c.drug.lower()) for c in regimen.components()):
        names = ", ".join(dict.fromkeys(c.drug for c in regimen.components()))
        raise CourseError(f"{option('drug')} {drug!r}: {regimen.id} has no such drug; its drugs are {names}")


def _check_level(regimen: Regimen, drug: str | None, level: int) -> None:
    """A level the regimen defines for the drug (or, without a drug, for every drug that has levels)."""
    if level == 0:
        return
    comps = list(regimen.components())
    mine = [c for c in comps if drug is None or drug.lower() in (c.id.lower(), c.drug.lower())]
    targets = mine if drug is not None else [c for c in comps if c.levels]
    if not targets:
        raise CourseError(
            f"{option('level')} {level}: {regimen.id} defines no dose levels; for a change the protocol does "
            f"not tabulate, give {option('drug')} and {option('dose_percent')} PCT% or {option('reduce_by')} PCT%"
        )
    for c in targets:
        if not any(x.level == level for x in c.levels):
            defined = ", ".join(str(x.level) for x in c.levels) or "none"
            raise CourseError(
                f"{option('level')} {level}: {c.drug} has no dose level {level} in {regimen.id} (its levels: {defined})"
            )


@dataclass(frozen=True, slots=True)
class Omit:
    """A drug, a day, a drug on a day (or one dose of it) not given."""

    kind: ClassVar[str] = "omit"
    phase: str
    cycle: int
    day: int | None = None
    drug: str | None = None
    dose_number: int | None = None
    confirmed: bool = False

    @classmethod
    def parse(cls, values: Mapping[str, Any], ctx: Context) -> Omit:
        if values.get("day") is None and not values.get("drug"):
            raise CourseError(f"omit: name the drug ({option('drug')}), the day ({option('day')}) or both")
        return cls(
            **_cycle(values, ctx),
            day=values.get("day"),
            drug=values.get("drug") or None,
            dose_number=values.get("dose_number"),
            confirmed=bool(values.get("confirm")),
        )

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"phase": self.phase, "cycle": self.cycle, "day": self.day, "drug": self.drug}
        if self.dose_number is not None:
            out["dose_number"] = self.dose_number
        return out | _confirmed(self.confirmed)

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> Omit:
        return cls(d["phase"], d["cycle"], d.get("day"), d.get("drug"), d.get("dose_number"), bool(d.get("confirmed")))


@dataclass(frozen=True, slots=True)
class Given:
    """What was actually given for one planned administration: the dose as typed, when, the lot."""

    kind: ClassVar[str] = "given"
    phase: str
    cycle: int
    day: int | None
    drug: str | None
    dose: str
    dose_number: int | None = None
    at: dt.datetime | None = None  # UTC
    lot: str | None = None
    confirmed: bool = False

    @classmethod
    def parse(cls, values: Mapping[str, Any], ctx: Context) -> Given:
        if not values.get("dose"):
            raise CourseError(f"given: give the dose given, with its unit ({option('dose')} '650 mg')")
        try:
            amount(values["dose"], f"{option('dose')}")
        except ValueError as exc:
            raise CourseError(str(exc)) from None
        at = None
        if values.get("at"):
            at = parse_instant(values["at"], ctx.tz)
            if at > ctx.now + CLOCK_SLACK:
                local = ctx.now.astimezone(tzinfo_for(ctx.tz)).strftime("%Y-%m-%d %H:%M")
                raise CourseError(
                    f"{option('at')} {values['at']!r} is in the future (it is now {local} "
                    f"{ctx.tz or 'UTC'}): record a dose when it has been given"
                )
        lot = one_line(values["lot"], "lot", 64) if values.get("lot") else None
        return cls(
            **_cycle(values, ctx),
            day=values.get("day"),
            drug=values.get("drug") or None,
            dose=str(values["dose"]).strip(),
            dose_number=values.get("dose_number"),
            at=at,
            lot=lot,
            confirmed=bool(values.get("confirm")),
        )

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "phase": self.phase,
            "cycle": self.cycle,
            "day": self.day,
            "drug": self.drug,
            "dose": self.dose,
            "dose_number": self.dose_number,
        }
        if self.at is not None:
            out["at"] = self.at.isoformat()
        if self.lot is not None:
            out["lot"] = self.lot
        return out | _confirmed(self.confirmed)

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> Given:
        at = dt.datetime.fromisoformat(d["at"]) if d.get("at") else None
        return cls(
            d["phase"],
            d["cycle"],
            d.get("day"),
            d.get("drug"),
            d["dose"],
            d.get("dose_number"),
            at,
            d.get("lot"),
            bool(d.get("confirmed")),
        )


@dataclass(frozen=True, slots=True)
class Stop:
    """No administration from ``on``."""

    kind: ClassVar[str] = "stop"
    on: dt.date
    confirmed: bool = False

    @classmethod
    def parse(cls, values: Mapping[str, Any], ctx: Context) -> Stop:
        on = values["on"]
        if not isinstance(on, dt.date):
            try:
                on = dt.date.fromisoformat(str(on).strip())
            except ValueError:
                raise CourseError(f"{option('on')} {values['on']!r}: give a date as YYYY-MM-DD") from None
        return cls(on=on, confirmed=bool(values.get("confirm")))

    def to_dict(self) -> dict[str, Any]:
        return {"from": self.on.isoformat()} | _confirmed(self.confirmed)

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> Stop:
        return cls(dt.date.fromisoformat(d["from"]), bool(d.get("confirmed")))


@dataclass(frozen=True, slots=True)
class Void:
    """A correction: change ``change`` was entered in error. It undoes that change's effect; both stay in the
    history (FHIR's MedicationAdministration status ``entered-in-error``)."""

    kind: ClassVar[str] = "void"
    change: int
    confirmed: bool = False

    @classmethod
    def parse(cls, values: Mapping[str, Any], ctx: Context) -> Void:
        text = values.get("change")
        try:
            number = int(str(text).strip())
        except ValueError:
            raise CourseError(f"{option('change')} {text!r}: give the number of a change (#N in the history)") from None
        return cls(change=number)

    def to_dict(self) -> dict[str, Any]:
        return {"change": self.change}

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> Void:
        return cls(int(d["change"]))


#: The reason a record has when none is given: the obvious one (every other change says why), at every door.
DEFAULT_REASONS = {
    "start": "course started",
    "given": "given as recorded",
    "requirement": "requirement recorded",
    "verify": "doses checked against the protocol",
}
#: The decisions a gate check records (regimen.clinical.gates' proposals).
DECISIONS = ("go", "delay", "reduce", "omit", "stop")
#: A requirement's status as typed (the command line's 'not-applicable') -> as recorded.
REQUIREMENT_STATUS = {
    "met": "met",
    "waived": "waived",
    "not-applicable": "not applicable",
    "not applicable": "not applicable",
}


@dataclass(frozen=True, slots=True)
class GateCheck:
    """Cycle N's values checked against the regimen's gates (issue 27): the values as typed, the proposal of the
    regimen's table, the rules that fired (with their sources) and the decision; ``overridden`` when the decision is
    not the proposal (the change's reason says why)."""

    kind: ClassVar[str] = "check"
    phase: str
    cycle: int
    values: tuple[tuple[str, str], ...]
    proposal: str
    decision: str
    rules: tuple[str, ...] = ()
    overridden: bool = False

    @property
    def confirmed(self) -> bool:
        return False

    @classmethod
    def parse(cls, values: Mapping[str, Any], ctx: Context) -> GateCheck:
        proposal, decision = str(values["proposal"]), str(values.get("decision") or values["proposal"])
        for name, said in (("proposal", proposal), ("override", decision)):
            if said not in DECISIONS:
                raise CourseError(f"{option(name)} {said!r}: one of {', '.join(DECISIONS)}")
        found = tuple((str(k), str(v)) for k, v in dict(values.get("values") or {}).items() if v is not None)
        rules = tuple(str(r) for r in values.get("rules") or ())
        return cls(
            **_cycle(values, ctx),
            values=found,
            proposal=proposal,
            decision=decision,
            rules=rules,
            overridden=decision != proposal,
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "phase": self.phase,
            "cycle": self.cycle,
            "values": dict(self.values),
            "proposal": self.proposal,
            "decision": self.decision,
            "rules": list(self.rules),
            "overridden": self.overridden,
        }

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> GateCheck:
        values = tuple((k, str(v)) for k, v in d["values"].items())
        return cls(
            d["phase"],
            d["cycle"],
            values,
            d["proposal"],
            d["decision"],
            tuple(d.get("rules") or ()),
            bool(d.get("overridden")),
        )


@dataclass(frozen=True, slots=True)
class RequirementRecord:
    """What must be known before the first dose (issue 27): requirement ``id`` of the regimen met (with the result
    when given), waived (the reason is the change's, and is kept here too) or not applicable."""

    kind: ClassVar[str] = "requirement"
    id: str
    status: str
    detail: str | None = None

    @property
    def confirmed(self) -> bool:
        return False

    @classmethod
    def parse(cls, values: Mapping[str, Any], ctx: Context) -> RequirementRecord:
        ident = str(values.get("id") or "").strip().lower()
        ids = [r.id for r in ctx.regimen.requirements]
        if ident not in ids:
            listed = ", ".join(ids) or "none"
            raise CourseError(
                f"{option('id')} {ident!r}: {ctx.regimen.id} has no such requirement; its requirements: {listed}"
            )
        status = REQUIREMENT_STATUS.get(str(values.get("status") or "").strip().lower())
        if status is None:
            raise CourseError(f"{option('status')} {values.get('status')!r}: one of met, waived, not-applicable")
        detail = values.get("detail") or None
        if status == "waived" and not detail:
            raise CourseError(f"requirement {ident}: a requirement is waived only with a reason ({option('reason')})")
        return cls(ident, status, one_line(str(detail), "result", 500) if detail else None)

    def to_dict(self) -> dict[str, Any]:
        return {"id": self.id, "status": self.status, "detail": self.detail}

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> RequirementRecord:
        return cls(d["id"], d["status"], d.get("detail"))


@dataclass(frozen=True, slots=True)
class Verification:
    """A pharmacist's independent check of cycle N's doses, as then planned, against the protocol (issue 28): the
    dose figures checked, one per planned administration ("day 1 oxaliplatin" -> "2431/20 mg"), so that a later
    change of any of them (a new weight, a dose change) leaves that administration unverified until it is checked
    again. The figures are read from the course when it is recorded (:meth:`CourseBook.changes`), never typed."""

    kind: ClassVar[str] = "verify"
    phase: str
    cycle: int
    doses: tuple[tuple[str, str], ...]

    @property
    def confirmed(self) -> bool:
        return False

    @classmethod
    def parse(cls, values: Mapping[str, Any], ctx: Context) -> Verification:
        doses = values.get("doses")
        if not isinstance(doses, Mapping) or not doses:
            raise CourseError("verify: the course has nothing planned in that cycle to verify")
        return cls(**_cycle(values, ctx), doses=tuple((str(k), str(v)) for k, v in doses.items()))

    def to_dict(self) -> dict[str, Any]:  # pairs, not an object: kept in the course's order when stored
        return {"phase": self.phase, "cycle": self.cycle, "doses": [list(pair) for pair in self.doses]}

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> Verification:
        return cls(d["phase"], d["cycle"], tuple((str(k), str(v)) for k, v in d["doses"]))


def _confirmed(flag: bool) -> dict[str, Any]:
    return {"confirmed": True} if flag else {}


AnyEvent = Delay | Measure | Dose | Omit | Given | Stop | Void | GateCheck | RequirementRecord | Verification
#: Each kind by its name, as the records hold it.
KINDS: dict[str, Any] = {
    k.kind: k for k in (Delay, Measure, Dose, Omit, Given, Stop, Void, GateCheck, RequirementRecord, Verification)
}


def parse_event(kind: str, values: Mapping[str, Any], ctx: Context) -> AnyEvent:
    """The event of ``kind`` from the values a person typed, checked for form (the replay checks the rest)."""
    if kind not in KINDS:
        raise CourseError(f"unknown change {kind!r}")
    event: AnyEvent = KINDS[kind].parse(values, ctx)
    return event


def event_from_dict(kind: str, data: Mapping[str, Any]) -> AnyEvent:
    if kind not in KINDS:
        raise CourseError(f"a recorded change of unknown kind {kind!r}: this version of regimen cannot read it")
    event: AnyEvent = KINDS[kind].from_dict(data)
    return event


def same_change(a: AnyEvent, b: AnyEvent) -> bool:
    """Whether two events say the same (kind, cycle and value), however they were confirmed or typed."""

    def said(e: AnyEvent) -> dict[str, Any]:
        out = e.to_dict()
        for key in ("confirmed", "as_typed", "at", "lot"):
            out.pop(key, None)
        return out

    return a.kind == b.kind and said(a) == said(b)


__all__ = [
    "DECISIONS",
    "DEFAULT_REASONS",
    "KINDS",
    "MEASURE_KEYS",
    "AnyEvent",
    "Context",
    "Delay",
    "Dose",
    "Event",
    "GateCheck",
    "Given",
    "Measure",
    "Omit",
    "RequirementRecord",
    "Stop",
    "Verification",
    "Void",
    "event_from_dict",
    "parse_event",
    "same_change",
]
