"""Compact one-line regimen notation, out: a regimen written as clinicians and HemOnc.org write it on one line.

:func:`to_compact` is the inverse of :func:`regimen.interop.compact.parse` (which holds the grammar and the
vocabulary both sides share): parsing its line gives the same plans.
"""

from __future__ import annotations

import re
from decimal import Decimal

from regimen.interop.compact import ROUTES, WORD_OF_METHOD, CompactError
from regimen.model import AucDose, Component, DayList, Dose, DoseLevel, Phase, Regimen, RelativeDays, Variant
from regimen.quantities.days import day_list
from regimen.quantities.exact import format_fraction


def _days_text(days: DayList | RelativeDays) -> str:
    if isinstance(days, RelativeDays):
        if days.on_day is not None:
            last = days.on_day + days.count - 1
            run = f"{days.on_day}-{last}" if days.count > 1 else str(days.on_day)
            return f"d{run} of {days.relative_to}"
        return f"{days.days_before}d before {days.relative_to} for {days.count}d"
    return "d" + day_list(days.days)


def _plain_number(value: Decimal) -> str:
    """'1000', '0.1', '2.5': no thousands separator (a comma separates days)."""
    return format(value.normalize(), "f")


def _dose_text(dose: Dose) -> str:
    if isinstance(dose, AucDose):
        return f"AUC {_plain_number(dose.value)}"
    return f"{_plain_number(dose.value)} {dose.unit.symbol}"


def _quoted(text: str, what: str) -> str:
    if '"' in text:
        raise CompactError(f"{what} {text!r} has a double quote, which compact notation cannot hold")
    return f'"{text}"'


def _variant_text(v: Variant) -> str:
    if ":" in v.when.text or "}" in v.when.text:
        raise CompactError(f"rule {v.when.text!r} has ':' or '}}', which compact notation cannot hold")
    parts = [f"if {v.when.text}:"]
    if v.days is not None:
        parts.append(_days_text(v.days))
    if v.dose is not None:
        parts.append(_dose_text(v.dose))
    if v.duration_text is not None:
        parts.append(f"over {v.duration_text}")
    return "{" + " ".join(parts) + "}"


def _name_text(drug: str) -> str:
    """The drug's name, capitalised; quoted when a word of it would read as a dose ('"Mannitol 20%"')."""
    name = drug[:1].upper() + drug[1:] if drug == drug.lower() else drug
    if re.search(r"[\d;{}\[\]]", name) or any(w.upper() == "AUC" for w in name.split()):
        return _quoted(name, "drug name")
    return name


def _levels_text(levels: tuple[DoseLevel, ...]) -> str:
    parts = []
    for level in sorted(levels, key=lambda lv: lv.level):
        if level.percent is not None:
            parts.append(f"{level.level:+d}: {format_fraction(level.percent, grouping=False)}%")
        else:
            assert level.dose is not None  # a level is a percentage or a dose (the loader checks)
            parts.append(f"{level.level:+d}: {_dose_text(level.dose)}")
    return "levels[" + ", ".join(parts) + "]"


def _list_text(comp: Component, pairs: list[tuple[str, str]], what: str) -> str:
    for text in (t for pair in pairs for t in pair):
        if re.search(r'[,:;\[\]{}"]', text):
            raise CompactError(f"{comp.id}: {what} {text!r} has , : ; brackets or a quote: not writable")
    return ", ".join(f"{a}: {b}" for a, b in pairs)


def _component_text(comp: Component) -> str:
    fluid = comp.volume is not None and comp.dose == comp.volume  # a fluid whose dose is its volume
    volume = f"{_plain_number(comp.volume.value)} mL" if comp.volume is not None else None
    words = [_name_text(comp.drug), volume if fluid and volume else _dose_text(comp.dose)]
    if comp.supportive:
        if comp.kind is None:
            raise CompactError(f"{comp.id}: supportive care without its kind cannot be written")
        words.append("supportive:" + comp.kind.replace(" ", "-"))
    if comp.route:
        if comp.route.lower() not in ROUTES or " " in comp.route:
            raise CompactError(f"{comp.id}: route {comp.route!r} is not one compact notation names")
        words.append(comp.route)
    if comp.method:
        words.append(WORD_OF_METHOD[comp.method])
    if comp.duration_text:
        words.append(f"over {comp.duration_text}")
    if comp.times_per_day > 1:
        words.append({2: "BID", 3: "TID", 4: "QID"}.get(comp.times_per_day, f"{comp.times_per_day}x daily"))
    words.append(_days_text(comp.days))
    if comp.before:
        words.append(f"before {comp.before}" + (f" -{comp.gap_text}" if comp.gap_text else ""))
    if comp.after:
        last = "last " if comp.after_last else ""
        words.append(f"after {last}{comp.after}" + (f" +{comp.gap_text}" if comp.gap_text else ""))
    if volume and not fluid:
        words.append(f"in {volume}")
    if comp.additives:
        words.append("add[" + _list_text(comp, [(a.drug, a.amount) for a in comp.additives], "additive") + "]")
    for cap, suffix in ((comp.max_dose, ""), (comp.max_daily, "/day"), (comp.max_per_cycle, "/cycle")):
        if cap is not None:
            words.append(f"max {format_fraction(cap.value, grouping=False)} {cap.unit}{suffix}")
    if comp.round_to is not None:
        words.append(f"round {format_fraction(comp.round_to.value, grouping=False)} {comp.round_to.unit}")
    if comp.levels:
        words.append(_levels_text(comp.levels))
    if comp.dosing_weight:
        words.append(f"weight={comp.dosing_weight}")
    if comp.in_cycles is not None:
        words.append(f"cycles={day_list(comp.in_cycles)}")
    if comp.id != re.sub(r"[^a-z0-9]+", "-", comp.drug.lower()).strip("-"):
        words.append(f"id={comp.id}")
    words.extend(_variant_text(v) for v in comp.variants)
    return " ".join(words)


def _schedule_text(phase: Phase) -> str | None:
    words = []
    if phase.cycle_length is not None:
        words.append(f"Q{phase.cycle_length}d")
    if phase.cycles is not None:
        words.append(f"x {phase.cycles}")
    if phase.max_duration is not None:
        words.append(f"max {phase.max_duration[1]}")
    if phase.limit:
        words.append(f"limit {_quoted(phase.limit, 'limit')}")
    return " ".join(words) or None


def not_carried(regimen: Regimen) -> list[str]:
    """What of ``regimen`` one line of compact notation cannot hold, in words ("capecitabine's renal table (2
    rows)"): a file parsed from :func:`to_compact`'s line has none of it, so a plan made from it differs wherever
    it would apply (a kidney value in a renal row, a cycle's gates)."""
    said: list[str] = []
    for comp in regimen.components():
        for rows, what in ((comp.renal, "renal table"), (comp.hepatic, "hepatic table")):
            if rows:
                said.append(f"{comp.id}'s {what} ({len(rows)} row{'s' if len(rows) > 1 else ''})")
        if comp.rate_escalation:
            said.append(f"{comp.id}'s infusion-rate escalation")
    for items, one, many in (
        (regimen.requirements, "requirement before the first dose", "requirements before the first dose"),
        (regimen.gates, "gate before each cycle", "gates before each cycle"),
        (regimen.modifications, "dose-modification rule", "dose-modification rules"),
    ):
        if items:
            said.append(f"{len(items)} {one if len(items) == 1 else many}")
    if regimen.emetogenic_risk is not None:
        said.append("the emetogenic risk")
    return said


def to_compact(regimen: Regimen) -> str:
    """``regimen`` on one line of compact notation: :func:`~regimen.interop.compact.parse` of it gives the same
    plans (its notes, sources and names aside) save where what :func:`not_carried` names applies. Raises
    :class:`CompactError` for what the notation cannot hold (a text with the notation's own punctuation in it)."""
    items: list[str] = []
    for phase in regimen.phases:
        drugs = [_component_text(c) for c in phase.components]
        if regimen.phased:
            if "]" in (phase.name or "") or ";" in (phase.name or ""):
                raise CompactError(f"phase name {phase.name!r} has ']' or ';', which compact notation cannot hold")
            drugs[0] = f"[{phase.id}" + (f": {phase.name}" if phase.name else "") + f"] {drugs[0]}"
        items.extend(drugs)
        schedule = _schedule_text(phase)
        if schedule:
            items.append(schedule)
    eligibility = regimen.eligibility
    if eligibility is not None:
        if eligibility.min_age is not None:
            items.append(f"age >= {format_fraction(eligibility.min_age)}")
        if eligibility.max_age is not None:
            items.append(f"age <= {format_fraction(eligibility.max_age)}")
    if regimen.dosing_weight:
        items.append(f"weight={regimen.dosing_weight}")
    return "; ".join(items)


__all__ = ["to_compact"]
