"""Components (``[[component]]``), their variants and the phases that hold them, read by their field tables.

Each table is read field by field with :func:`regimen.protocol.collect.read_fields` over its table in
:mod:`regimen.protocol.fields`; what ties fields together (a dose and its method, duration and days; 'after' and
'before'; the components a phase's relative days name) is checked here.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from fractions import Fraction
from functools import partial
from typing import Any

from regimen.errors import RegimenError
from regimen.model import (
    SUPPORTIVE_KINDS,
    Additive,
    AucDose,
    Component,
    DayList,
    Days,
    Dose,
    Method,
    Phase,
    RelativeDays,
    Role,
    Variant,
    resolve_days,
)
from regimen.protocol import values
from regimen.protocol.collect import Collector, place, read_fields
from regimen.protocol.fields import COMPONENT, VARIANT
from regimen.protocol.organ import with_doses
from regimen.protocol.rates import escalation
from regimen.quantities.days import day_list, runs
from regimen.quantities.rules import overlap, parse_rule, satisfiable
from regimen.quantities.units import ParsedDose, parse_volume


def _slug(drug: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", drug.lower()).strip("-")


def _check_continuous(
    c: Collector, where: Callable[[str], str], dose: Dose, days: Days | None, duration: Fraction | None
) -> None:
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
    if duration is None:
        return
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


def _check_schedule(
    c: Collector,
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
        _check_continuous(c, where, dose, days, duration)
        return
    if dose.unit.time == "hour" and (method != "infusion" or duration is None):
        c.add(
            where("dose"),
            f"a dose per hour ({dose.text!r}) needs method 'infusion' with a duration, or method 'continuous infusion'",
        )
    if method == "bolus" and duration is not None:
        c.add(where("duration"), "a bolus has no duration: use method 'infusion' for a timed infusion")


def _variant(c: Collector, raw: object, comp_where: Callable[..., str], index: int) -> Variant | None:
    def where(field: str | None = None) -> str:
        return comp_where(field=field, variant=index)

    if not isinstance(raw, dict):
        c.add(where(), "a variant must be a table with 'when' and the fields it changes")
        return None
    read = read_fields(c, VARIANT, raw, where)
    if "when" not in raw:
        return None
    rule = c.attempt(where("when"), lambda: parse_rule(values.text(raw["when"], "when")))
    if rule is None:
        return None
    if not satisfiable(rule):
        c.add(where("when"), f"rule {rule.text!r} can never hold: fix the numbers")
    if not {"dose", "days", "duration"} & set(raw):
        c.add(where(), "a variant must change at least one of dose, days or duration")
    duration = read.get("duration")
    return Variant(
        when=rule,
        dose=read.get("dose"),
        days=read.get("days"),
        duration_hours=duration[0] if duration else None,
        duration_text=duration[1] if duration else None,
        note=read.get("note"),
    )


def _supportive(c: Collector, raw: dict[str, Any], read: dict[str, Any], where: Callable[..., str]) -> dict[str, Any]:
    """The supportive-care fields of a component (role, kind, volume, additives), checked together."""
    role: Role = read.get("role") or "anticancer"
    if role == "supportive" and "kind" not in raw:
        c.add(where("kind"), f"supportive care needs its kind: one of {', '.join(SUPPORTIVE_KINDS)}")
    if role != "supportive" and ({"kind", "volume", "additives"} & set(raw)):
        c.add(where("role"), "kind, volume and additives are for supportive care: add role = 'supportive'")
    volume: ParsedDose | None = None
    if "volume" in raw:
        volume = c.attempt(where("volume"), lambda: parse_volume(values.text(raw["volume"], "volume")))
    additives: list[Additive] = []
    raw_additives = raw.get("additives", [])
    if not isinstance(raw_additives, list):
        raw_additives = [raw_additives]
    for i, item in enumerate(raw_additives, 1):
        if not isinstance(item, dict) or set(item) != {"drug", "amount"}:
            c.add(where("additives"), f'additive {i} must be a table {{ drug = "...", amount = "20 mmol" }}')
            continue
        drug = c.attempt(where("additives"), partial(values.text, item["drug"], "drug"))
        amt = c.attempt(where("additives"), partial(values.text, item["amount"], "amount"))
        if drug and amt:
            additives.append(Additive(drug, amt))
    return {"role": role, "kind": read.get("kind"), "volume": volume, "additives": tuple(additives)}


def _links(c: Collector, raw: dict[str, Any], read: dict[str, Any], where: Callable[..., str]) -> str | None:
    """The component this one follows ('after' or 'after_last'), checked against 'before' and 'gap'."""
    after = read.get("after")
    if "after_last" in raw:
        if "after" in raw:
            c.add(where("after_last"), "give 'after' or 'after_last', not both")
        after = read.get("after_last")
    before = read.get("before")
    if before is not None and after is not None:
        c.add(where("before"), "a component comes 'before' one component or 'after' another, not both")
    if read.get("gap") is not None and after is None and before is None:
        c.add(where("gap"), "a gap is the time after another component (or before one): give 'after' or 'before' too")
    return after


def _variants(
    c: Collector, raw: dict[str, Any], where: Callable[..., str], method: Method | None, read: dict[str, Any]
) -> list[Variant]:
    """The component's variants, each checked with the component's schedule, and no two able to hold at once."""
    dose, days, duration = read.get("dose"), read.get("days"), read.get("duration")
    hours = duration[0] if duration else None
    raw_variants = raw.get("variant", [])
    if not isinstance(raw_variants, list):
        c.add(where("variant"), "variants must be written as [[component.variant]] tables")
        raw_variants = []
    variants = [v for i, raw_v in enumerate(raw_variants, 1) if (v := _variant(c, raw_v, where, i)) is not None]
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
    return variants


def component(c: Collector, raw: object, phase: str | None, index: int) -> Component | None:
    if not isinstance(raw, dict):
        c.add(place(phase=phase), f"component {index} must be a table ([[component]])")
        return None
    drug = raw.get("drug")
    label = raw.get("id") if isinstance(raw.get("id"), str) else (drug if isinstance(drug, str) else f"#{index}")

    def where(field: str | None = None, variant: int | None = None) -> str:
        return place(component=str(label), field=field, phase=phase, variant=variant)

    read = read_fields(c, COMPONENT, raw, where)
    support = _supportive(c, raw, read, where)
    if "dose" not in raw and support["volume"] is None:
        c.add(where("dose"), "missing: every component needs a dose (or, for a supportive fluid, a volume)")
    drug_name = read.get("drug")
    comp_id = read.get("id") if "id" in raw else (_slug(drug_name) if drug_name else None)
    dose = read.get("dose")
    if "dose" not in raw and support["volume"] is not None:
        dose = support["volume"]  # a fluid: its volume is what is given, its rate mL/h
        read["dose"] = dose
    method = read.get("method")
    times = read.get("times_per_day", 1)
    if times is not None and times > 1 and method in ("continuous infusion", "infusion"):
        c.add(
            where("times_per_day"),
            f"{times} doses a day cannot be one {method}: give each dose's method, e.g. "
            "'bolus', or leave the method out for an oral, SC or IM drug",
        )
    after = _links(c, raw, read, where)
    levels = c.attempt(where("levels"), lambda: values.levels(raw["levels"], dose)) if "levels" in raw else None
    dosing_weight = read.get("dosing_weight")
    if dosing_weight is not None and dose is not None and dose.unit.basis != "weight":
        c.add(where("dosing_weight"), f"dosing_weight applies to doses per kg; {dose.text!r} is not per kg")
    variants = _variants(c, raw, where, method, read)
    rates = (
        c.attempt(
            where("rate_escalation"), partial(escalation, raw["rate_escalation"], dose, method, raw.get("duration"))
        )
        if "rate_escalation" in raw
        else ()
    )
    days = read.get("days")
    if comp_id is None or drug_name is None or dose is None or days is None:
        return None
    changes = bool(levels) or any(v.dose is not None for v in variants)
    for kind in ("renal", "hepatic"):  # a row's dose of its own, as a share of this component's dose
        if read.get(kind):
            read[kind] = c.attempt(where(kind), partial(with_doses, read[kind], dose, changes, kind)) or ()
    duration, gap = read.get("duration"), read.get("gap")
    return Component(
        id=comp_id,
        drug=drug_name,
        dose=dose,
        days=days,
        route=read.get("route"),
        method=method,
        duration_hours=duration[0] if duration else None,
        duration_text=duration[1] if duration else None,
        variants=tuple(variants),
        note=read.get("note"),
        max_dose=read.get("max_dose"),
        max_daily=read.get("max_daily"),
        max_per_cycle=read.get("max_per_cycle"),
        levels=levels or (),
        dosing_weight=dosing_weight,
        round_to=read.get("round"),
        times_per_day=times or 1,
        after=after,
        gap_hours=gap[0] if gap else None,
        gap_text=gap[1] if gap else None,
        renal=read.get("renal") or (),
        hepatic=read.get("hepatic") or (),
        role=support["role"],
        kind=support["kind"],
        before=read.get("before"),
        after_last="after_last" in raw,
        volume=support["volume"],
        additives=support["additives"],
        in_cycles=read.get("in_cycles"),
        rate_escalation=rates or (),
    )


def phase(
    c: Collector, raw: dict[str, Any], read: dict[str, Any], phase_id: str, phase_label: str | None
) -> Phase | None:
    """A phase from its table (or the file's top level, for a regimen of one phase) and its fields as
    :func:`read_fields` read them."""
    where = place(phase=phase_label)
    raw_components = raw.get("component", [])
    if not isinstance(raw_components, list) or not raw_components:
        c.add(where or "", "no components: add at least one [[component]] table")
        return None
    components = [x for i, r in enumerate(raw_components, 1) if (x := component(c, r, phase_label, i)) is not None]
    if len(components) != len(raw_components):
        declared = {_declared_id(r) for r in raw_components} - {None}
        _check_anchors(c, components, {d for d in declared if d is not None}, phase_label)
        return None
    seen: set[str] = set()
    for comp in components:
        if comp.id in seen:
            c.add(place(comp.id, "id", phase_label), f"duplicate component id {comp.id!r}: give each an 'id'")
        seen.add(comp.id)
    phase = Phase(
        id=phase_id,
        name=read.get("name") if phase_label else None,
        components=tuple(components),
        cycle_length=read.get("cycle_length"),
        cycles=read.get("cycles"),
        limit=read.get("limit"),
        max_duration=read.get("max_duration"),
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


def _check_anchors(c: Collector, components: list[Component], ids: set[str], label: str | None) -> bool:
    """Relative days and 'after' must name a component of the same phase (and 'after' must not loop); True when
    they all do."""
    ok = True
    follows = {comp.id: comp.after for comp in components if comp.after is not None}

    def named(comp: Component, key: str, value: str | None) -> bool:
        """'after' or 'before' names a component here (or is left out)."""
        if value is None or value in ids:
            return True
        c.add(
            place(comp.id, key, label), f"{key} {value!r} is not a component here; use one of {', '.join(sorted(ids))}"
        )
        return False

    for comp in components:
        if not named(comp, "after", comp.after):
            ok = False
            continue
        seen, node = [comp.id], comp.after
        while node is not None and node in follows and node not in seen:
            seen.append(node)
            node = follows[node]
        if node is not None and node in seen:
            c.add(
                place(comp.id, "after", label),
                f"'after' forms a loop ({' -> '.join([*seen, node])}); one of them must start first",
            )
            ok = False
    ok = all([named(comp, "before", comp.before) for comp in components]) and ok
    ok = _same_cycles(c, components, label) and ok
    for comp in components:
        for i, days in [(None, comp.days)] + [(n, v.days) for n, v in enumerate(comp.variants, 1)]:
            if isinstance(days, RelativeDays) and days.relative_to not in ids:
                c.add(
                    place(comp.id, "days", label, i),
                    f"relative_to {days.relative_to!r} is not a component here; use one of {', '.join(sorted(ids))}",
                )
                ok = False
    return ok


def _same_cycles(c: Collector, components: list[Component], label: str | None) -> bool:
    """A component timed by another (after, before, relative days) is given in the same cycles as it."""
    ok = True
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
                place(comp.id, field, label),
                f"{anchor!r} is given only in cycles {day_list(cycles)}: a component timed by it must be given in "
                "the same cycles (in_cycles)",
            )
            ok = False
    return ok


def _check_references(c: Collector, phase: Phase, label: str | None) -> None:
    """Relative days must name a component of the same phase, without loops, and land on days ≥ 1."""
    if not _check_anchors(c, list(phase.components), {comp.id for comp in phase.components}, label):
        return
    for comp in phase.components:
        try:
            days_all = resolve_days(phase, comp.id, lambda _c: None)
        except RegimenError as exc:
            c.add(place(comp.id, "days", label), str(exc))
            continue
        if comp.after_last and comp.after is not None:
            anchor_days = resolve_days(phase, comp.after, lambda _c: None)
            if days_all[0] < anchor_days[-1]:
                c.add(
                    place(comp.id, "days", label),
                    f"day {days_all[0]} is before the last dose of {comp.after} (day {anchor_days[-1]}), which "
                    "after_last says it follows",
                )
        if phase.cycle_length is not None and days_all[-1] > phase.cycle_length:
            c.add(
                place(comp.id, "days", label),
                f"day {days_all[-1]} is after the end of the {phase.cycle_length}-day cycle",
            )


__all__ = ["component", "phase"]
