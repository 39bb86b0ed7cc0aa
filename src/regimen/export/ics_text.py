"""What a calendar event of a plan says: its title (:func:`summary`) and its description (:func:`description`: the
working, the warnings, the source and the patient values it was worked out from, :func:`values_used`). An event is
one preparation (:func:`regimen.engine.preparations.preparations`: one administration, or one pump over its days),
as every other output counts them. Plain text, no iCalendar: :mod:`regimen.export.ics` writes it into events, and
the CalDAV path uses the same preparations.
"""

from __future__ import annotations

from fractions import Fraction

from regimen.engine.plan import Plan
from regimen.engine.preparations import Preparation
from regimen.export.table import DISCLAIMER, patient_line
from regimen.model import how_given
from regimen.quantities.exact import format_decimal, format_fraction


def _title(text: str) -> str:
    return text[:1].upper() + text[1:]


def _amount(plan: Plan, amount: Fraction, unit: str) -> str:
    return f"{format_decimal(plan.rounding(amount))} {unit}"


def _day_label(plan: Plan, prep: Preparation) -> str:
    first, last = prep.first, prep.rows[-1]
    phase = f"{first.phase} " if plan.regimen.phased else ""
    days = f"D{first.day}" if last is first else f"D{first.day}–{last.day}"  # a pump: the days it runs
    return f"{phase}C{first.cycle} {days}"


def summary(plan: Plan, prep: Preparation, label: str | None = None) -> str:
    """'Idarubicin 21.6 mg IV — C1 D2'; a continuous infusion names its total, rate and hours; supportive care
    names its kind ('Dexamethasone 20 mg IV (premedication) — C1 D1')."""
    r = prep.first
    route = f" {r.route}" if r.route else ""
    if prep.continuous:
        total = prep.dose
        rate = f", {_amount(plan, r.rate, r.rate_unit or '')}" if r.rate is not None else ""
        hours = format_fraction(prep.hours or Fraction(0))
        what = f"{_amount(plan, total, r.dose_unit)}{route} continuous over {hours} h{rate}"
    else:
        what = f"{_amount(plan, r.dose, r.dose_unit)}{route}"
        if r.dose_number is not None:
            what += f" (dose {r.dose_number} of {r.doses_per_day})"
    if r.role != "anticancer":  # supportive care, apart from the chemotherapy in words (issue 27)
        what += f" ({plan.regimen.supportive_kind(r.component)})"
    text = f"{_title(r.drug)} {what} — {_day_label(plan, prep)}"
    if r.condition is not None:  # a plan made without a value a rule needs: the event may not happen
        text = f"Only if {r.condition}: {text}"
    return f"{text} — {label}" if label else text


def _notes_for(plan: Plan, drug: str) -> list[str]:
    """Plan notes about this drug or about the whole plan (not those about other drugs)."""
    others = {r.drug for r in plan.administrations} - {drug}
    return [n for n in plan.notes if not any(n.startswith(f"{o}:") for o in others)]


FIXED_DOSE = "none (a fixed dose)"


def values_used(plan: Plan, prep: Preparation) -> str:
    """The patient values this event's doses were worked out from ("BSA 1.8 m²"), not every value of the plan: an
    idarubicin event says nothing of the weight, so a new weight leaves it as it was (its SEQUENCE kept), and says
    nothing stale. A dose from a GFR, or one whose working is not known, names every value of the plan."""
    said: list[str] = []
    for row in prep.rows:
        d = row.derivation
        if d is None or d.factor_unit not in (None, "m²", "kg"):
            return patient_line(plan)
        if d.factor is None:
            text = FIXED_DOSE
        else:
            name = "BSA" if d.factor_unit == "m²" else "weight"
            text = f"{name} {d.factor_text or f'{format_fraction(d.factor)} {d.factor_unit}'}"
        if text not in said:
            said.append(text)
    return ", ".join(said)


def description(plan: Plan, prep: Preparation, *, timed: bool, time_note: str | None, label: str | None) -> str:
    r = prep.first
    reg = plan.regimen
    lines: list[str] = []
    if label:
        lines.append(f"Patient: {label}")
    if r.condition is not None:
        lines.append(
            f"Given only if {r.condition}: the patient value this depends on was not given, so the plan "
            "shows every outcome (this event is tentative)."
        )
    hours = prep.hours
    if prep.continuous:
        assert hours is not None
        lines.append(
            f"Continuous infusion over {format_fraction(hours)} h of elapsed time (cycle {r.cycle}, "
            f"days {r.day}–{prep.rows[-1].day}); across a daylight-saving change the clock shows "
            "one hour more or less."
        )
        if not timed:
            lines.append(
                f"No time given: shown as all-day over the infusion days; it ends {format_fraction(hours)} h "
                "after it starts."
            )
        for row in prep.rows:
            lines.append(f"Day {row.day} ({_amount(plan, row.dose, row.dose_unit)}): {row.calculation}")
    else:
        method = how_given(r.method, r.route) or "method not stated in the source"
        if hours is not None:
            lines.append(f"{_title(method)} over {format_fraction(hours)} h.")
        else:
            lines.append(
                f"{_title(method)}; duration not stated in the source"
                + (": the event marks the start time only." if timed else ".")
            )
        lines.append(f"Working: {r.calculation}")
    if not r.route:
        lines.append("Route not stated in the source.")
    if time_note:
        lines.append(f"Time: {time_note}.")
    lines.extend(f"Warning: {w}" for row in prep.rows for w in row.warnings)
    lines.extend(f"Warning: {w}" for w in plan.warnings)
    version = f", version {reg.version}" if reg.version else ""
    lines.append(f"Regimen: {reg.name} ({reg.id}{version})")
    lines.append(f"Source: {reg.citation}")
    lines.append(f"Patient values used: {values_used(plan, prep)}")
    lines.extend(f"Note: {n}" for n in _notes_for(plan, r.drug))
    lines.append(DISCLAIMER)
    return "\n".join(lines)


__all__ = ["FIXED_DOSE", "description", "summary", "values_used"]
