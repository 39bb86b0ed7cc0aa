"""The protocol beyond the doses, read by its field tables: sources, emetogenic risk, pre-treatment requirements,
gates before each cycle and the dose modification table."""

from __future__ import annotations

from functools import partial
from typing import Any, cast

from regimen.model import (
    ACTIONS,
    Action,
    Component,
    Condition,
    EmetogenicRisk,
    Gate,
    Modification,
    Phase,
    Requirement,
    Source,
    Step,
)
from regimen.protocol import values
from regimen.protocol.collect import Collector, in_table, place, read_fields
from regimen.protocol.conditions import parse_conditions
from regimen.protocol.fields import EMETOGENIC, GATE, MODIFICATION, REQUIREMENT, SOURCE, STEP
from regimen.protocol.spec import Table


def _tables(
    c: Collector, data: dict[str, Any], key: str, table: Table
) -> list[tuple[str, dict[str, Any], dict[str, Any]]]:
    """The ``[[key]]`` tables of a file, each with its place for messages and its fields read by ``table``."""
    raw = data.get(key, [])
    if not isinstance(raw, list):
        c.add(place(field=key), f"{key} must be [[{key}]] tables")
        return []
    out = []
    for i, item in enumerate(raw, 1):
        where = f"{key} {i}"
        if not isinstance(item, dict):
            c.add(where, f"a {key} must be a table")
            continue
        absent = [k for k in table.required if k not in item]
        read = read_fields(c, table, item, partial(in_table, where), missing=False)
        if absent:
            c.add(where, table.missing.format(", ".join(absent)))
            continue
        out.append((where, item, read))
    return out


def _drugs(
    c: Collector, where: str, value: object, components: list[Component], *, at_least_one: bool = False
) -> tuple[str, ...]:
    """Components or drug names, each naming one of the regimen's."""
    names = {comp.id for comp in components} | {comp.drug.lower() for comp in components}
    if not isinstance(value, list) or not all(isinstance(v, str) and v.strip() for v in value):
        c.add(where, "must be a list of component ids or drug names")
        return ()
    if at_least_one and not value:
        c.add(where, f"name at least one component or drug; use one of {', '.join(sorted(names))}")
        return ()
    for v in value if components else ():  # no components read: their own problems are said, not this one's
        if v.strip().lower() not in names:
            c.add(where, f"{v!r} is not a component or drug of this regimen; use one of {', '.join(sorted(names))}")
    return tuple(v.strip() for v in value)


def _step_fits(
    c: Collector, where: str, action: str, said: int, delay_days: int | None, drugs: tuple[str, ...]
) -> None:
    """What an action needs and what belongs to another action."""
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


def _step(
    c: Collector, where: str, raw: dict[str, Any], components: list[Component], *, check_keys: bool
) -> Step | None:
    """A step (the modification's own fields, or its 'then' table); ``check_keys`` for a table of its own."""
    if check_keys:
        c.unknown_keys(where, raw, STEP.keys)
    read = read_fields(
        c, STEP, {k: v for k, v in raw.items() if k in STEP.keys}, partial(in_table, where), missing=False
    )
    action = cast("Action | None", read.get("action"))
    if action is None:
        if "action" not in raw:
            c.add(in_table(where, "action"), f"missing: give the action, one of {', '.join(ACTIONS)}")
        return None
    drugs = _drugs(c, in_table(where, "drugs"), raw["drugs"], components) if "drugs" in raw else ()
    delay = read.get("delay")
    delay_days = None
    if delay is not None:
        if delay[0] % 24:
            c.add(in_table(where, "delay"), f"delay {delay[1]!r} must be a whole number of days")
        delay_days = int(delay[0] // 24)
    level, pct, dose = read.get("level"), read.get("dose_percent"), read.get("dose")
    _step_fits(c, where, action, sum(x is not None for x in (level, pct, dose)), delay_days, drugs)
    for drug in drugs if level is not None else ():
        for comp in components:
            if drug.lower() in (comp.id, comp.drug.lower()) and not any(x.level == level for x in comp.levels):
                c.add(where, f"{comp.id} has no dose level {level}: add it to the component's levels")
    return Step(action, drugs, delay_days, level, pct, dose)


def _conditions(value: object, what: str) -> tuple[Condition, ...]:
    return parse_conditions(values.text(value, what))


def _emetogenic(c: Collector, data: dict[str, Any]) -> EmetogenicRisk | None:
    raw = data["emetogenic_risk"]
    if not isinstance(raw, dict) or not set(EMETOGENIC.required) <= set(raw):
        c.add(place(field="emetogenic_risk"), EMETOGENIC.missing)
        return None
    read = read_fields(c, EMETOGENIC, raw, lambda _f: "emetogenic_risk", missing=False)
    if read.get("level") is None or read.get("source") is None or ("note" in raw and read.get("note") is None):
        return None
    return EmetogenicRisk(read["level"], read["source"], read.get("note"))


def _requirements(c: Collector, data: dict[str, Any], components: list[Component]) -> tuple[Requirement, ...]:
    out = []
    for where, raw, read in _tables(c, data, "requirement", REQUIREMENT):
        drugs = _drugs(c, in_table(where, "before"), raw["before"], components, at_least_one=True)
        if read["id"] and read["test"] and read["source"]:
            out.append(Requirement(read["id"], read["test"], drugs, read["source"], read.get("note")))
    if len({r.id for r in out}) != len(out):
        c.add("requirement", "duplicate requirement ids")
    return tuple(out)


def _scope(c: Collector, where: str, raw: dict[str, Any], phases: list[Phase]) -> tuple[str, ...]:
    """The phases a gate or modification applies to (``phases = ["ac"]``), each one of the regimen's; none: all."""
    if "phases" not in raw:
        return ()
    value, ids = raw["phases"], [p.id for p in phases]
    where = in_table(where, "phases")
    if not isinstance(value, list) or not value or not all(isinstance(v, str) for v in value):
        c.add(where, f"must be a list of phase ids, e.g. [{ids[0]!r}]" if ids else "must be a list of phase ids")
        return ()
    if ids == ["main"]:
        c.add(where, "the regimen has no [[phase]] tables: leave 'phases' out (it applies to every cycle)")
        return ()
    for v in value if ids else ():  # no phases read: their own problems are said, not this one's
        if v not in ids:
            c.add(where, f"{v!r} is not a phase of this regimen; use one of {', '.join(ids)}")
    if len(set(value)) != len(value):
        c.add(where, "a phase is named twice")
    return tuple(value)


def _gates(c: Collector, data: dict[str, Any], phases: list[Phase]) -> tuple[Gate, ...]:
    out = []
    for where, raw, read in _tables(c, data, "gate", GATE):
        found = c.attempt(in_table(where, "require"), partial(_conditions, raw["require"], "require"))
        scope = _scope(c, where, raw, phases)
        if found and len(found) != 1:
            c.add(in_table(where, "require"), "a gate is one comparison: write one [[gate]] per test")
        elif found and read["source"]:
            out.append(Gate(found[0], read["source"], read.get("note"), scope))
    return tuple(out)


def _modifications(c: Collector, data: dict[str, Any], phases: list[Phase]) -> tuple[Modification, ...]:
    out = []
    for where, raw, read in _tables(c, data, "modification", MODIFICATION):
        when = c.attempt(in_table(where, "when"), partial(_conditions, raw["when"], "when"))
        scope = _scope(c, where, raw, phases)
        # a modification of some phases names their drugs only (the paclitaxel rule cannot reduce doxorubicin)
        components = [comp for p in phases if not scope or p.id in scope for comp in p.components]
        step = _step(c, where, raw, components, check_keys=False)
        then = None
        if "then" in raw:
            if not isinstance(raw["then"], dict):
                c.add(in_table(where, "then"), "then is a table { action = ..., ... }")
            else:
                then = _step(c, where + ", then", raw["then"], components, check_keys=True)
        after = read.get("after_delays")
        if (then is None) != ("after_delays" not in raw):
            c.add(where, "'then' and 'after_delays' go together: what to do after how many delays")
        if after is not None and step is not None and step.action != "delay":
            c.add(where, "'after_delays' counts delays: the first action must be a delay")
        if when and read["source"] and step:
            out.append(Modification(when, step, read["source"], then, after, read.get("note"), scope))
    return tuple(out)


def protocol(c: Collector, data: dict[str, Any], phases: list[Phase]) -> dict[str, Any]:
    """The whole protocol beyond the doses: emetogenic risk, pre-treatment requirements, gates and modifications."""
    components = [comp for p in phases for comp in p.components]
    out: dict[str, Any] = {}
    if "emetogenic_risk" in data:
        risk = _emetogenic(c, data)
        if risk is not None:
            out["emetogenic_risk"] = risk
    out.update(
        requirements=_requirements(c, data, components),
        gates=_gates(c, data, phases),
        modifications=_modifications(c, data, phases),
    )
    return out


def sources(c: Collector, raw: object) -> list[Source]:
    if isinstance(raw, dict):
        raw = [raw]
    if not isinstance(raw, list) or not raw:
        c.add(place(field="source"), "add at least one [[source]] with a citation: every regimen is cited")
        return []
    out = []
    for i, s in enumerate(raw, 1):
        where = f"source {i}"
        if not isinstance(s, dict):
            c.add(where, "a source must be a table with a citation")
            continue
        read = read_fields(c, SOURCE, s, partial(in_table, where))
        if read.get("citation"):
            out.append(Source(**read))
    return out


__all__ = ["protocol", "sources"]
