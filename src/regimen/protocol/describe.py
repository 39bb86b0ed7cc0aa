"""A regimen in words, the way a protocol prints it (``regimen show``)."""

from __future__ import annotations

from regimen.model import AucDose, Component, DayList, Phase, Regimen, Step, Variant, resolve_days
from regimen.protocol.antiemetics import antiemetic_lines
from regimen.quantities.days import describe_days
from regimen.quantities.exact import format_fraction


def _sentence(text: str) -> str:
    """``text`` ended with one full stop: never 'page..' when it ends with one already."""
    text = text.rstrip()
    return text if text.endswith((".", "!", "?", "…")) else text + "."


def _cap(text: str) -> str:
    return text[:1].upper() + text[1:]


_TIMES = {2: "twice daily", 3: "three times daily", 4: "four times daily"}


def _how(comp: Component, duration_text: str | None) -> str:
    route = comp.route or "route not stated"
    times = "" if comp.times_per_day == 1 else " " + _TIMES.get(comp.times_per_day, f"{comp.times_per_day} times daily")
    if comp.method is None:
        implied = comp.how
        return f"{implied}{times}" if implied is not None else f"{route} (method not stated){times}"
    if comp.method == "IV push":
        return f"IV push{times}"
    if comp.method == "continuous infusion":
        over = f" over {duration_text}" if duration_text else ""
        return f"{route} as a continuous infusion{over}"
    if comp.method == "infusion":
        if duration_text:
            return f"{route} infusion over {duration_text}"
        return f"{route} infusion ({'rate-escalated' if comp.rate_escalation else 'duration not stated'})"
    return f"{route} bolus{times}"


def _days_text(phase: Phase, comp: Component, variant: Variant | None) -> str:
    days = variant.days if variant is not None and variant.days is not None else comp.days
    resolved = resolve_days(phase, comp.id, lambda c: variant if c.id == comp.id else None)
    if isinstance(days, DayList):
        return describe_days(resolved)
    return f"{days.describe()} ({describe_days(resolved)})"


def describe_component(phase: Phase, comp: Component) -> list[str]:
    order = ""
    if comp.after is not None:  # the order the protocol gives within the day
        follows = phase.component(comp.after).drug if comp.after in {c.id for c in phase.components} else comp.after
        order = f", after {follows}" + (f" ({comp.after})" if follows != comp.after else "")
        order += f" + {comp.gap_text}" if comp.gap_text else ""
    total = ""
    if comp.method == "continuous infusion" and not isinstance(comp.dose, AucDose) and comp.dose.unit.time == "none":
        total = " (the total over the infusion)"
    if comp.supportive:  # its timing is said relative to the drug it supports
        order = f", {comp.timing}" if comp.timing else ""
    added = f" with {', '.join(map(str, comp.additives))} added" if comp.additives else ""
    volume = f" in {comp.volume.display}" if comp.volume is not None and comp.volume is not comp.dose else ""
    lines = [
        f"- {_cap(comp.drug)} {comp.dose.display}{total}{volume}{added} {_how(comp, comp.duration_text)}, "
        f"{_days_text(phase, comp, None)}{comp.cycles_text}{order}" + (f" [{comp.kind}]." if comp.supportive else ".")
    ]
    for v in comp.variants:
        dose = v.dose or comp.dose
        duration = v.duration_text or comp.duration_text
        detail = f"{dose.display} {_how(comp, duration)}, {_days_text(phase, comp, v)}"
        note = f" ({v.note})" if v.note else ""
        lines.append(f"    if {v.when.text}: {detail}{note}.")
    limits = [
        f"{label} {amount.text}"
        for label, amount in (
            ("maximum per administration", comp.max_dose),
            ("maximum per day", comp.max_daily),
            ("maximum per cycle", comp.max_per_cycle),
        )
        if amount
    ]
    if limits:
        lines.append(f"    {_cap('; '.join(limits))}.")
    if comp.levels:
        levels = ", ".join(f"level {lv.level}: {lv.describe()}" for lv in comp.levels)
        lines.append(f"    Dose levels: {levels}.")
    if comp.dosing_weight:
        lines.append(f"    Weight-based doses use the {comp.dosing_weight} body weight.")
    if comp.round_to:
        lines.append(f"    Doses rounded to the nearest {comp.round_to.text}.")
    for kind, rows in (("Kidney function (CrCl or GFR)", comp.renal), ("Liver values", comp.hepatic)):
        if rows:
            said = "; ".join(
                f"{_measure(r.measure)}{r.range_text()}: {r.action_text()} ({r.source}{', ' + r.url if r.url else ''})"
                for r in rows
            )
            lines.append(f"    {kind}: {said}.")
    for r in comp.rate_escalation:
        which = "first infusion of the course" if r.infusions == "first" else "later infusions"
        where = f"{r.source}{', ' + r.url if r.url else ''}"
        note = f" {r.note}" if r.note else ""
        lines.append(f"    Rate escalation, {which}: {r.describe()} ({where}).{note}")
    if comp.note:
        lines.append(f"    Note: {comp.note}")
    return lines


def _measure(key: str) -> str:
    """The name a hepatic row's range needs before it ('bilirubin '); a renal row's range is in mL/min already."""
    return "" if key == "crcl" else key.split("_", 1)[0].upper().replace("BILIRUBIN", "bilirubin") + " "


def describe_schedule(phase: Phase) -> str:
    length = f"every {phase.cycle_length} days" if phase.cycle_length else "cycle length not stated in the source"
    if phase.cycles == 1:
        count = "1 cycle"
    elif phase.cycles:
        count = f"up to {phase.cycles} cycles"
    else:
        count = "number of cycles not stated in the source"
    limit = f"; {phase.limit}" if phase.limit else ""
    if phase.max_duration is not None and (phase.limit is None or phase.max_duration[1] not in phase.limit):
        limit += f"; at most {phase.max_duration[1]}"
    return f"{_cap(length)}; {count}{limit}."


def describe(regimen: Regimen) -> str:
    out = [f"{regimen.id}: {regimen.name}"]
    if regimen.indication:
        out.append(f"Indication: {regimen.indication}.")
    meta = [
        x
        for x in (
            f"version {regimen.version}" if regimen.version else None,
            f"status {regimen.status}" if regimen.status else None,
        )
        if x
    ]
    if meta:
        out.append(_cap(", ".join(meta)) + ".")
    eligibility = regimen.eligibility
    if eligibility is not None and (eligibility.min_age is not None or eligibility.max_age is not None):
        ages = [
            f"aged {format_fraction(eligibility.min_age)} or over" if eligibility.min_age is not None else "",
            f"aged {format_fraction(eligibility.max_age)} or under" if eligibility.max_age is not None else "",
        ]
        out.append(f"Eligible: patients {' and '.join(a for a in ages if a)}.")
    if regimen.dosing_weight:
        out.append(f"Weight-based doses use the {regimen.dosing_weight} body weight.")
    for s in regimen.sources:
        out.append(f"Source: {s}" + (f". {_sentence(s.note)}" if s.note else ""))
    for phase in regimen.phases:
        out.append("")
        if phase.id != "main":
            out.append(f"{_cap(phase.name or phase.id)} [{phase.id}]:")
        out.append(describe_schedule(phase))
        for comp in phase.components:
            if not comp.supportive:
                out.extend(describe_component(phase, comp))
        supportive = [comp for comp in phase.components if comp.supportive]
        if supportive:
            out.append("Supportive care (not counted in the anticancer totals):")
            for comp in supportive:
                out.extend(describe_component(phase, comp))
    lines = protocol_lines(regimen)
    if lines:
        out.append("")
        out.extend(lines)
    if regimen.notes:
        out.append("")
        out.extend(f"Note: {n}" for n in regimen.notes)
    return "\n".join(out) + "\n"


def step_text(step: Step) -> str:
    """A modification's step in words: 'delay the cycle by 7 days', 'oxaliplatin at dose level -1'."""
    drugs = ", ".join(step.drugs) if step.drugs else "every anticancer drug"
    if step.action == "delay":
        return f"delay {'the cycle' if not step.drugs else drugs} by {step.delay_days} days"
    if step.action == "reduce":
        if step.level is not None:
            at = f"dose level {step.level}"
        elif step.percent is not None:
            at = f"{format_fraction(step.percent)} % of the dose"
        else:
            assert step.dose is not None
            at = step.dose.display
        return f"give {drugs} at {at}"
    if step.action == "omit":
        return f"omit {drugs} this cycle"
    return f"stop {drugs}"


def _scope(phases: tuple[str, ...]) -> str:
    """'ac phase: ' before a gate or modification of some phases only; nothing for one of every cycle."""
    if not phases:
        return ""
    return f"{' and '.join(phases)} phase{'s' if len(phases) > 1 else ''}: "


def protocol_lines(regimen: Regimen) -> list[str]:
    """What the regimen file says beyond the doses, each with its source: the emetogenic risk, what must be known
    before the first dose, the gates before each cycle and the modification table."""
    out: list[str] = []
    risk = regimen.emetogenic_risk
    if risk is not None:
        out.append(f"Emetogenic risk: {risk.level} ({risk.source}).")
        out.extend(antiemetic_lines(risk, regimen.components()))
    if regimen.requirements:
        out.append("Before the first dose:")
        out.extend(f"- {r.test}, before {', '.join(r.drugs)} ({r.source})." for r in regimen.requirements)
    if regimen.gates:
        out.append("Before each cycle:")
        out.extend(f"- {_scope(g.phases)}{g.condition.text} ({g.source})." for g in regimen.gates)
    if regimen.modifications:
        out.append("Modifications:")
        for m in regimen.modifications:
            then = f"; after {m.after_delays} delays: {step_text(m.then)}" if m.then is not None else ""
            out.append(f"- {_scope(m.phases)}if {m.text}: {step_text(m.step)}{then} ({m.source}).")
    return out
