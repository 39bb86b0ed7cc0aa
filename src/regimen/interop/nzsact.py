"""FHIR R4 in: a regimen file from a PlanDefinition in the shape of the HL7 New Zealand Cancer Control Agency (Te Aho
o Te Kahu) SACT implementation guide (``HL7NZ/cca``, http://hl7.org.nz/fhir/ig/cca).

The IG's shape: a PlanDefinition whose top-level actions are cycles (``timingTiming.repeat``: ``duration`` days per
cycle, ``count`` cycles, no count for "all further cycles"), each with a sub-action per medicine giving the days of
the cycle (the IG's ``sact-timing-of-days``, or the core ``timing-daysOfCycle``) and a reference to a contained
ActivityDefinition: the medicine (NZMT-coded), one Dosage with a SNOMED CT dose unit (mg, microgram, mg/m²
404216004, mg/kg, AUC...), route and daily frequency, and the infusion time in ``rateRange.high``. A "treatment
overview" instead has one action per part, each referring to a contained PlanDefinition of that part: the parts
become phases.

What is read becomes the fields of a regimen file, the source's identifiers and citations its ``[[source]]`` tables.
What the file has no field for (support factors, off-label flags, supportive medicines and those given when
required, a day before day 1) is listed in its notes as not carried. What cannot be read (a dose unit, a route or a
frequency outside the IG's value sets, an element that changes what the dose is) is refused: one line for each
thing, and no file, rather than a guess.
"""

from __future__ import annotations

import html
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any

from regimen.errors import RegimenError
from regimen.quantities.days import day_list

SNOMED = "http://snomed.info/sct"
NZ = "http://hl7.org.nz/fhir/StructureDefinition/"
EXT_TIMING_OF_DAYS = NZ + "sact-timing-of-days"
EXT_DAYS_OF_CYCLE = "http://hl7.org/fhir/StructureDefinition/timing-daysOfCycle"
EXT_SUPPORTIVE = NZ + "sact-is-supportive-care"
EXT_OFF_LABEL = NZ + "sact-off-label"
NZMT_SYSTEMS = ("https://nzulm.org.nz/nzmt", "http://nzmt.org.nz")
IG = "HL7 NZ Cancer Control Agency SACT IG"

#: The IG's dose units (ValueSet sact-dose-unit-code, SNOMED CT) that are doses regimen computes: code -> unit.
DOSE_UNITS = {
    "258684004": "mg",
    "258682000": "g",
    "258685003": "mcg",
    "404216004": "mg/m²",
    "396163008": "mg/kg",
    "258803005": "mcg/kg",
    "258997004": "units",
    "414524001": "units/m²",
    "413573002": "AUC",  # a target AUC for Calvert dosing (mg/mL·min)
}
#: How the IG's value set names each of them (the unit text of a doseQuantity starts with it).
UNIT_NAMES = {
    "258684004": "mg",
    "258682000": "g",
    "258685003": "microgram",
    "404216004": "mg/m²",
    "396163008": "mg/kg",
    "258803005": "microgram/kg",
    "258997004": "international unit",
    "414524001": "international unit/m²",
    "413573002": "AUC",
}
#: The IG's routes (ValueSet sact-route, SNOMED CT) as regimen files write them.
ROUTES = {
    "386358000": "IV",
    "386359008": "oral",
    "386362006": "SC",
    "386356001": "IM",
    "406188003": "intrathecal",
    "431464005": "intravesical",
    "431695009": "topical",
    "432977006": "intra-arterial",
    "81633002": "intraperitoneal",
}
#: The IG's dose frequencies (ValueSet sact-dose-administration-frequency, SNOMED CT): doses a day.
TIMES_PER_DAY = {
    "307486002": 1,  # once per one time
    "229797004": 1,
    "229799001": 2,
    "229798009": 3,
    "307439001": 4,
    "307440004": 5,
    "307441000": 6,
    "307442007": 7,
    "307443002": 8,
    "225756002": 6,  # every four hours
    "225753005": 8,  # every three hours
    "225750008": 12,  # every two hours
    "225768006": 24,  # every hour
}
#: Infusion times in rateRange: the IG writes UCUM-ish 'Min' and 'H'.
_TIME_UNITS = {"min": Decimal(1) / 60, "h": Decimal(1), "hour": Decimal(1), "hours": Decimal(1)}
#: Words of an instruction that make a medicine one given when required, not on a schedule.
_WHEN_REQUIRED = re.compile(r"\b(when required|as required|if required|at onset of)\b", re.IGNORECASE)
_OVER = re.compile(r"\bover (\d+(?:\.\d+)?) (minutes?|hours?)\b", re.IGNORECASE)


def is_nz_sact(resource: Mapping[str, Any]) -> bool:
    """True for a PlanDefinition that declares the IG's profile or carries its extensions."""
    profiles = (resource.get("meta") or {}).get("profile") or []
    if any(isinstance(p, str) and p.startswith(NZ) for p in profiles):
        return True
    return any(isinstance(e, dict) and str(e.get("url", "")).startswith(NZ) for e in resource.get("extension") or [])


class NzImportRefused(RegimenError):
    """A PlanDefinition with things the importer cannot read: every one of them, one line each."""

    def __init__(self, source: str, lines: list[str]) -> None:
        self.lines = list(lines)
        super().__init__("\n".join(f"{source}: {line}" for line in self.lines))


@dataclass
class _Reading:
    """What one import has found so far."""

    refused: list[str] = field(default_factory=list)
    not_carried: list[str] = field(default_factory=list)
    contained: dict[str, dict[str, Any]] = field(default_factory=dict)


def _plain(text: object) -> str:
    """Text of a markdown or HTML value on one line: tags and non-breaking spaces out."""
    s = html.unescape(re.sub(r"<[^>]+>", " ", str(text)))
    return re.sub(r"\s+", " ", s.replace("\u00a0", " ")).strip()


def _slug(text: str, limit: int = 64) -> str:
    words = re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")
    if len(words) <= limit:
        return words
    return words[:limit].rsplit("-", 1)[0]


def _codes(concept: object, system: str) -> list[str]:
    if not isinstance(concept, dict):
        return []
    return [
        str(c.get("code")) for c in concept.get("coding") or [] if isinstance(c, dict) and c.get("system") == system
    ]


def _concept_text(concept: object) -> str:
    if not isinstance(concept, dict):
        return ""
    if concept.get("text"):
        return str(concept["text"])
    return next((str(c["display"]) for c in concept.get("coding") or [] if c.get("display")), "")


def _number(value: object) -> Decimal | None:
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        return None
    try:
        d = Decimal(str(value))
    except InvalidOperation:
        return None
    return d if d.is_finite() and d > 0 else None


def _text_number(d: Decimal) -> str:
    return format(d.normalize(), "f")


def _days(sub: Mapping[str, Any]) -> tuple[list[int], list[str]]:
    """The days of the cycle a sub-action gives, and its instructions (each different one once)."""
    days: list[int] = []
    instructions: list[str] = []
    for ext in sub.get("extension") or []:
        if not isinstance(ext, dict) or ext.get("url") not in (EXT_TIMING_OF_DAYS, EXT_DAYS_OF_CYCLE):
            continue
        for part in ext.get("extension") or []:
            if part.get("url") == "day" and isinstance(part.get("valueInteger"), int):
                days.append(part["valueInteger"])
            elif part.get("url") == "instructions":
                said = _plain(part.get("valueString") or part.get("valueMarkdown") or "")
                if said and said not in instructions:
                    instructions.append(said)
    return sorted(set(days)), instructions


class _Refused(Exception):
    """One ActivityDefinition refused, with the reason (caught by :func:`_medicine`)."""


def _dose(name: str, rate: Mapping[str, Any], dosage: Mapping[str, Any]) -> str:
    """The dose of a doseAndRate as a regimen writes it ('100 mg/m²', 'AUC 5'), checked against the dosage text."""
    dose = rate.get("doseQuantity")
    code = next(iter(_codes({"coding": [dose]} if isinstance(dose, dict) else None, SNOMED)), None)
    value = _number((dose or {}).get("value"))
    if not isinstance(dose, dict) or value is None:
        raise _Refused(f"{name}: no positive doseQuantity")
    if code not in DOSE_UNITS:
        raise _Refused(
            f"{name}: dose unit {dose.get('unit')!r} (SNOMED CT {code}) is not a dose regimen computes "
            "(mg, microgram, g, mg/m², mg/kg, microgram/kg, units, units/m² or AUC)"
        )
    unit_text = str(dose.get("unit") or "")
    if not unit_text.startswith(UNIT_NAMES[code]):
        raise _Refused(
            f"{name}: dose unit text {unit_text!r} does not match its code SNOMED CT {code} ({UNIT_NAMES[code]})"
        )
    unit = DOSE_UNITS[code]
    text = str(dosage.get("text") or "")
    if text and not text.startswith(_text_number(value)):
        raise _Refused(f"{name}: the dosage text {text!r} does not start with its dose {_text_number(value)}")
    return f"AUC {_text_number(value)}" if unit == "AUC" else f"{_text_number(value)} {unit}"


def _infusion(reading: _Reading, name: str, rate: Mapping[str, Any], text: str, component: dict[str, Any]) -> None:
    """The method and duration of a timed infusion (from rateRange) into ``component``."""
    refused = len(reading.refused)
    hours = _infusion_hours(reading, name, rate, text)
    if len(reading.refused) > refused:
        raise _Refused("")  # said by _infusion_hours
    if hours is not None:
        if hours > 24:
            raise _Refused(
                f"{name}: an infusion over {_text_number(hours)} h runs past its day; the source does not give the "
                "days it runs"
            )
        component["method"] = "infusion"
        minutes = str((rate.get("rateRange") or {}).get("high", {}).get("unit", "")).lower() == "min"
        component["duration"] = f"{_text_number(hours * 60)} min" if minutes else f"{_text_number(hours)} h"
    for key in ("rateQuantity", "rateRatio", "doseRange"):
        if key in rate:
            raise _Refused(f"{name}: doseAndRate.{key} is not read (an infusion time is read from rateRange)")


def _timing(name: str, dosage: Mapping[str, Any], component: dict[str, Any]) -> None:
    """Doses a day from Dosage.timing's code into ``component`` (repeat and event are not read)."""
    timing = dosage.get("timing")
    if not isinstance(timing, dict):
        return
    frequency = _codes(timing.get("code"), SNOMED)
    if timing.get("repeat") or timing.get("event"):
        raise _Refused(f"{name}: Dosage.timing.repeat/event is not read (the days come from the action)")
    if frequency:
        if frequency[0] not in TIMES_PER_DAY:
            raise _Refused(f"{name}: dose frequency SNOMED CT {frequency[0]} is not in the IG's value set")
        if TIMES_PER_DAY[frequency[0]] > 1:
            component["times_per_day"] = TIMES_PER_DAY[frequency[0]]


def _notes(activity: Mapping[str, Any], flags: Mapping[object, object], instructions: list[str]) -> list[str]:
    """What the component's note carries: the NZMT code, off-label, a quantity not carried, the instructions."""
    notes = []
    nzmt = [c for system in NZMT_SYSTEMS for c in _codes(activity.get("productCodeableConcept"), system)]
    if nzmt:
        notes.append(f"NZMT {nzmt[0]}")
    if flags.get(EXT_OFF_LABEL) is True:
        notes.append("off-label or unapproved in New Zealand (sact-off-label)")
    if "quantity" in activity:
        q = activity["quantity"]
        notes.append(f"quantity {q.get('value')} {q.get('unit')} not carried")
    notes.extend(instructions)
    return notes


def _read_dosage(dosages: list[Any], name: str, where: str, drug_text: str, days: list[int]) -> Mapping[str, Any]:
    """The one dosage of a carried medicine with its days, or a refusal."""
    dosage = dosages[0] if len(dosages) == 1 and isinstance(dosages[0], dict) else None
    if not drug_text:
        raise _Refused(f"{where}: the ActivityDefinition names no medicine (productCodeableConcept)")
    if dosage is None:
        raise _Refused(f"{name}: {len(dosages)} dosages; regimen reads exactly one")
    if not days:
        raise _Refused(f"{name}: no days of the cycle (sact-timing-of-days or timing-daysOfCycle)")
    if days[0] < 1:
        raise _Refused(
            f"{name}: day {days[0]} is before day 1; regimen's day 1 is the first treatment day of the cycle"
        )
    return dosage


def _medicine(
    reading: _Reading, where: str, activity: Mapping[str, Any], days: list[int], instructions: list[str]
) -> dict[str, Any] | None:
    """One ActivityDefinition as a regimen component, or None when it is not carried (listed) or refused."""
    drug_text = _concept_text(activity.get("productCodeableConcept"))
    name = f"{where}: {drug_text}" if drug_text else where  # how a refusal names it
    flags = {e.get("url"): e.get("valueBoolean") for e in activity.get("extension") or [] if isinstance(e, dict)}
    for ext in activity.get("modifierExtension") or []:
        reading.refused.append(f"{name}: modifier extension {ext.get('url')!r} is not one regimen understands")
    dosages = activity.get("dosage") or []
    first = dosages[0] if len(dosages) == 1 and isinstance(dosages[0], dict) else {}
    said = " ".join(instructions)
    day_words = f"day{'s' if len(days) > 1 else ''} {day_list(days)}" if days else "no days"
    described = f"{drug_text or where} ({first.get('text') or 'no dosage text'}; {day_words})"
    if flags.get(EXT_SUPPORTIVE) is True:
        reading.not_carried.append(f"supportive care: {described}")
        return None
    if first.get("asNeededBoolean") is True or _WHEN_REQUIRED.search(said):
        reading.not_carried.append(f"given when required, not on a schedule: {described}")
        return None
    try:
        dosage = _read_dosage(dosages, name, where, drug_text, days)
        component: dict[str, Any] = {"drug": drug_text.lower()}
        rates = dosage.get("doseAndRate") or []
        if len(rates) != 1 or not isinstance(rates[0], dict):
            raise _Refused(f"{name}: {len(rates)} doseAndRate entries; regimen reads exactly one")
        component["dose"] = _dose(name, rates[0], dosage)
        routes = _codes(dosage.get("route"), SNOMED)
        if routes and routes[0] not in ROUTES:
            raise _Refused(f"{name}: route SNOMED CT {routes[0]} is not in the IG's route value set")
        if routes:
            component["route"] = ROUTES[routes[0]]
        _infusion(reading, name, rates[0], str(dosage.get("text") or ""), component)
        _timing(name, dosage, component)
    except _Refused as refusal:
        if str(refusal):
            reading.refused.append(str(refusal))
        return None
    component["days"] = day_list(days)
    notes = _notes(activity, flags, instructions)
    if notes:
        component["note"] = "; ".join(notes)
    return component


def _infusion_hours(reading: _Reading, name: str, rate: Mapping[str, Any], text: str) -> Decimal | None:
    """Hours of the infusion from ``rateRange`` (the IG puts the infusion time there), checked against the words of
    the dosage text ('over 60 minutes'); None when neither gives one (or when it is refused: a line in ``reading``)."""
    said = _OVER.search(text)
    spoken = None
    if said is not None:
        spoken = Decimal(said.group(1)) * (Decimal(1) / 60 if said.group(2).lower().startswith("min") else 1)
    span = rate.get("rateRange")
    if span is None:
        if spoken is not None:
            reading.refused.append(f"{name}: the text says {said.group(0)!r} but the dose has no rateRange")  # type: ignore[union-attr]
            return None
        return None
    ends = {}
    for end in ("low", "high"):
        q = span.get(end) if isinstance(span, dict) else None
        if q is None:
            continue
        number = _number(q.get("value"))
        per = _TIME_UNITS.get(str(q.get("unit") or q.get("code") or "").lower())
        if number is None or per is None:
            reading.refused.append(f"{name}: rateRange.{end} {q!r} is not a time regimen reads (min or h)")
            return None
        ends[end] = number * per
    if not ends or ("low" in ends and ends["low"] != ends.get("high")):
        reading.refused.append(f"{name}: rateRange gives a range of infusion times, not one; regimen needs one")
        return None
    hours = ends["high"] if "high" in ends else ends["low"]
    if spoken is not None and spoken != hours:
        reading.refused.append(f"{name}: rateRange says {hours} h but the text says {said.group(0)!r}")  # type: ignore[union-attr]
        return None
    return hours


def _cycle(
    reading: _Reading, where: str, action: Mapping[str, Any], contained: Mapping[str, dict[str, Any]]
) -> dict[str, Any] | None:
    """One cycle action: its length, count and medicines, as the fields of a phase. ``contained``: the resources its
    sub-actions may refer to (a part's own, as the IG's examples nest them, and the whole definition's)."""
    timing = action.get("timingTiming")
    repeat = timing.get("repeat") if isinstance(timing, dict) else None
    if not isinstance(repeat, dict):
        reading.refused.append(f"{where}: no timingTiming.repeat, so no cycle length")
        return None
    fields: dict[str, Any] = {}
    unit = repeat.get("durationUnit")
    length = repeat.get("duration")
    per = {"d": 1, "wk": 7}.get(str(unit))
    if not isinstance(length, int) or isinstance(length, bool) or length < 1 or per is None:
        reading.refused.append(f"{where}: cycle length {length!r} {unit!r} is not a whole number of days or weeks")
        return None
    fields["cycle_length"] = length * per
    count = repeat.get("count")
    if count is not None:
        if not isinstance(count, int) or isinstance(count, bool) or count < 1:
            reading.refused.append(f"{where}: cycle count {count!r} is not a positive whole number")
            return None
        fields["cycles"] = count
    else:
        said = _plain(action.get("description") or "")
        reading.not_carried.append(
            f"number of cycles: the source gives none ({said or where}); the plan needs the number of cycles given"
        )
    if (repeat.get("frequency"), repeat.get("period"), repeat.get("periodUnit")) == (1, length, unit):
        repeat = {k: v for k, v in repeat.items() if k not in ("frequency", "period", "periodUnit")}  # the same cycle
    for key in sorted(set(repeat) - {"duration", "durationUnit", "count"}):
        reading.refused.append(f"{where}: timingTiming.repeat.{key} is not read (a cycle is duration and count)")
    components = []
    refused = len(reading.refused)
    ids: dict[str, int] = {}
    for i, sub in enumerate(action.get("action") or [], 1):
        ref = str(sub.get("definitionCanonical") or "").removeprefix("#")
        sub_where = f"{where}, medicine {i}"
        activity = contained.get(ref)
        if activity is None or activity.get("resourceType") != "ActivityDefinition":
            reading.refused.append(f"{sub_where}: refers to {ref!r}, which is not a contained ActivityDefinition")
            continue
        for ext in sub.get("modifierExtension") or []:
            reading.refused.append(f"{sub_where}: modifier extension {ext.get('url')!r} is not one regimen understands")
        days, instructions = _days(sub)
        component = _medicine(reading, sub_where, activity, days, instructions)
        if component is None:
            continue
        drug_id = _slug(component["drug"]) or "drug"
        ids[drug_id] = ids.get(drug_id, 0) + 1
        component = {"id": drug_id if ids[drug_id] == 1 else f"{drug_id}-{ids[drug_id]}", **component}
        if fields["cycle_length"] < max(int(d) for d in re.findall(r"\d+", component["days"])):
            reading.refused.append(
                f"{sub_where}: {component['drug']} day is after the {fields['cycle_length']}-day cycle"
            )
        components.append(component)
    if not components and len(reading.refused) == refused:
        reading.refused.append(
            f"{where}: no medicine regimen can schedule (every one is supportive, when required or refused)"
        )
        return None
    fields["component"] = components
    return fields


def _sources(resource: Mapping[str, Any]) -> list[dict[str, Any]]:
    title = _plain(resource.get("title") or resource.get("name") or resource.get("id"))
    publisher = _plain(resource.get("publisher") or "Te Aho o Te Kahu (Cancer Control Agency)")
    version = resource.get("version")
    first: dict[str, Any] = {
        "citation": f"{publisher}: SACT regimen {title}" + (f", version {version}" if version else ""),
    }
    idents = [
        f"{'SNOMED CT' if i.get('system') == SNOMED else i.get('system')} {i.get('value')}"
        for i in resource.get("identifier") or []
        if isinstance(i, dict) and i.get("value")
    ]
    if idents:
        first["registry"] = "; ".join(idents)
    if resource.get("url"):
        first["url"] = str(resource["url"])
    dates = [f"{k} {resource[k]}" for k in ("date", "approvalDate", "lastReviewDate") if resource.get(k)]
    first["note"] = f"FHIR PlanDefinition {resource.get('id')} ({IG} shape)" + (
        f"; {', '.join(dates)}" if dates else ""
    )
    out = [first]
    for artifact in resource.get("relatedArtifact") or []:
        if not isinstance(artifact, dict) or artifact.get("type") != "citation":
            continue
        cited = re.sub(r"^\d+\.\s*", "", _plain(artifact.get("display") or artifact.get("citation") or ""))
        if cited:
            out.append({"citation": cited, **({"url": artifact["url"]} if artifact.get("url") else {})})
    return out


def _plan_notes(reading: _Reading, resource: Mapping[str, Any], label: str = "") -> list[str]:
    """The source's own words that a person needs (instructions, disclaimer), and what is not carried."""
    notes = []
    for ext in resource.get("extension") or []:
        url = str(ext.get("url", ""))
        if url.endswith("sact-plan-instructions"):
            notes.append(f"{label}Instructions (source): {_plain(ext.get('valueMarkdown'))}")
        elif url.endswith("sact-disclaimer"):
            if not label:  # a part repeats the whole regimen's disclaimer
                notes.append(f"Disclaimer (source): {_plain(ext.get('valueMarkdown'))}")
        elif url.endswith("sact-support-factor"):
            parts = {p.get("url"): _concept_text(p.get("valueCodeableConcept")) for p in ext.get("extension") or []}
            reading.not_carried.append(f"{label}support factor {parts.get('factor')}: {parts.get('value')}")
        elif url.endswith("sact-child-regimen-extra-details"):
            notes.append(f"{label}{_plain(ext.get('valueMarkdown'))}")
        elif url.endswith("sact-treatment-setting"):
            continue  # in the indication
        elif url.startswith(NZ):
            reading.not_carried.append(f"{label}extension {url.removeprefix(NZ)}")
    return notes


def regimen_from_nz(resource: Mapping[str, Any], source: str) -> dict[str, Any]:
    """The fields of a regimen file from a PlanDefinition in the NZ SACT IG's shape; raises
    :class:`NzImportRefused` listing everything it cannot read (and, for an element that is not of the JSON type
    FHIR gives it, that it is not)."""
    try:
        return _regimen_from_nz(resource, source)
    except (AttributeError, TypeError, KeyError, IndexError, InvalidOperation) as exc:
        raise NzImportRefused(
            source, [f"an element is not of the JSON type FHIR R4 gives it, so the file is not read ({exc})"]
        ) from None


def _regimen_from_nz(resource: Mapping[str, Any], source: str) -> dict[str, Any]:
    reading = _Reading()
    for item in resource.get("contained") or []:
        if isinstance(item, dict):
            reading.contained[str(item.get("id"))] = item
    title = _plain(resource.get("title") or resource.get("name") or "")
    if not title:
        reading.refused.append("the PlanDefinition has no title or name")
    status = resource.get("status")
    if status == "retired":
        replaced = [
            (e.get("valueReference") or {}).get("reference")
            for e in resource.get("extension") or []
            if str(e.get("url", "")).endswith("sact-replaced-by")
        ]
        reading.refused.append(
            "the regimen is retired in the source"
            + (f" (replaced by {replaced[0]})" if replaced and replaced[0] else "")
        )
    for ext in resource.get("modifierExtension") or []:
        reading.refused.append(f"modifier extension {ext.get('url')!r} is not one regimen understands")
    notes = _plan_notes(reading, resource)
    phases: list[dict[str, Any]] = []
    actions = [a for a in resource.get("action") or [] if isinstance(a, dict)]
    if not actions:
        reading.refused.append("the PlanDefinition has no actions (cycles or parts)")
    for i, action in enumerate(actions, 1):
        if action.get("timingTiming") is not None:  # a cycle
            fields = _cycle(reading, f"cycle action {i}", action, reading.contained)
            if fields is not None:
                phases.append(
                    {
                        "id": f"cycle-{action.get('prefix') or i}",
                        "name": _plain(action.get("description") or f"cycle {i}"),
                        **fields,
                    }
                )
            continue
        ref = str(action.get("definitionCanonical") or "").removeprefix("#")
        part = reading.contained.get(ref)
        if part is None or part.get("resourceType") != "PlanDefinition":
            why = "no timingTiming (a cycle) and no contained PlanDefinition (a part)"
            reading.refused.append(
                f"action {i} ({_plain(action.get('title') or action.get('description') or '')}): {why}"
            )
            continue
        part_title = _plain(action.get("title") or part.get("title") or f"part {i}")
        label = f"{part_title.split(':')[0]}: "
        notes.extend(_plan_notes(reading, {"extension": action.get("extension") or []}, label))
        notes.extend(_plan_notes(reading, part, label))
        cycles = [a for a in part.get("action") or [] if isinstance(a, dict)]
        scope = {
            **reading.contained,
            **{str(c.get("id")): c for c in part.get("contained") or [] if isinstance(c, dict)},
        }
        for j, cycle in enumerate(cycles, 1):
            fields = _cycle(reading, f"{part_title}, cycle action {j}", cycle, scope)
            if fields is None:
                continue
            part_id = _slug(part_title.split(":")[0], 20) or f"part-{i}"
            phase_id = part_id if len(cycles) == 1 else f"{part_id}-cycle-{j}"
            phases.append({"id": phase_id, "name": part_title, **fields})
    if reading.refused:
        raise NzImportRefused(source, reading.refused)
    setting = [
        _concept_text(e.get("valueCodeableConcept"))
        for e in resource.get("extension") or []
        if str(e.get("url", "")).endswith("sact-treatment-setting")
    ]
    focus = [_concept_text(u.get("valueCodeableConcept")) for u in resource.get("useContext") or []]
    indication = ", ".join(_plain(t) for t in [*(focus[1:] or focus), *setting] if t)
    data: dict[str, Any] = {"id": _slug(f"nz {title}"), "name": title}
    if indication:
        data["indication"] = indication
    data["status"] = f"imported from the {IG} ({status or 'no status'} in the source); check it against the source"
    if resource.get("version"):
        data["version"] = str(resource["version"])
    copyright_text = _plain(resource.get("copyright") or "")
    header = [
        f"Imported by regimen import-definition from a FHIR PlanDefinition in the {IG} shape; every value is the "
        "source's, to be checked against the source before any use.",
        *([f"Copyright (source): {copyright_text}"] if copyright_text else []),
    ]
    said = [n for n in dict.fromkeys(notes) if not any(n != m and n.split(": ", 1)[-1] in m for m in notes)]
    data["notes"] = header + said + [f"Not carried: {what}" for what in reading.not_carried]
    data["source"] = _sources(resource)
    if len(phases) == 1:
        only = phases[0]
        data.update({k: v for k, v in only.items() if k not in ("id", "name")})
    else:
        data["phase"] = phases
    return data


__all__ = ["NzImportRefused", "is_nz_sact", "regimen_from_nz"]
