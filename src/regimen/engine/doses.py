"""A component's dose on one treatment day, with the working a pharmacist can check by hand: what a plan's rows
(:mod:`regimen.engine.cycles`) and a cohort's rows (:mod:`regimen.engine.cohort`) are both made from. No I/O here.

All arithmetic is exact; rounding is applied only to numbers printed in the working.
"""

from __future__ import annotations

import datetime as dt
from fractions import Fraction
from typing import NamedTuple

from regimen.clinical.gfr import Gfr
from regimen.model import AucDose, Component, Patient, Variant
from regimen.quantities.exact import Rounding, amount_text, format_fraction
from regimen.quantities.units import ParsedDose

HOURS_PER_DAY = Fraction(24)


# ---- choosing variants and resolving days --------------------------------------------------------


def choose_variant(component: Component, patient: Patient, cycle: int, on: dt.date | None = None) -> Variant | None:
    """The variant whose rule holds for this patient and cycle (starting ``on``; rules are exclusive), or None."""
    values = patient.rule_values(cycle, on)
    for variant in component.variants:
        if variant.when.evaluate(values):
            return variant
    return None


def component_schedule(component: Component, variant: Variant | None) -> tuple[ParsedDose | AucDose, Fraction | None]:
    """The dose and duration (hours) ``component`` gives under ``variant``: the variant's where it states them."""
    dose = variant.dose if variant is not None and variant.dose is not None else component.dose
    duration = (
        variant.duration_hours
        if variant is not None and variant.duration_hours is not None
        else component.duration_hours
    )
    return dose, duration


# ---- doses ---------------------------------------------------------------------------------------


class _DoseWork(NamedTuple):
    """One day's amount, its rate (if any), hours of delivery that day, and the working: a named tuple, made for
    every distinct dose of a plan (a frozen dataclass's ``__init__`` writes each field through
    ``object.__setattr__``, three times the cost; issue 29)."""

    amount: Fraction
    rate: Fraction | None
    hours: Fraction | None
    calculation: str


_ONE = Fraction(1)


def basis_of(dose: ParsedDose, patient: Patient) -> tuple[Fraction, str]:
    """The patient factor for a dose and its text: (1.8, '× 1.8 m²')."""
    if dose.unit.basis == "weight":
        assert patient.weight_kg is not None
        return patient.weight_kg, f" × {format_fraction(patient.weight_kg)} kg"
    if dose.unit.basis == "bsa":
        assert patient.bsa_m2 is not None
        return patient.bsa_m2, f" × {format_fraction(patient.bsa_m2)} m²"
    return _ONE, ""  # a flat dose (a Fraction is immutable: one object serves every plan)


def hours_text(hours: Fraction) -> str:
    """'60 min', '2 h': a duration of an hour or less in minutes. The text of a duration a plan meets again (a
    component's stated duration, the same object in every plan) is kept by the object's identity, held and checked
    by ``is`` (:mod:`regimen.engine.fastpath`, 2); the memo is emptied when full."""
    found = _HOURS_TEXTS.get(id(hours))
    if found is not None and found[0] is hours:
        return found[1]
    said = f"{format_fraction(hours * 60)} min" if hours <= 1 else f"{format_fraction(hours)} h"
    if len(_HOURS_TEXTS) >= 1024:
        _HOURS_TEXTS.clear()
    _HOURS_TEXTS[id(hours)] = (hours, said)
    return said


#: :func:`hours_text` of each duration object met, by its identity (the entry holds the object).
_HOURS_TEXTS: dict[int, tuple[Fraction, str]] = {}


def dose_for_day(
    dose: ParsedDose,
    continuous: bool,
    duration_hours: Fraction | None,
    patient: Patient,
    rounding: Rounding,
    hours_today: Fraction = HOURS_PER_DAY,
    body: tuple[Fraction, str] | None = None,
    infusion_hours: Fraction | None = None,
) -> _DoseWork:
    """The amount given on one treatment day, with the working a pharmacist can check by hand.

    ``body`` overrides the patient factor (a dosing weight or a capped BSA) with its working text. A continuous
    infusion's day is its share of the whole infusion (:func:`infusion_dose`, over ``infusion_hours``: by default its
    stated duration): the whole infusion's working, then this day's share of it (:func:`share_text`).
    """
    if continuous:
        whole = infusion_hours if infusion_hours is not None else duration_hours or hours_today
        work = infusion_dose(dose, duration_hours, whole, patient, rounding, body)
        assert work.rate is not None
        unit = dose.unit.output_unit
        share = work.rate * hours_today
        return _DoseWork(
            share, work.rate, hours_today, f"{work.calculation}; {share_text(work.rate, hours_today, unit, rounding)}"
        )
    unit = dose.unit.output_unit
    per, head, conversion, factor_text = _written(dose, patient, body)
    if dose.unit.time == "hour":
        assert duration_hours is not None
        amount = per * duration_hours
        calc = (
            f"{head}{conversion} = {amount_text(per, unit + '/h', rounding)}; × {hours_text(duration_hours)} = "
            f"{amount_text(amount, unit, rounding)}"
        )
        return _DoseWork(amount, per, duration_hours, calc)
    calc = f"{head}{conversion} = {amount_text(per, unit, rounding)}" if factor_text or conversion else head
    return _timed(per, unit, duration_hours, calc, rounding)


def _written(dose: ParsedDose, patient: Patient, body: tuple[Fraction, str] | None) -> tuple[Fraction, str, str, str]:
    """The dose times the patient factor (in the output unit, per day / per hour / per administration), the
    working's head ('2,400 mg/m² × 1.8 m²'), a conversion of the written unit ('= 1.8 g'), and the factor's text."""
    factor, factor_text = body if body is not None else basis_of(dose, patient)
    (n, d), (p, q) = dose.canonical.as_integer_ratio(), factor.as_integer_ratio()
    per = Fraction(n * p, d * q)  # dose.canonical * factor: the product, one Fraction made (every dose of a plan)
    head = f"{dose.display}{factor_text}" if factor_text else f"{dose.display} (flat dose)"
    written_mass = _WRITTEN_MASS.get(dose.unit.symbol)
    if written_mass is None:  # the mass a unit is written in ('g' of 'g/m²/day'), once per unit symbol
        written_mass = _WRITTEN_MASS[dose.unit.symbol] = dose.unit.symbol.split("/")[0]
    conversion = ""
    if written_mass != dose.unit.output_unit:  # e.g. 1 g/m²/day × 1.8 m² = 1.8 g = 1,800 mg
        time = {"day": "/day", "hour": "/h", "none": ""}[dose.unit.time]
        conversion = f" = {format_fraction(Fraction(dose.value) * factor)} {written_mass}{time}"
    return per, head, conversion, factor_text


#: The mass part of each dose unit's symbol met (a unit's symbol is the regimen's, not the patient's).
_WRITTEN_MASS: dict[str, str] = {}


def infusion_dose(
    dose: ParsedDose,
    duration_hours: Fraction | None,
    hours: Fraction,
    patient: Patient,
    rounding: Rounding,
    body: tuple[Fraction, str] | None = None,
) -> _DoseWork:
    """A whole continuous infusion running ``hours`` (elapsed): its amount, its rate and the working, as it is
    prepared (one pump or bag): "2,400 mg/m² × 1.8 m² = 4,320 mg over 46 h = 93.91 mg/h"."""
    unit = dose.unit.output_unit
    per, head, conversion, _ = _written(dose, patient, body)
    if dose.unit.time == "none":  # a total over the infusion's duration (an ambulatory pump)
        assert duration_hours is not None
        rate = per / duration_hours
        calc = (
            f"{head}{conversion} = {amount_text(per, unit, rounding)} over {hours_text(duration_hours)} = "
            f"{amount_text(rate, unit + '/h', rounding)}"
        )
        return _DoseWork(per, rate, duration_hours, calc)
    if dose.unit.time == "hour":
        rate = per
        calc = f"{head}{conversion} = {amount_text(rate, unit + '/h', rounding)}"
    else:
        rate = per / HOURS_PER_DAY
        calc = (
            f"{head}{conversion} = {amount_text(per, unit + '/day', rounding)}, given as "
            f"{amount_text(rate, unit + '/h', rounding)}"
        )
    calc += f" continuously over {hours_text(hours)} = {amount_text(rate * hours, unit, rounding)}"
    return _DoseWork(rate * hours, rate, hours, calc)


def share_text(rate: Fraction, hours_today: Fraction, unit: str, rounding: Rounding) -> str:
    """A day's share of a continuous infusion, in its working: "this day's share: 93.91 mg/h × 24 h = 2,254 mg"."""
    return (
        f"this day's share: {amount_text(rate, unit + '/h', rounding)} × {hours_text(hours_today)} = "
        f"{amount_text(rate * hours_today, unit, rounding)}"
    )


def _timed(amount: Fraction, unit: str, duration_hours: Fraction | None, calc: str, rounding: Rounding) -> _DoseWork:
    """An amount given over a stated duration gets its rate ("over 60 min (1,800 mg/h)"); else none."""
    if duration_hours is None:
        return _DoseWork(amount, None, None, calc)
    rate = amount / duration_hours
    return _DoseWork(
        amount,
        rate,
        duration_hours,
        f"{calc} over {hours_text(duration_hours)} ({amount_text(rate, unit + '/h', rounding)})",
    )


#: Calvert: dose (mg) = target AUC × (GFR + 25).
CALVERT_OFFSET = 25


def auc_dose(dose: AucDose, gfr: Gfr, duration_hours: Fraction | None, rounding: Rounding) -> _DoseWork:
    """Calvert: dose (mg) = target AUC × (GFR + 25), with the GFR's source and cap in the working."""
    amount = Fraction(dose.value) * (gfr.used + CALVERT_OFFSET)
    calc = calvert_working(dose.display, gfr.text, amount_text(amount, "mg", rounding))
    return _timed(amount, "mg", duration_hours, calc, rounding)


def calvert_working(target: str, gfr_text: str, amount_text: str) -> str:
    """The working of a Calvert dose, given the texts of the target AUC (:attr:`AucDose.display`), the GFR and the
    amount: a plan's and a cohort's rows alike."""
    return f"{target} × ({gfr_text} + {CALVERT_OFFSET}) = {amount_text} (Calvert)"


#: One dose of a treatment day: (amount, rate, hours, working, dose number of several a day or None).
DayDose = tuple[Fraction, Fraction | None, Fraction | None, str, int | None]


def day_doses(
    comp: Component,
    dose: ParsedDose | AucDose,
    continuous: bool,
    duration: Fraction | None,
    hours_today: Fraction,
    patient: Patient,
    rounding: Rounding,
    *,
    level_step: str = "",
    body: tuple[Fraction, str] | None = None,
    gfr: Gfr | None = None,
    infusion_hours: Fraction | None = None,
) -> list[DayDose]:
    """The doses ``comp`` gives on one treatment day (one, or ``times_per_day`` of them), with their working: what a
    plan's rows and a cohort's rows are both made from. ``hours_today``: the day's hours of a continuous infusion
    (:attr:`Infusion.hours_today`), and ``infusion_hours`` the whole infusion's (:func:`dose_for_day`); ``gfr``: the
    patient's, for a target AUC."""
    if isinstance(dose, AucDose):
        assert gfr is not None
        work = auc_dose(dose, gfr, duration, rounding)
    else:
        work = dose_for_day(
            dose,
            continuous,
            duration,
            patient,
            rounding,
            hours_today=hours_today,
            body=body,
            infusion_hours=infusion_hours,
        )
    n = comp.times_per_day
    if n == 1:
        return [(work.amount, work.rate, work.hours, f"{level_step}{work.calculation}", None)]
    # several doses a day: a dose per day is shared among them, any other dose is each one's
    per_day = not isinstance(dose, AucDose) and dose.unit.time == "day"
    each = work.amount / n if per_day else work.amount
    unit = dose.unit.output_unit
    out: list[DayDose] = []
    for k in range(1, n + 1):
        split = (
            f" ÷ {n} doses = {amount_text(each, unit, rounding)} (dose {k} of {n})"
            if per_day
            else f" (dose {k} of {n}; {amount_text(each * n, unit, rounding)} a day)"
        )
        out.append((each, None, None, f"{level_step}{work.calculation}{split}", k))
    return out


def additives_step(comp: Component) -> str | None:
    """The working's last step for what is added to a component's fluid, as the source states it (never calculated),
    or None: a plan's rows and a cohort's rows alike."""
    if not comp.additives:
        return None
    return f"with {', '.join(map(str, comp.additives))} added (as the source states; not calculated)"


__all__ = [
    "CALVERT_OFFSET",
    "HOURS_PER_DAY",
    "DayDose",
    "additives_step",
    "auc_dose",
    "basis_of",
    "calvert_working",
    "choose_variant",
    "component_schedule",
    "day_doses",
    "dose_for_day",
    "hours_text",
    "infusion_dose",
    "share_text",
]
