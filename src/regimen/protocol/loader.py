"""Regimen files (TOML) -> :class:`~regimen.model.Regimen`, reporting every problem with its place.

The loader never stops at the first problem: it collects them all (file, component, field and
what to do) and raises one :class:`~regimen.errors.RegimenFileError` carrying the list, so
``regimen validate`` can print them all.
"""

from __future__ import annotations

import math
import re
import tomllib
from collections.abc import Callable
from decimal import Decimal
from fractions import Fraction
from functools import partial
from pathlib import Path
from typing import Any, TypeVar, cast

from regimen.errors import Problem, RegimenError, RegimenFileError
from regimen.model import (
    ACTIONS,
    DOSING_WEIGHTS,
    METHODS,
    ROLES,
    SUPPORTIVE_KINDS,
    Action,
    Additive,
    Amount,
    AucDose,
    Component,
    Condition,
    DayList,
    Days,
    Dose,
    DoseLevel,
    Eligibility,
    EmetogenicRisk,
    Gate,
    Method,
    Modification,
    Phase,
    Regimen,
    RelativeDays,
    Requirement,
    Role,
    Source,
    Step,
    Variant,
    resolve_days,
)
from regimen.protocol.conditions import parse_conditions
from regimen.protocol.fields import (
    COMPONENT_FIELDS,
    ELIGIBILITY_FIELDS,
    EMETOGENIC_FIELDS,
    GATE_FIELDS,
    MODIFICATION_FIELDS,
    PHASE_FIELDS,
    RELATIVE_FIELDS,
    REQUIREMENT_FIELDS,
    SOURCE_FIELDS,
    TOP_FIELDS,
    VARIANT_FIELDS,
)
from regimen.protocol.organ import bands
from regimen.quantities.days import day_list, parse_days, runs
from regimen.quantities.limits import (
    MAX_COURSE_DAYS,
    MAX_CYCLES,
    MAX_DAY,
    MAX_FILE_BYTES,
    MAX_INTEGER,
    MAX_ITEMS,
    MAX_NESTING,
    MAX_TEXT,
    LimitError,
    check_count,
    control_characters,
    fraction_from,
)
from regimen.quantities.rules import overlap, parse_rule, satisfiable
from regimen.quantities.units import (
    ParsedDose,
    classify_dose_unit,
    parse_dose,
    parse_duration_hours,
    parse_volume,
    split_number,
)

ID_PATTERN = re.compile(r"^[a-z0-9][a-z0-9._-]{0,63}$")
METHOD_ALIASES: dict[str, Method] = {
    "bolus": "bolus",
    "infusion": "infusion",
    "continuous infusion": "continuous infusion",
    "continuous": "continuous infusion",
    "iv push": "IV push",
    "push": "IV push",
    "slow iv push": "IV push",
}

TOP_KEYS = set(TOP_FIELDS)
PHASE_KEYS = set(PHASE_FIELDS)
COMPONENT_KEYS = set(COMPONENT_FIELDS)
ELIGIBILITY_KEYS = set(ELIGIBILITY_FIELDS)
_AUC = re.compile(r"^\s*AUC\s*=?\s*(\d+(?:\.\d+)?)\s*(?:mg\s*/\s*mL\s*[·.*]?\s*min)?\s*$", re.IGNORECASE)
_PERCENT = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*%\s*$")
VARIANT_KEYS = set(VARIANT_FIELDS)
RELATIVE_KEYS = set(RELATIVE_FIELDS)
SOURCE_KEYS = set(SOURCE_FIELDS)

T = TypeVar("T")


class _Collector:
    """Gathers problems for one file."""

    def __init__(self, file: str) -> None:
        self.file = file
        self.problems: list[Problem] = []

    def add(self, where: str, message: str) -> None:
        self.problems.append(Problem(self.file, where, message))

    def attempt(self, where: str, fn: Callable[[], T]) -> T | None:
        """Run ``fn``; a ValueError becomes a problem at ``where`` and the result is None."""
        try:
            return fn()
        except ValueError as exc:
            self.add(where, str(exc))
            return None

    def unknown_keys(self, where: str, table: dict[str, Any], allowed: set[str]) -> None:
        for key in sorted(set(table) - allowed):
            self.add(where, f"unknown field {key!r}; allowed fields are {', '.join(sorted(allowed))}")


def _where(
    component: str | None = None, field: str | None = None, phase: str | None = None, variant: int | None = None
) -> str:
    parts = []
    if phase:
        parts.append(f"phase {phase!r}")
    if component:
        parts.append(f"component {component!r}")
    if variant is not None:
        parts.append(f"variant {variant}")
    if field:
        parts.append(f"field {field!r}")
    return ", ".join(parts)


def _text(value: object, what: str) -> str:
    if not isinstance(value, str) or not value.strip():
        raise ValueError(f"{what} must be non-empty text")
    return value.strip()


def _positive_int(value: object, what: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f"{what} must be a whole number of at least 1, got {value!r}")
    if what == "cycles":
        check_count(value, "cycles", MAX_CYCLES)
    elif what in ("cycle_length", "on_day", "days_before"):
        check_count(value, what, MAX_DAY)
    return value


def _cycle_length(value: object) -> int:
    if isinstance(value, str):
        hours = parse_duration_hours(value)
        if hours % 24 != 0:
            raise ValueError(f"cycle_length {value!r} must be a whole number of days")
        value = int(hours / 24)
    return _positive_int(value, "cycle_length")


def _days_of(value: object) -> tuple[Fraction, str]:
    """A duration in days, with the text as written: '1 year' -> (365.25, '1 year')."""
    hours, text = _duration(value)
    return hours / 24, text


def _days(value: object) -> Days:
    if isinstance(value, dict):
        extra = set(value) - RELATIVE_KEYS
        if extra:
            raise ValueError(
                f"unknown key(s) {', '.join(sorted(extra))} in relative days; use relative_to, on_day "
                "or days_before, and count"
            )
        if "relative_to" not in value:
            raise ValueError("relative days need 'relative_to' (the id of the component they follow)")
        anchor = _text(value["relative_to"], "relative_to")
        has_on, has_before = "on_day" in value, "days_before" in value
        if has_on == has_before:
            raise ValueError(
                "relative days need exactly one of 'on_day' (day N of the other component) or "
                "'days_before' (N days before it starts)"
            )
        count = _positive_int(value.get("count", 1), "count")
        if has_on:
            return RelativeDays(anchor, count, on_day=_positive_int(value["on_day"], "on_day"))
        return RelativeDays(anchor, count, days_before=_positive_int(value["days_before"], "days_before"))
    if isinstance(value, (str, int, list)):
        return DayList(parse_days(cast("str | int | list[object]", value)))
    raise ValueError('days must be a day list ("2-4", "1,8,15") or a table relative to another component')


def _times_per_day(value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= 24:
        raise ValueError(f"times_per_day must be a whole number of doses a day from 1 to 24, got {value!r}")
    return value


def _duration(value: object) -> tuple[Fraction, str]:
    """Exact hours and the text; at most a whole course's days (a longer time is no protocol's and would overflow
    the clock arithmetic of a plan with times of day)."""
    text = _text(value, "duration")
    hours = parse_duration_hours(text)
    if hours > MAX_COURSE_DAYS * 24:
        raise LimitError(
            f"duration {text!r} is longer than regimen plans (at most {MAX_COURSE_DAYS:,} days, a hundred years)"
        )
    return hours, text


def _method(value: object) -> Method:
    text = " ".join(_text(value, "method").lower().split())
    if text not in METHOD_ALIASES:
        raise ValueError(
            f"unknown method {value!r}; use one of {', '.join(METHODS)} (or leave it out when the source does not say)"
        )
    return METHOD_ALIASES[text]


def _dose(value: object) -> Dose:
    """A dose as written: '12 mg/m²/day', '0.1 mg/kg/h', '40 mg', or a target AUC 'AUC 5' (Calvert)."""
    text = _text(value, "dose")
    auc = _AUC.match(text)
    if auc:
        number = Decimal(auc.group(1))
        if number <= 0:
            raise ValueError(f"dose {text!r}: the target AUC must be positive")
        return AucDose(text=text, value=number)
    if text.lower().startswith("auc"):
        raise ValueError(f"dose {text!r}: write a target AUC as 'AUC 5' (mg/mL·min)")
    return parse_dose(text)


def amount(value: object, what: str) -> Amount:
    """A plain amount of drug, '2 mg' or '500 mcg' (no per kg, per m² or per day)."""
    text = _text(value, what)
    split = split_number(text)
    if split is None or not split[1]:
        raise ValueError(f"{what} {text!r} must be an amount with a unit, e.g. '2 mg'")
    unit = classify_dose_unit(split[1])
    if unit.basis != "flat" or unit.time != "none":
        raise ValueError(f"{what} {text!r} must be a plain amount (mg, g or mcg), not per kg, m² or time")
    if not split[0].is_finite() or split[0] <= 0:
        raise ValueError(f"{what} {text!r} must be positive")
    return Amount(text=text, value=Fraction(split[0]) * unit.to_canonical, unit=unit.output_unit)


def percent(value: object, what: str) -> Fraction:
    """'75%' -> Fraction(75); must be more than 0."""
    match = _PERCENT.match(value) if isinstance(value, str) else None
    if match is None:
        raise ValueError(f"{what} {value!r} must be a percentage such as '75%'")
    number = Fraction(Decimal(match.group(1)))
    if number <= 0:
        raise ValueError(f"{what} {value!r} must be more than 0%")
    return number


def _levels(value: object, dose: Dose | None) -> tuple[DoseLevel, ...]:
    if not isinstance(value, dict) or not value:
        raise ValueError('levels must be a table such as { "-1" = "75%", "-2" = "9 mg/m²/day" }')
    out = []
    for key, raw in value.items():
        try:
            level = int(str(key).strip())
        except ValueError:
            raise ValueError(f"dose level {key!r} must be a whole number such as -1 or -2") from None
        if level == 0:
            raise ValueError("dose level 0 is the full dose: list only the other levels (-1, -2, ...)")
        if isinstance(raw, str) and _PERCENT.match(raw):
            out.append(DoseLevel(level=level, percent=percent(raw, f"dose level {level}")))
            continue
        level_dose = _dose(raw)
        if isinstance(level_dose, AucDose) or (
            dose is not None
            and (
                isinstance(dose, AucDose)
                or level_dose.unit.basis != dose.unit.basis
                or level_dose.unit.time != dose.unit.time
            )
        ):
            shown = dose.text if dose is not None else "the dose"
            raise ValueError(
                f"dose level {level} {level_dose.text!r} must be a percentage or a dose written like {shown!r}"
            )
        out.append(DoseLevel(level=level, dose=level_dose))
    return tuple(sorted(out, key=lambda x: -x.level))


def _amount_field(c: _Collector, where: str, raw: dict[str, Any], key: str) -> Amount | None:
    if key not in raw:
        return None
    return c.attempt(where, lambda: amount(raw[key], key))


def _dosing_weight(value: object) -> str:
    text = _text(value, "dosing_weight").lower()
    if text not in DOSING_WEIGHTS:
        raise ValueError(f"dosing_weight {value!r} is not known; use one of {', '.join(DOSING_WEIGHTS)}")
    return text


def _eligibility(value: object) -> Eligibility:
    if not isinstance(value, dict):
        raise ValueError("eligibility must be a table such as { min_age = 18 }")
    extra = set(value) - ELIGIBILITY_KEYS
    if extra:
        raise ValueError(f"unknown eligibility field(s) {', '.join(sorted(extra))}; use min_age and/or max_age")
    ages: dict[str, Fraction] = {}
    for key in ("min_age", "max_age"):
        if key in value:
            raw = value[key]
            if isinstance(raw, bool) or not isinstance(raw, (int, float)) or raw < 0:
                raise ValueError(f"eligibility {key} must be a number of years, got {raw!r}")
            ages[key] = fraction_from(raw, f"eligibility {key}")
    if not ages:
        raise ValueError("eligibility needs min_age and/or max_age (years)")
    if "min_age" in ages and "max_age" in ages and ages["min_age"] > ages["max_age"]:
        raise ValueError("eligibility min_age is above max_age")
    return Eligibility(min_age=ages.get("min_age"), max_age=ages.get("max_age"))


def _slug(drug: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", drug.lower()).strip("-")


def _check_schedule(
    c: _Collector,
    where: Callable[[str], str],
    method: Method | None,
    dose: Dose | None,
    days: Days | None,
    duration: Fraction | None,
) -> None:
    """Checks that tie dose, method, duration and days together (for a component or a variant)."""
    if dose is None:
        return
    if method == "continuous infusion":
        if isinstance(dose, AucDose):
            c.add(
                where("method"),
                f"a target AUC ({dose.text!r}) is one dose, not a continuous infusion over days: "
                "use method 'infusion' with its duration",
            )
        elif dose.unit.time == "none" and duration is None:
            # a total over a duration (an ambulatory pump): the duration is what makes it a rate. Never suggest
            # another unit here: '2400 mg/m²' and '2400 mg/m²/day' are different amounts over 46 h.
            c.add(
                where("duration"),
                f"a continuous infusion of a total dose ({dose.text!r}) needs the time it runs, "
                'e.g. duration = "46 h"; if the source gives a dose per day or per hour, write the dose as it '
                "does",
            )
        if duration is not None:
            # an infusion of 46 h runs on 2 treatment days (24 h, then 22 h)
            length = math.ceil(duration / 24)
            if isinstance(days, DayList):
                bad = [f"{a}-{b}" for a, b in runs(days.days) if (b - a + 1) % length]
                if bad:
                    c.add(
                        where("days"),
                        f"days {', '.join(bad)} do not fit a {length}-day infusion: list the days the "
                        'infusion runs, e.g. "1-4"',
                    )
            elif isinstance(days, RelativeDays) and days.count % length != 0:
                c.add(where("days"), f"count {days.count} does not fit a {length}-day infusion")
    else:
        if dose.unit.time == "hour" and (method != "infusion" or duration is None):
            c.add(
                where("dose"),
                f"a dose per hour ({dose.text!r}) needs method 'infusion' with a duration, or "
                "method 'continuous infusion'",
            )
        if method == "bolus" and duration is not None:
            c.add(where("duration"), "a bolus has no duration: use method 'infusion' for a timed infusion")


def _variant(c: _Collector, raw: object, comp_where: Callable[..., str], index: int) -> Variant | None:
    def where(field: str | None = None) -> str:
        return comp_where(field=field, variant=index)

    if not isinstance(raw, dict):
        c.add(where(), "a variant must be a table with 'when' and the fields it changes")
        return None
    c.unknown_keys(where(), raw, VARIANT_KEYS)
    if "when" not in raw:
        c.add(where("when"), 'missing: a variant needs a rule, e.g. when = "age > 60"')
        return None
    rule = c.attempt(where("when"), lambda: parse_rule(_text(raw["when"], "when")))
    if rule is None:
        return None
    if not satisfiable(rule):
        c.add(where("when"), f"rule {rule.text!r} can never hold: fix the numbers")
    changes = {k for k in raw if k in {"dose", "days", "duration"}}
    if not changes:
        c.add(where(), "a variant must change at least one of dose, days or duration")
    dose = c.attempt(where("dose"), lambda: _dose(raw["dose"])) if "dose" in raw else None
    days = c.attempt(where("days"), lambda: _days(raw["days"])) if "days" in raw else None
    duration = c.attempt(where("duration"), lambda: _duration(raw["duration"])) if "duration" in raw else None
    note = c.attempt(where("note"), lambda: _text(raw["note"], "note")) if "note" in raw else None
    return Variant(
        when=rule,
        dose=dose,
        days=days,
        duration_hours=duration[0] if duration else None,
        duration_text=duration[1] if duration else None,
        note=note,
    )


def _component(c: _Collector, raw: object, phase: str | None, index: int) -> Component | None:
    if not isinstance(raw, dict):
        c.add(_where(phase=phase), f"component {index} must be a table ([[component]])")
        return None
    drug = raw.get("drug")
    label = raw.get("id") if isinstance(raw.get("id"), str) else (drug if isinstance(drug, str) else f"#{index}")

    def where(field: str | None = None, variant: int | None = None) -> str:
        return _where(component=str(label), field=field, phase=phase, variant=variant)

    c.unknown_keys(where(), raw, COMPONENT_KEYS)
    for required in ("drug", "days"):
        if required not in raw:
            c.add(where(required), f"missing: every component needs {required}")
    support = _supportive(c, raw, where)
    if "dose" not in raw and (support is None or support["volume"] is None):
        c.add(where("dose"), "missing: every component needs a dose (or, for a supportive fluid, a volume)")
    drug_name = c.attempt(where("drug"), lambda: _text(raw["drug"], "drug")) if "drug" in raw else None
    comp_id = (
        c.attempt(where("id"), lambda: _text(raw["id"], "id"))
        if "id" in raw
        else (_slug(drug_name) if drug_name else None)
    )
    if comp_id is not None and not ID_PATTERN.match(comp_id):
        c.add(where("id"), f"component id {comp_id!r} must be lower-case letters, digits and '-'")
    dose = c.attempt(where("dose"), lambda: _dose(raw["dose"])) if "dose" in raw else None
    if dose is None and "dose" not in raw and support is not None and support["volume"] is not None:
        dose = support["volume"]  # a fluid: its volume is what is given, its rate mL/h
    days = c.attempt(where("days"), lambda: _days(raw["days"])) if "days" in raw else None
    in_cycles = c.attempt(where("in_cycles"), lambda: parse_days(raw["in_cycles"])) if "in_cycles" in raw else None
    method = c.attempt(where("method"), lambda: _method(raw["method"])) if "method" in raw else None
    times = (
        c.attempt(where("times_per_day"), lambda: _times_per_day(raw["times_per_day"])) if "times_per_day" in raw else 1
    )
    if times is not None and times > 1 and method in ("continuous infusion", "infusion"):
        c.add(
            where("times_per_day"),
            f"{times} doses a day cannot be one {method}: give each dose's method, e.g. "
            "'bolus', or leave the method out for an oral, SC or IM drug",
        )
    after = c.attempt(where("after"), lambda: _text(raw["after"], "after")) if "after" in raw else None
    if "after_last" in raw:
        if after is not None:
            c.add(where("after_last"), "give 'after' or 'after_last', not both")
        after = c.attempt(where("after_last"), lambda: _text(raw["after_last"], "after_last"))
    before = c.attempt(where("before"), lambda: _text(raw["before"], "before")) if "before" in raw else None
    if before is not None and after is not None:
        c.add(where("before"), "a component comes 'before' one component or 'after' another, not both")
    gap = c.attempt(where("gap"), lambda: _duration(raw["gap"])) if "gap" in raw else None
    if gap is not None and after is None and before is None:
        c.add(where("gap"), "a gap is the time after another component (or before one): give 'after' or 'before' too")
    route = c.attempt(where("route"), lambda: _text(raw["route"], "route")) if "route" in raw else None
    duration = c.attempt(where("duration"), lambda: _duration(raw["duration"])) if "duration" in raw else None
    note = c.attempt(where("note"), lambda: _text(raw["note"], "note")) if "note" in raw else None
    caps = {k: _amount_field(c, where(k), raw, k) for k in ("max_dose", "max_daily", "max_per_cycle")}
    round_to = _amount_field(c, where("round"), raw, "round")
    levels = c.attempt(where("levels"), lambda: _levels(raw["levels"], dose)) if "levels" in raw else None
    dosing_weight = (
        c.attempt(where("dosing_weight"), lambda: _dosing_weight(raw["dosing_weight"]))
        if "dosing_weight" in raw
        else None
    )
    organ = {k: c.attempt(where(k), partial(bands, raw[k], k)) if k in raw else () for k in ("renal", "hepatic")}
    if dosing_weight is not None and dose is not None and dose.unit.basis != "weight":
        c.add(where("dosing_weight"), f"dosing_weight applies to doses per kg; {dose.text!r} is not per kg")
    raw_variants = raw.get("variant", [])
    if not isinstance(raw_variants, list):
        c.add(where("variant"), "variants must be written as [[component.variant]] tables")
        raw_variants = []
    variants = [v for i, raw_v in enumerate(raw_variants, 1) if (v := _variant(c, raw_v, where, i)) is not None]
    hours = duration[0] if duration else None
    _check_schedule(c, where, method, dose, days, hours)
    for i, v in enumerate(variants, 1):
        _check_schedule(
            c,
            partial(where, variant=i),
            method,
            v.dose or dose,
            v.days or days,
            v.duration_hours if v.duration_hours is not None else hours,
        )
        if v.dose is not None and dose is not None and v.dose.unit.basis != dose.unit.basis:
            c.add(where("dose", i), f"variant dose {v.dose.text!r} is on a different basis from {dose.text!r}")
    for i in range(len(variants)):
        for j in range(i + 1, len(variants)):
            if overlap(variants[i].when, variants[j].when):
                c.add(
                    where("variant"),
                    f"contradictory variants: rules {variants[i].when.text!r} and "
                    f"{variants[j].when.text!r} can both hold; make them exclusive",
                )
    if comp_id is None or drug_name is None or dose is None or days is None:
        return None
    return Component(
        id=comp_id,
        drug=drug_name,
        dose=dose,
        days=days,
        route=route,
        method=method,
        duration_hours=hours,
        duration_text=duration[1] if duration else None,
        variants=tuple(variants),
        note=note,
        max_dose=caps["max_dose"],
        max_daily=caps["max_daily"],
        max_per_cycle=caps["max_per_cycle"],
        levels=levels or (),
        dosing_weight=dosing_weight,
        round_to=round_to,
        times_per_day=times or 1,
        after=after,
        gap_hours=gap[0] if gap else None,
        gap_text=gap[1] if gap else None,
        renal=organ["renal"] or (),
        hepatic=organ["hepatic"] or (),
        role=support["role"] if support else "anticancer",
        kind=support["kind"] if support else None,
        before=before,
        after_last="after_last" in raw,
        volume=support["volume"] if support else None,
        additives=support["additives"] if support else (),
        in_cycles=in_cycles,
    )


def _supportive(c: _Collector, raw: dict[str, Any], where: Callable[..., str]) -> dict[str, Any] | None:
    """The supportive-care fields of a component (role, kind, volume, additives), checked together; None when the
    component has none of them (an anticancer drug)."""
    keys = {"role", "kind", "volume", "additives"} & set(raw)
    if not keys:
        return None
    role: Role = "anticancer"
    if "role" in raw:
        if raw["role"] not in ROLES:
            c.add(where("role"), f"role {raw['role']!r} is not known; use one of {', '.join(ROLES)}")
        else:
            role = raw["role"]
    kind = None
    if "kind" in raw:
        if raw["kind"] not in SUPPORTIVE_KINDS:
            c.add(where("kind"), f"kind {raw['kind']!r} is not known; use one of {', '.join(SUPPORTIVE_KINDS)}")
        else:
            kind = str(raw["kind"])
    if role == "supportive" and "kind" not in raw:
        c.add(where("kind"), f"supportive care needs its kind: one of {', '.join(SUPPORTIVE_KINDS)}")
    if role != "supportive" and ({"kind", "volume", "additives"} & keys):
        c.add(where("role"), "kind, volume and additives are for supportive care: add role = 'supportive'")
    volume: ParsedDose | None = None
    if "volume" in raw:
        volume = c.attempt(where("volume"), lambda: parse_volume(_text(raw["volume"], "volume")))
    additives: list[Additive] = []
    raw_additives = raw.get("additives", [])
    if not isinstance(raw_additives, list):
        raw_additives = [raw_additives]
    for i, item in enumerate(raw_additives, 1):
        if not isinstance(item, dict) or set(item) != {"drug", "amount"}:
            c.add(where("additives"), f'additive {i} must be a table {{ drug = "...", amount = "20 mmol" }}')
            continue
        drug = c.attempt(where("additives"), partial(_text, item["drug"], "drug"))
        amt = c.attempt(where("additives"), partial(_text, item["amount"], "amount"))
        if drug and amt:
            additives.append(Additive(drug, amt))
    return {"role": role, "kind": kind, "volume": volume, "additives": tuple(additives)}


def _phase(c: _Collector, raw: dict[str, Any], phase_id: str, phase_label: str | None) -> Phase | None:
    where = _where(phase=phase_label)
    name = (
        c.attempt(_where("", "name", phase_label), lambda: _text(raw["name"], "name"))
        if "name" in raw and phase_label
        else None
    )
    cycle_length = (
        c.attempt(_where(None, "cycle_length", phase_label), lambda: _cycle_length(raw["cycle_length"]))
        if "cycle_length" in raw
        else None
    )
    cycles = (
        c.attempt(_where(None, "cycles", phase_label), lambda: _positive_int(raw["cycles"], "cycles"))
        if "cycles" in raw
        else None
    )
    limit = (
        c.attempt(_where(None, "limit", phase_label), lambda: _text(raw["limit"], "limit")) if "limit" in raw else None
    )
    max_duration = (
        c.attempt(_where(None, "max_duration", phase_label), lambda: _days_of(raw["max_duration"]))
        if "max_duration" in raw
        else None
    )
    raw_components = raw.get("component", [])
    if not isinstance(raw_components, list) or not raw_components:
        c.add(where or "", "no components: add at least one [[component]] table")
        return None
    components = [x for i, r in enumerate(raw_components, 1) if (x := _component(c, r, phase_label, i)) is not None]
    if len(components) != len(raw_components):
        declared = {_declared_id(r) for r in raw_components} - {None}
        _check_anchors(c, components, {d for d in declared if d is not None}, phase_label)
        return None
    seen: set[str] = set()
    for comp in components:
        if comp.id in seen:
            c.add(_where(comp.id, "id", phase_label), f"duplicate component id {comp.id!r}: give each an 'id'")
        seen.add(comp.id)
    phase = Phase(
        id=phase_id,
        name=name,
        components=tuple(components),
        cycle_length=cycle_length,
        cycles=cycles,
        limit=limit,
        max_duration=max_duration,
    )
    _check_references(c, phase, phase_label)
    return phase


def _declared_id(raw: object) -> str | None:
    """The id a raw component table declares (explicitly or from its drug), even if it fails to load."""
    if not isinstance(raw, dict):
        return None
    if isinstance(raw.get("id"), str):
        return str(raw["id"]).strip()
    return _slug(raw["drug"]) if isinstance(raw.get("drug"), str) else None


def _check_anchors(c: _Collector, components: list[Component], ids: set[str], label: str | None) -> bool:
    """Relative days and 'after' must name a component of the same phase (and 'after' must not loop); True when
    they all do."""
    ok = True
    follows = {comp.id: comp.after for comp in components if comp.after is not None}
    for comp in components:
        if comp.after is not None and comp.after not in ids:
            c.add(
                _where(comp.id, "after", label),
                f"after {comp.after!r} is not a component here; use one of {', '.join(sorted(ids))}",
            )
            ok = False
            continue
        seen, node = [comp.id], comp.after
        while node is not None and node in follows and node not in seen:
            seen.append(node)
            node = follows[node]
        if node is not None and node in seen:
            c.add(
                _where(comp.id, "after", label),
                f"'after' forms a loop ({' -> '.join([*seen, node])}); one of them must start first",
            )
            ok = False
    for comp in components:
        if comp.before is not None and comp.before not in ids:
            c.add(
                _where(comp.id, "before", label),
                f"before {comp.before!r} is not a component here; use one of {', '.join(sorted(ids))}",
            )
            ok = False
    given_in = {comp.id: comp.in_cycles for comp in components}
    for comp in components:
        anchors = [(f, a) for f, a in (("after", comp.after), ("before", comp.before)) if a is not None]
        anchors += [
            ("days", d.relative_to)
            for d in (comp.days, *(v.days for v in comp.variants))
            if isinstance(d, RelativeDays)
        ]
        for field, anchor in anchors:
            cycles = given_in.get(anchor)
            if cycles is None or cycles == comp.in_cycles:
                continue
            c.add(
                _where(comp.id, field, label),
                f"{anchor!r} is given only in cycles {day_list(cycles)}: a component timed by it must be given in "
                "the same cycles (in_cycles)",
            )
            ok = False
    for comp in components:
        for i, days in [(None, comp.days)] + [(n, v.days) for n, v in enumerate(comp.variants, 1)]:
            if isinstance(days, RelativeDays) and days.relative_to not in ids:
                c.add(
                    _where(comp.id, "days", label, i),
                    f"relative_to {days.relative_to!r} is not a component here; use one of {', '.join(sorted(ids))}",
                )
                ok = False
    return ok


def _check_references(c: _Collector, phase: Phase, label: str | None) -> None:
    """Relative days must name a component of the same phase, without loops, and land on days ≥ 1."""
    if not _check_anchors(c, list(phase.components), {comp.id for comp in phase.components}, label):
        return
    for comp in phase.components:
        try:
            days_all = resolve_days(phase, comp.id, lambda _c: None)
        except RegimenError as exc:
            c.add(_where(comp.id, "days", label), str(exc))
            continue
        if comp.after_last and comp.after is not None:
            anchor_days = resolve_days(phase, comp.after, lambda _c: None)
            if days_all[0] < anchor_days[-1]:
                c.add(
                    _where(comp.id, "days", label),
                    f"day {days_all[0]} is before the last dose of {comp.after} (day {anchor_days[-1]}), which "
                    "after_last says it follows",
                )
        if phase.cycle_length is not None and days_all[-1] > phase.cycle_length:
            c.add(
                _where(comp.id, "days", label),
                f"day {days_all[-1]} is after the end of the {phase.cycle_length}-day cycle",
            )


def load_text(text: str, file: str = "<string>") -> Regimen:
    """Parse regimen TOML text; raise :class:`RegimenFileError` listing every problem.

    The limits of :mod:`regimen.quantities.limits` are checked before and right after parsing: the size of the
    text, the nesting of tables and arrays, the length of texts and arrays, finite numbers of a sane size, no
    control characters."""
    if text.startswith("\ufeff"):  # a byte-order mark, as Windows editors write UTF-8: not part of the TOML
        text = text[1:]
    if len(text.encode("utf-8", errors="replace")) > MAX_FILE_BYTES:
        raise RegimenFileError(
            [Problem(file, "", f"the file is larger than {MAX_FILE_BYTES:,} bytes; a regimen file is a few KB")]
        )
    depth = _bracket_depth(text)
    if depth > MAX_NESTING:
        raise RegimenFileError(
            [Problem(file, "", f"tables and arrays are nested {depth} deep; at most {MAX_NESTING} are read")]
        )
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise RegimenFileError([Problem(file, "", f"not valid TOML ({exc}); check quotes and brackets")]) from None
    except RecursionError:  # the bracket count above comes first; this is the backstop
        raise RegimenFileError([Problem(file, "", f"nested too deeply; at most {MAX_NESTING} levels")]) from None
    return load_data(data, file)


def _bracket_depth(text: str) -> int:
    """The deepest nesting of [ and { outside strings and comments: a cheap bound checked before the TOML parser
    (which recurses, and would fail deep inside with a RecursionError)."""
    depth = deepest = 0
    quote: str | None = None
    i, n = 0, len(text)
    while i < n:
        ch = text[i]
        if quote is not None:
            if ch == "\\" and quote == '"':
                i += 2
                continue
            if text.startswith(quote, i):
                i += len(quote)
                quote = None
                continue
        elif ch == "#":
            end = text.find("\n", i)
            i = n if end < 0 else end
            continue
        elif text.startswith('"""', i) or text.startswith("'''", i):
            quote = text[i : i + 3]
            i += 3
            continue
        elif ch in "\"'":
            quote = ch
        elif ch in "[{":
            depth += 1
            deepest = max(deepest, depth)
        elif ch in "]}":
            depth = max(0, depth - 1)
        i += 1
    return deepest


def _document_limits(data: object, where: str = "", level: int = 0) -> list[tuple[str, str]]:
    """Every value of the parsed file within the limits: texts, arrays, numbers and nesting."""
    out: list[tuple[str, str]] = []
    if level > MAX_NESTING:
        return [(where, f"nested more than {MAX_NESTING} deep")]
    if isinstance(data, dict):
        if len(data) > MAX_ITEMS:
            out.append((where, f"{len(data):,} fields; at most {MAX_ITEMS:,} are read"))
        for key, value in data.items():
            out += _document_limits(value, f"{where}.{key}" if where else str(key), level + 1)
    elif isinstance(data, list):
        if len(data) > MAX_ITEMS:
            out.append((where, f"{len(data):,} items; at most {MAX_ITEMS:,} are read"))
        for i, value in enumerate(data[:MAX_ITEMS]):
            out += _document_limits(value, f"{where}[{i}]", level + 1)
    elif isinstance(data, str):
        if len(data) > MAX_TEXT:
            out.append((where, f"text of {len(data):,} characters; at most {MAX_TEXT:,} are read"))
        bad = control_characters(data)
        if bad:
            out.append(
                (where, f"contains the control character U+{ord(bad[0]):04X}; remove it (only line breaks and tabs)")
            )
    elif isinstance(data, float) and (data != data or data in (float("inf"), float("-inf"))):
        out.append((where, f"{data} is not a finite number"))
    elif isinstance(data, (int, float)) and not isinstance(data, bool) and abs(data) > MAX_INTEGER:
        shown = f"{data:.6g}" if isinstance(data, float) else f"a number of {len(str(abs(data)))} digits"
        out.append((where, f"{shown} is out of range (at most {MAX_INTEGER:,})"))
    return out


def load_data(data: dict[str, Any], file: str = "<data>") -> Regimen:
    """A regimen from parsed TOML (or any mapping a program builds), within the limits of
    :mod:`regimen.quantities.limits` and validated field by field."""
    problems = [Problem(file, where, message) for where, message in _document_limits(data)]
    if problems:
        raise RegimenFileError(problems[:20])
    c = _Collector(file)
    c.unknown_keys("", data, TOP_KEYS)
    for required in ("id", "name", "source"):
        if required not in data:
            c.add(_where(field=required), f"missing: every regimen needs {required}")
    regimen_id = c.attempt(_where(field="id"), lambda: _text(data["id"], "id")) if "id" in data else None
    if regimen_id is not None and not ID_PATTERN.match(regimen_id):
        c.add(_where(field="id"), f"regimen id {regimen_id!r} must be lower-case letters, digits, '.', '-' or '_'")
    name = c.attempt(_where(field="name"), lambda: _text(data["name"], "name")) if "name" in data else None
    optional = {
        k: c.attempt(_where(field=k), partial(_text, data[k], k)) for k in ("indication", "status") if k in data
    }
    version = str(data["version"]) if "version" in data else None
    notes_raw = data.get("notes", [])
    notes = tuple(n for n in notes_raw if isinstance(n, str)) if isinstance(notes_raw, list) else ()
    if not isinstance(notes_raw, list) or len(notes) != len(notes_raw):
        c.add(_where(field="notes"), "notes must be a list of text")
    sources = _sources(c, data.get("source", []))
    dosing_weight = (
        c.attempt(_where(field="dosing_weight"), lambda: _dosing_weight(data["dosing_weight"]))
        if "dosing_weight" in data
        else None
    )
    eligibility = (
        c.attempt(_where(field="eligibility"), lambda: _eligibility(data["eligibility"]))
        if "eligibility" in data
        else None
    )
    phases: list[Phase] = []
    if "phase" in data:
        for key in ("component", "cycle_length", "cycles", "limit", "max_duration"):
            if key in data:
                c.add(_where(field=key), f"{key} belongs inside each [[phase]] when a regimen has phases")
        raw_phases = data["phase"]
        if not isinstance(raw_phases, list) or not raw_phases:
            c.add(_where(field="phase"), "phases must be [[phase]] tables")
            raw_phases = []
        for i, raw in enumerate(raw_phases, 1):
            if not isinstance(raw, dict):
                c.add(_where(field="phase"), f"phase {i} must be a table")
                continue
            label = raw.get("id") if isinstance(raw.get("id"), str) else f"#{i}"
            c.unknown_keys(_where(phase=label), raw, PHASE_KEYS)
            if "id" not in raw:
                c.add(_where(phase=label, field="id"), "missing: every phase needs an id")
            elif not ID_PATTERN.match(str(label)):
                c.add(_where(phase=label, field="id"), "phase id must be lower-case letters, digits and '-'")
            phase = _phase(c, raw, str(label), str(label))
            if phase is not None:
                phases.append(phase)
        if len({p.id for p in phases}) != len(phases):
            c.add(_where(field="phase"), "duplicate phase ids")
    elif "component" not in data:
        c.add(_where(field="component"), "missing: add at least one [[component]] table")
    else:
        phase = _phase(c, data, "main", None)
        if phase is not None:
            phases.append(phase)
    protocol = _protocol(c, data, [comp for p in phases for comp in p.components])
    if c.problems or regimen_id is None or name is None:
        raise RegimenFileError(c.problems or [Problem(file, "", "invalid regimen")])
    return Regimen(
        id=regimen_id,
        name=name,
        phases=tuple(phases),
        sources=tuple(sources),
        indication=optional.get("indication"),
        status=optional.get("status"),
        version=version,
        notes=notes,
        path=None if file.startswith("<") else file,
        dosing_weight=dosing_weight,
        eligibility=eligibility,
        **protocol,
    )


def _tables(c: _Collector, data: dict[str, Any], key: str, allowed: set[str]) -> list[tuple[str, dict[str, Any]]]:
    """The ``[[key]]`` tables of a file, each with its place for messages; unknown fields reported."""
    raw = data.get(key, [])
    if not isinstance(raw, list):
        c.add(_where(field=key), f"{key} must be [[{key}]] tables")
        return []
    out = []
    for i, table in enumerate(raw, 1):
        where = f"{key} {i}"
        if not isinstance(table, dict):
            c.add(where, f"a {key} must be a table")
            continue
        c.unknown_keys(where, table, allowed)
        out.append((where, table))
    return out


def _drugs(c: _Collector, where: str, value: object, components: list[Component]) -> tuple[str, ...]:
    """Components or drug names, each naming one of the regimen's."""
    names = {comp.id for comp in components} | {comp.drug.lower() for comp in components}
    if not isinstance(value, list) or not all(isinstance(v, str) and v.strip() for v in value):
        c.add(where, "must be a list of component ids or drug names")
        return ()
    for v in value:
        if v.strip().lower() not in names:
            c.add(where, f"{v!r} is not a component or drug of this regimen; use one of {', '.join(sorted(names))}")
    return tuple(v.strip() for v in value)


def _step(c: _Collector, where: str, raw: dict[str, Any], components: list[Component]) -> Step | None:
    action = raw.get("action")
    if action not in ACTIONS:
        c.add(where + ", field 'action'", f"action {action!r} is not known; use one of {', '.join(ACTIONS)}")
        return None
    drugs = _drugs(c, where + ", field 'drugs'", raw["drugs"], components) if "drugs" in raw else ()
    delay = c.attempt(where + ", field 'delay'", lambda: _duration(raw["delay"])) if "delay" in raw else None
    delay_days = None
    if delay is not None:
        if delay[0] % 24:
            c.add(where + ", field 'delay'", f"delay {delay[1]!r} must be a whole number of days")
        delay_days = int(delay[0] // 24)
    level = raw.get("level")
    if level is not None and (isinstance(level, bool) or not isinstance(level, int) or level >= 0):
        c.add(where + ", field 'level'", f"level {level!r} must be a dose level below 0, e.g. -1")
        level = None
    pct = (
        c.attempt(where + ", field 'dose_percent'", lambda: percent(raw["dose_percent"], "dose_percent"))
        if ("dose_percent" in raw)
        else None
    )
    dose = (
        c.attempt(where + ", field 'dose'", lambda: parse_dose(_text(raw["dose"], "dose"))) if "dose" in raw else None
    )
    said = sum(x is not None for x in (level, pct, dose))
    if action == "reduce" and said != 1:
        c.add(where, "a reduction gives exactly one of level (-1), dose_percent ('75%') or dose ('65 mg/m²')")
    if action != "reduce" and said:
        c.add(where, f"level, dose_percent and dose belong to a reduction, not to {action!r}")
    if action == "delay" and delay_days is None:
        c.add(where, "a delay says how long: delay = '7 days'")
    if action != "delay" and delay_days is not None:
        c.add(where, f"'delay' belongs to action 'delay', not {action!r}")
    if action in ("reduce", "omit") and not drugs:
        c.add(where, f"{action} names the drugs it applies to: drugs = [...]")
    for drug in drugs if level is not None else ():
        for comp in components:
            if drug.lower() in (comp.id, comp.drug.lower()) and not any(x.level == level for x in comp.levels):
                c.add(where, f"{comp.id} has no dose level {level}: add it to the component's levels")
    act: Action = action
    return Step(act, drugs, delay_days, level, pct, dose)


def _conditions(value: object, what: str) -> tuple[Condition, ...]:
    return parse_conditions(_text(value, what))


def _protocol(c: _Collector, data: dict[str, Any], components: list[Component]) -> dict[str, Any]:
    """The whole protocol beyond the doses: emetogenic risk, pre-treatment requirements, gates and modifications."""
    out: dict[str, Any] = {}
    if "emetogenic_risk" in data:
        raw = data["emetogenic_risk"]
        if not isinstance(raw, dict) or not {"level", "source"} <= set(raw):
            c.add(_where(field="emetogenic_risk"), 'emetogenic_risk is a table { level = "high", source = "..." }')
        else:
            c.unknown_keys("emetogenic_risk", raw, set(EMETOGENIC_FIELDS))
            levels = EMETOGENIC_FIELDS["level"]["enum"]
            if raw["level"] not in levels:
                c.add("emetogenic_risk", f"level {raw['level']!r} is not known; use one of {', '.join(levels)}")
            else:
                out["emetogenic_risk"] = EmetogenicRisk(
                    raw["level"],
                    _text(raw["source"], "source"),
                    raw.get("note") if isinstance(raw.get("note"), str) else None,
                )
    requirements = []
    for where, raw in _tables(c, data, "requirement", set(REQUIREMENT_FIELDS)):
        missing = [k for k in ("id", "test", "before", "source") if k not in raw]
        if missing:
            c.add(where, f"missing: a requirement needs {', '.join(missing)}")
            continue
        req_id = c.attempt(where + ", field 'id'", partial(_text, raw["id"], "id"))
        test = c.attempt(where + ", field 'test'", partial(_text, raw["test"], "test"))
        source = c.attempt(where + ", field 'source'", partial(_text, raw["source"], "source"))
        drugs = _drugs(c, where + ", field 'before'", raw["before"], components)
        if req_id and test and source:
            note = raw.get("note") if isinstance(raw.get("note"), str) else None
            requirements.append(Requirement(req_id, test, drugs, source, note))
    if len({r.id for r in requirements}) != len(requirements):
        c.add("requirement", "duplicate requirement ids")
    gates = []
    for where, raw in _tables(c, data, "gate", set(GATE_FIELDS)):
        if "require" not in raw or "source" not in raw:
            c.add(where, "missing: a gate needs require (e.g. 'anc >= 1.5') and source")
            continue
        found = c.attempt(where + ", field 'require'", partial(_conditions, raw["require"], "require"))
        source = c.attempt(where + ", field 'source'", partial(_text, raw["source"], "source"))
        if found and len(found) != 1:
            c.add(where + ", field 'require'", "a gate is one comparison: write one [[gate]] per test")
        elif found and source:
            note = raw.get("note") if isinstance(raw.get("note"), str) else None
            gates.append(Gate(found[0], source, note))
    modifications = []
    for where, raw in _tables(c, data, "modification", set(MODIFICATION_FIELDS)):
        if "when" not in raw or "source" not in raw:
            c.add(where, "missing: a modification needs when (e.g. 'anc < 1.5'), an action and source")
            continue
        when = c.attempt(where + ", field 'when'", partial(_conditions, raw["when"], "when"))
        source = c.attempt(where + ", field 'source'", partial(_text, raw["source"], "source"))
        step = _step(c, where, raw, components)
        then = None
        if "then" in raw:
            if not isinstance(raw["then"], dict):
                c.add(where + ", field 'then'", "then is a table { action = ..., ... }")
            else:
                then = _step(c, where + ", then", raw["then"], components)
        after = raw.get("after_delays")
        if (then is None) != (after is None):
            c.add(where, "'then' and 'after_delays' go together: what to do after how many delays")
        if after is not None and step is not None and step.action != "delay":
            c.add(where, "'after_delays' counts delays: the first action must be a delay")
        if when and source and step:
            note = raw.get("note") if isinstance(raw.get("note"), str) else None
            modifications.append(Modification(when, step, source, then, after, note))
    out.update(requirements=tuple(requirements), gates=tuple(gates), modifications=tuple(modifications))
    return out


def _sources(c: _Collector, raw: object) -> list[Source]:
    if isinstance(raw, dict):
        raw = [raw]
    if not isinstance(raw, list) or not raw:
        c.add(_where(field="source"), "add at least one [[source]] with a citation: every regimen is cited")
        return []
    out = []
    for i, s in enumerate(raw, 1):
        where = f"source {i}"
        if not isinstance(s, dict):
            c.add(where, "a source must be a table with a citation")
            continue
        c.unknown_keys(where, s, SOURCE_KEYS)
        citation = c.attempt(where + ", field 'citation'", partial(_text, s.get("citation"), "citation"))
        extra = {
            k: c.attempt(f"{where}, field {k!r}", partial(_text, s[k], k))
            for k in ("registry", "url", "note")
            if k in s
        }
        if citation:
            out.append(Source(citation=citation, **extra))
    return out


def load_file(path: str | Path) -> Regimen:
    """Load one regimen file. Problems name the file, the component and the field."""
    p = Path(path)
    try:
        if p.is_file() and p.stat().st_size > MAX_FILE_BYTES:
            raise RegimenFileError(
                [Problem(str(p), "", f"the file is larger than {MAX_FILE_BYTES:,} bytes; a regimen file is a few KB")]
            )
        text = p.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise RegimenError(f"{p}: no such file; check the path") from None
    except IsADirectoryError:
        raise RegimenError(f"{p}: is a folder, not a regimen file; name a .toml file") from None
    except UnicodeDecodeError:
        raise RegimenFileError([Problem(str(p), "", "not UTF-8 text; save the file as UTF-8")]) from None
    except OSError as exc:
        raise RegimenError(f"{p}: cannot read ({exc.strerror})") from None
    return load_text(text, str(p))


__all__ = ["amount", "load_data", "load_file", "load_text", "percent"]
