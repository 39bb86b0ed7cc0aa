"""What a new change must not do to what is already recorded, or may do only when confirmed. Checked when a change
is recorded, never on replay (what was recorded stays readable)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from fractions import Fraction
from typing import Any

from regimen.clinical.pretreatment import first_dose_allowed
from regimen.engine.courses.describe import cycle_arg, cycle_name, describe, measure_options, row_name
from regimen.engine.courses.events import Delay, Dose, Given, Measure, Stop, Verification, Void, same_change
from regimen.engine.courses.records import CourseError
from regimen.engine.courses.replay import live_changes
from regimen.engine.courses.row_changes import given_records
from regimen.engine.courses.state import Change, CourseRow, CourseState
from regimen.errors import option
from regimen.quantities.clock import tzinfo_for
from regimen.quantities.exact import format_decimal, format_fraction, to_decimal

#: A new weight or BSA of less than 1/RATIO or more than RATIO times the one in force, or a dose given of RATIO
#: times the planned dose or more, is refused unless confirmed: between two cycles it is almost always a slip (a unit,
#: a decimal point).
IMPLAUSIBLE_RATIO = Fraction(2)
#: The same change as the last one in effect, recorded within this time of it, is taken for a repeat (a delay typed
#: twice moves the rest of the course twice) and refused unless confirmed.
REPEAT_WITHIN = dt.timedelta(days=1)


def _given_on(cr: CourseRow, tz: str | None) -> dt.date | None:
    """The day a dose recorded as given was given: of its time when recorded, else its planned date."""
    if cr.given is not None and cr.given.at is not None:
        return cr.given.at.astimezone(tzinfo_for(tz)).date()
    return cr.row.date


def _label(change: Change) -> str:
    return f"{change.kind} (change {change.seq})"


def _lasting(before: CourseState, change: Change, e: Delay | Measure | Dose, doing: str) -> None:
    """A lasting change from a cycle in which a dose is already recorded as given would move that dose or change the
    plan it was given under: it applies from a cycle with nothing given yet."""
    regimen = before.regimen
    index = before.cycles.index((e.phase, e.cycle))
    later = set(before.cycles[index:])
    done = [cr for cr in before.rows if cr.given is not None and (cr.row.phase, cr.row.cycle) in later]
    if not done:
        return
    last = max(before.cycles.index((cr.row.phase, cr.row.cycle)) for cr in done)
    after_last = before.cycles[last + 1] if last + 1 < len(before.cycles) else None
    hint = (
        f"; record it from {cycle_name(regimen, after_last)} ({option('cycle')} {cycle_arg(regimen, after_last)})"
        if after_last is not None and doing == e.kind
        else ""
    )
    assert done[0].given is not None
    raise CourseError(
        f"{_label(change)}: {row_name(regimen, done[0].row)} is recorded as given (change {done[0].given.change}); "
        f"a {doing} from {cycle_name(regimen, (e.phase, e.cycle))} would change what it was given under{hint}"
    )


def _measure(before: CourseState, after: CourseState, change: Change, e: Measure) -> None:
    _lasting(before, change, e, e.kind)
    if e.confirmed:
        return
    key = (e.phase, e.cycle)
    old, new = before.patients[key], after.patients[key]
    where = cycle_name(after.regimen, key)
    if old.sex is not None and new.sex != old.sex:
        raise CourseError(
            f"{_label(change)}: sex {new.sex} from {where}, where the course records {old.sex}: a sex is not a "
            f"measurement; if the one recorded is wrong, record this with {option('confirm')}"
        )
    if old.age_years is not None and new.age_years is not None and new.age_years < old.age_years:
        raise CourseError(
            f"{_label(change)}: age {format_fraction(new.age_years)} years from {where} is less than the "
            f"{format_fraction(old.age_years)} years in force; check the value, and if the one recorded is wrong, "
            f"record this with {option('confirm')}"
        )
    for name, a, b, unit in (("weight", old.weight_kg, new.weight_kg, "kg"), ("BSA", old.bsa_m2, new.bsa_m2, "m²")):
        if a and b and (b >= a * IMPLAUSIBLE_RATIO or b * IMPLAUSIBLE_RATIO <= a):
            raise CourseError(
                f"{_label(change)}: {name} {format_fraction(b)} {unit} from {where} is "
                f"{'twice or more' if b > a else 'half or less'} the {format_fraction(a)} {unit} in force: not a "
                f"plausible change between cycles; check the value and its unit, and if it is right record it "
                f"with {option('confirm')}"
            )


def _given(before: CourseState, after: CourseState, change: Change, e: Given) -> None:
    regimen, tz = after.regimen, after.start.tz
    if not any(cr.given is not None for cr in before.rows) and not first_dose_allowed(before.requirements):
        unmet = ", ".join(f"{s.requirement.id} ({s.requirement.test})" for s in before.requirements if not s.settled)
        raise CourseError(
            f"{_label(change)}: the first dose waits for what must be known before it: {unmet}; record each as met, "
            f"waived (with a reason) or not applicable with 'regimen course requirement'"
        )
    g, cr, given, planned = next(x for x in given_records(after.rows) if x[0].change == change.seq)
    on = _given_on(cr, tz)
    if before.stopped is not None and on is not None and on >= before.stopped:
        raise CourseError(
            f"{_label(change)}: {row_name(regimen, cr.row)} falls on {on.isoformat()}, after the course was stopped "
            f"(from {before.stopped.isoformat()}); a dose given after a stop is not part of this course"
        )
    if on is not None and on < before.start.start and not e.confirmed:
        raise CourseError(
            f"{_label(change)}: {row_name(regimen, cr.row)} given on {on.isoformat()} is before day 1 of the course "
            f"({before.start.start.isoformat()}); check the date (and the zone), and if it is right record it with "
            f"{option('confirm')}"
        )
    if planned and given >= planned * IMPLAUSIBLE_RATIO and not e.confirmed:  # a pump: its whole
        raise CourseError(
            f"{_label(change)}: {format_fraction(given)} {g.unit} given is "
            f"{format_decimal(to_decimal(given / planned, 1))} times the planned "
            f"{format_fraction(planned)} {cr.row.dose_unit} for {row_name(regimen, cr.row)}: check the dose and "
            f"its unit; if that much really was given, record it with {option('confirm')}"
        )


def _stop(before: CourseState, after: CourseState, change: Change, e: Stop) -> None:
    if e.on < before.start.start:
        first = before.start.start.isoformat()
        raise CourseError(
            f"{_label(change)}: {e.on.isoformat()} is before day 1 ({first}); to stop a course before anything is "
            f"given, stop it from day 1 ({option('on')} {first})"
        )
    for cr in before.rows:
        on = _given_on(cr, after.start.tz) if cr.given is not None else None
        if on is not None and on >= e.on and cr.given is not None:
            raise CourseError(
                f"{_label(change)}: {row_name(before.regimen, cr.row)} is recorded as given on {on.isoformat()} "
                f"(change {cr.given.change}); the course cannot be stopped from {e.on.isoformat()}, before it"
            )


def check_void(before: CourseState, change: Change, e: Void) -> None:
    """A correction names a change in effect that is not itself a correction; a lasting change is undone only while
    nothing was given under it (undo the dose given first)."""
    label = _label(change)
    if e.change == 0:
        raise CourseError(f"{label}: the start (#0) cannot be voided; stop the course and start a new one")
    target = next((c for c in before.changes if c.seq == e.change), None)
    if target is None:
        raise CourseError(
            f"{label}: course {before.course_id} has no change {e.change} (its changes are #1 to "
            f"#{len(before.changes)}); 'regimen course show' lists them"
        )
    if isinstance(target.event, Void):
        raise CourseError(
            f"{label}: change {e.change} is itself a correction and cannot be voided; record the change again instead"
        )
    if e.change in before.voided:
        raise CourseError(f"{label}: change {e.change} is already void (change {before.voided[e.change]})")
    if isinstance(target.event, Delay | Measure | Dose):
        _lasting(before, change, target.event, f"correction of change {e.change} ({target.kind})")


def check_repeat(before: CourseState, change: Change, confirm: bool) -> None:
    """An exact repeat of the last change in effect (same kind, cycle and value), recorded within a day of it."""
    live, _ = live_changes(before.changes)
    if confirm or not live or isinstance(change.event, Void | Given | Verification):  # the replay or _verify refuses
        return
    last = live[-1]
    if same_change(last.event, change.event) and change.at - last.at < REPEAT_WITHIN:
        raise CourseError(
            f"{_label(change)}: the same as change {last.seq} ({describe(last, before.regimen, before.start.tz)}), "
            f"recorded at {last.at.astimezone(dt.UTC).strftime('%Y-%m-%d %H:%M UTC')}; a repeat would apply it twice. "
            f"If it is meant, record it with {option('confirm')}"
        )


def _verify(before: CourseState, after: CourseState, change: Change, e: Verification) -> None:
    """A verification checks something: a cycle whose planned doses were all verified as they stand is not again."""
    key = (e.phase, e.cycle)
    mine = [cr for cr in before.rows if (cr.row.phase, cr.row.cycle) == key and cr.status == "planned"]
    undecided = list(dict.fromkeys(cr.row.condition for cr in mine if cr.row.condition))
    if undecided:  # a dose given only if a value not given holds: no order to verify until it is given
        raise CourseError(
            f"{_label(change)}: {cycle_name(before.regimen, key)} has doses given only if "
            f"{' / '.join(undecided)}, a value the course was started without: record it with 'regimen course measure "
            f"{before.course_id} {option('cycle')} {cycle_arg(before.regimen, key)} {measure_options(undecided)}' "
            "first, then verify the cycle's doses"
        )
    if mine and all(cr.verified is not None for cr in mine):
        raise CourseError(
            f"{_label(change)}: {cycle_name(before.regimen, key)} is already verified as planned (change "
            f"{mine[0].verified}); nothing changed since"
        )


def check_verified(after: CourseState, change: Change) -> None:
    """A dose given must have been verified, as planned now, by a pharmacist (issue 28: in a unit with users)."""
    for cr in after.rows:
        if cr.change == change.seq and cr.status == "given" and cr.verified is None:
            arg = cycle_arg(after.regimen, (cr.row.phase, cr.row.cycle))
            raise CourseError(
                f"{_label(change)}: {row_name(after.regimen, cr.row)} is not verified as planned now: an order that "
                f"is not verified cannot be recorded as given; a pharmacist verifies it first with 'regimen course "
                f"verify {after.course_id}' ({option('cycle')} {arg})"
            )


_CHECKS: dict[type, Callable[[CourseState, CourseState, Change, Any], None]] = {
    Delay: lambda before, _after, change, e: _lasting(before, change, e, e.kind),
    Dose: lambda before, _after, change, e: _lasting(before, change, e, e.kind),
    Measure: _measure,
    Given: _given,
    Stop: _stop,
    Verification: _verify,
}


def check_new(before: CourseState, after: CourseState, change: Change) -> None:
    """What ``change`` must not do to what is already recorded, or record without a confirmation; raises
    :class:`CourseError`.

    - a delay, a new weight or a dose change from a cycle in which a dose is already recorded as given: it would
      move that dose or change the plan it was given under (it applies from a cycle with nothing given yet);
    - a dose given on or after the day the course was stopped from, or a stop from before a dose given or day 1;
    - a dose given of twice the planned dose or more, a weight or BSA halved or doubled, a dose given before day 1:
      unless confirmed.
    """
    check = _CHECKS.get(type(change.event))
    if check is not None:
        check(before, after, change, change.event)


__all__ = ["IMPLAUSIBLE_RATIO", "REPEAT_WITHIN", "check_new", "check_repeat", "check_verified", "check_void"]
