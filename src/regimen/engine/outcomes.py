"""Every outcome of a rule whose patient value is missing: "cytarabine for 3 days if older than 60".

When a regimen's rule needs a value the caller did not give (the patient's age for ``age > 60``), the plan is
not refused: it is expanded once for each outcome the rules can have, and the plans are merged. A row given
in every outcome is shown once; a row given only in some is marked with the condition under which it is
given ("age ≤ 60"); totals that differ are shown per outcome. The values assumed to reach each outcome are
used by the rules only, never by a dose, a formula or a warning (:attr:`regimen.model.Patient.assumed`).

Outcomes are found exactly: each rule compares a value with numbers (``age > 60``), so the values on either
side of and at every number the rules mention (59, 60, 60.5, 61 for ``age > 60``) reach every outcome; the
values giving the same decisions for every rule in every cycle form one outcome, described as the range of
the value it covers ("age ≤ 60", "age > 60").
"""

from __future__ import annotations

import dataclasses
import itertools
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from fractions import Fraction

from regimen.engine.plan import Plan
from regimen.errors import PatientError, option
from regimen.model import Administration, Patient, Regimen, Total
from regimen.quantities.exact import format_fraction
from regimen.quantities.rules import CATEGORICAL, NUMERIC, All, Any, Compare, Expr, Rule

#: At most this many outcomes are shown; beyond it the plan is refused with a request for the values.
MAX_OUTCOMES = 8

#: What each rule name is, for the sentence that asks for it.
_ASK = {"age": "age", "weight": "weight", "bsa": "BSA", "height": "height", "sex": "sex"}
_SYMBOL = {"age": " years", "weight": " kg", "bsa": " m²", "height": " cm"}


def rules(regimen: Regimen) -> list[Rule]:
    return [v.when for c in regimen.components() for v in c.variants]


def _rule_names(regimen: Regimen) -> frozenset[str]:
    """The patient values the regimen's rules compare, kept with the regimen (``Regimen.once``)."""
    return frozenset({n for r in rules(regimen) for n in r.names} - {"cycle"})


def missing_names(regimen: Regimen, patient: Patient) -> list[str]:
    """Names the regimen's rules compare that the patient lacks (in a fixed order)."""
    names = regimen.once(_rule_names)
    if not names:  # no rule reads a patient value: none can be missing
        return []
    values = patient.rule_values(1)
    return [n for n in (*NUMERIC, *CATEGORICAL) if n in names and values.get(n) is None]


def _compares(e: Expr) -> Iterable[Compare]:
    if isinstance(e, Compare):
        yield e
    else:
        assert isinstance(e, (All, Any))
        for p in e.parts:
            yield from _compares(p)


@dataclass(frozen=True, slots=True)
class _Region:
    """Where a representative value sits among the numbers the rules mention."""

    low: Fraction | None
    low_closed: bool
    high: Fraction | None
    high_closed: bool


def _candidates(regimen: Regimen, name: str) -> list[tuple[Fraction | str, _Region | None]]:
    """Values of ``name`` that reach every outcome of the rules, each with the region it stands for."""
    if name in CATEGORICAL:
        return [(v, None) for v in CATEGORICAL[name]]
    points = sorted(
        {c.value for r in rules(regimen) for c in _compares(r.expr) if c.name == name and isinstance(c.value, Fraction)}
    )
    out: list[tuple[Fraction | str, _Region | None]] = [(points[0] - 1, _Region(None, False, points[0], False))]
    for i, t in enumerate(points):
        out.append((t, _Region(t, True, t, True)))
        if i + 1 < len(points):
            out.append(((t + points[i + 1]) / 2, _Region(t, False, points[i + 1], False)))
    out.append((points[-1] + 1, _Region(points[-1], False, None, False)))
    return out


def _describe(name: str, regions: list[_Region]) -> str:
    """'age ≤ 60', 'age > 60', '60 < age ≤ 70' for consecutive regions of one value."""
    parts: list[list[_Region]] = []
    for r in regions:
        if parts and parts[-1][-1].high == r.low and (parts[-1][-1].high_closed or r.low_closed):
            parts[-1].append(r)
        else:
            parts.append([r])
    unit = _SYMBOL.get(name, "")
    texts = []
    for run in parts:
        low, high = run[0], run[-1]
        if low.low is None and high.high is None:
            return ""
        if low.low is not None and low.low == high.high and low.low_closed and high.high_closed:
            texts.append(f"{name} = {format_fraction(low.low)}{unit}")
        elif low.low is None:
            assert high.high is not None
            texts.append(f"{name} {'≤' if high.high_closed else '<'} {format_fraction(high.high)}{unit}")
        elif high.high is None:
            texts.append(f"{name} {'≥' if low.low_closed else '>'} {format_fraction(low.low)}{unit}")
        else:
            texts.append(
                f"{format_fraction(low.low)} {'≤' if low.low_closed else '<'} {name} "
                f"{'≤' if high.high_closed else '<'} {format_fraction(high.high)}{unit}"
            )
    return " or ".join(texts)


@dataclass(frozen=True, slots=True)
class Outcome:
    """One outcome of the undecided rules: the values assumed to reach it, and its condition in words."""

    assumed: tuple[tuple[str, Fraction | str], ...]
    condition: str


def outcomes(regimen: Regimen, patient: Patient, names: list[str], cycles: int) -> list[Outcome]:
    """The distinct outcomes of the regimen's rules over the missing ``names`` (cycles 1..``cycles``)."""
    per_name = [_candidates(regimen, n) for n in names]
    all_rules = rules(regimen)
    groups: dict[tuple[bool, ...], list[tuple[tuple[Fraction | str, _Region | None], ...]]] = {}
    for combo in itertools.product(*per_name):
        trial = dataclasses.replace(patient, assumed=tuple(zip(names, (v for v, _ in combo), strict=True)))
        signature = tuple(r.evaluate(trial.rule_values(c)) for r in all_rules for c in range(1, cycles + 1))
        groups.setdefault(signature, []).append(combo)
    out = []
    for combos in groups.values():
        out.append(
            Outcome(
                tuple(zip(names, (v for v, _ in combos[0]), strict=True)),
                _condition(names, per_name, combos) or "always",
            )
        )
    return out


Combo = tuple[tuple[Fraction | str, "_Region | None"], ...]


def _condition(
    names: list[str], per_name: list[list[tuple[Fraction | str, _Region | None]]], combos: list[Combo]
) -> str:
    """The values ``combos`` cover, in words: a conjunction when they form a product of per-value sets,
    else split on the first value that varies and joined with 'or'."""
    distinct = [list(dict.fromkeys(c[i] for c in combos)) for i in range(len(names))]
    size = 1
    for d in distinct:
        size *= len(d)
    if size == len(set(combos)):
        words = []
        for i, name in enumerate(names):
            if len(distinct[i]) == len(per_name[i]):
                continue  # every value of this name: it does not matter here
            if name in CATEGORICAL:
                words.append(" or ".join(f"{name} {v}" for v, _ in distinct[i]))
            else:
                regions = [r for _, r in distinct[i] if r is not None]
                regions.sort(key=lambda r: (r.low is not None, r.low or 0, not r.low_closed))
                words.append(_describe(name, regions))
        return " and ".join(w for w in words if w)
    texts = []
    for split in (i for i, d in enumerate(distinct) if len(d) > 1):  # the split that reads shortest
        groups: dict[object, list[Combo]] = {}
        for c in combos:  # values of the split name that cover the same values of the others go together
            rest = tuple(sorted(map(repr, (x[:split] + x[split + 1 :] for x in combos if x[split] == c[split]))))
            groups.setdefault(rest, []).append(c)
        parts = [_condition(names, per_name, sub) for sub in groups.values()]
        texts.append(" or ".join(f"({p})" if " and " in p and len(parts) > 1 else p for p in parts))
    return min(texts, key=len)


def condition_values(condition: str) -> list[str]:
    """The patient values a row's condition is on, in the order it names them ("age ≤ 60 years": [age]; "sex female
    and age ≤ 61 years": [sex, age]; a range of the creatinine clearance, "30 ≤ CrCl ≤ 50 mL/min", is on the age and
    the weight it is worked out from)."""
    words = re.findall(r"[A-Za-z]+", condition)
    return list(dict.fromkeys(n for w in words for n in (_WORKED_FROM.get(w) or ((w,) if w in _ASK else ()))))


#: A value a condition names that is worked out from patient values (renal_adjust's ranges of a clearance).
_WORKED_FROM = {"CrCl": ("age", "weight")}


def settled_by(condition: str) -> str:
    """The options that give the values a row's condition is on ("age ≤ 60 years": --age; "sex female and age ≤ 61
    years": --sex and --age), or 'the value' when the condition names none the options take."""
    names = condition_values(condition)
    return " and ".join(option(n) for n in names) if names else "the value"


def missing_warning(regimen: Regimen, names: list[str], outcome_list: list[Outcome]) -> str:
    asked = " and ".join(_ASK[n] for n in names)
    decided = "; ".join(f"'{r.text}'" for r in dict.fromkeys(rules(regimen)) if set(r.names) & set(names))
    return (
        f"{asked} not given: rule {decided} decides part of this plan; rows that depend on it are marked "
        f"'only if ...' and totals are shown for each outcome ({', '.join(o.condition for o in outcome_list)}). "
        f"Give {' and '.join('--' + n for n in names)} to settle it"
    )


def undecided_notes(regimen: Regimen, conditions: list[str]) -> list[str]:
    """What each undecided rule changes, in the words of the regimen file."""
    out = []
    for comp in regimen.components():
        for v in comp.variants:
            what = v.note or "see 'regimen show'"
            out.append(
                f"{comp.drug}: rule '{v.when.text}' not decided ({what}); rows for each outcome are marked: "
                f"{' / '.join(conditions)}"
            )
    return out


def _and(outer: str, inner: str | None) -> str:
    """``outer`` (this merge's condition) and ``inner`` (a condition the row had from a merge of its own plan)."""
    if not inner:
        return outer
    return f"({outer}) and {inner}" if " or " in outer else f"{outer} and {inner}"


def merge(
    plans: list[Plan],
    conditions: list[str],
    patient: Patient,
    warning: str,
    said: list[str],
) -> Plan:
    """One plan showing every outcome: shared rows once, the others marked with their condition (and any condition
    they had, from an outcome's own merge). ``said``: notes on what is undecided, before the last note."""
    seen: dict[Administration, list[int]] = {}
    for i, plan in enumerate(plans):
        for row in plan.administrations:
            seen.setdefault(row, []).append(i)
    rows: list[Administration] = []
    for row, where in seen.items():
        if len(where) == len(plans):
            rows.append(row)
        else:
            rows.append(
                dataclasses.replace(row, condition=_and(" or ".join(conditions[i] for i in where), row.condition))
            )
    regimen = plans[0].regimen
    order = {(ph.id, c.id): i for ph in regimen.phases for i, c in enumerate(ph.components)}
    rows.sort(key=lambda r: (r.course_day, order[(r.phase, r.component)], r.condition or ""))
    totals = _merge_totals(plans, conditions)
    notes = [n for n in plans[0].notes if all(n in p.notes for p in plans[1:])]
    notes[-1:-1] = said
    warnings = [warning, *_marked([p.warnings for p in plans], conditions)]
    # the missing value's warning is the plan's as a whole: every CSV row carries it, and a course keeps it
    plan_level = [warning, *_marked([p.plan_warnings for p in plans], conditions)]
    return dataclasses.replace(
        plans[0],
        patient=patient,
        administrations=tuple(rows),
        totals=tuple(totals),
        notes=tuple(notes),
        warnings=tuple(warnings),
        plan_warnings=tuple(plan_level),
    )


def _marked(said: list[tuple[str, ...]], conditions: list[str]) -> list[str]:
    """Each outcome's warnings, once each; one that only some outcomes give begins with their condition ("only if
    sex female: cisplatin left out of the plan ...")."""
    where: dict[str, list[str]] = {}
    for texts, condition in zip(said, conditions, strict=True):
        for text in texts:
            where.setdefault(text, []).append(condition)
    return [t if len(c) == len(conditions) else _only_if(" or ".join(c), t) for t, c in where.items()]


def _only_if(condition: str, text: str) -> str:
    """``text`` (a warning) marked as given only if ``condition`` holds, with any condition it had from an outcome's
    own merge ("only if sex female and age ≥ 93 years: capecitabine left out ...")."""
    inner, marked, rest = text.removeprefix("only if ").partition(": ")
    if text.startswith("only if ") and marked:
        return f"only if {_and(condition, inner)}: {rest}"
    return f"only if {condition}: {text}"


def _merge_totals(plans: list[Plan], conditions: list[str]) -> list[Total]:
    """Each drug's totals over the outcomes: one total when every outcome has the same; else each outcome's (0 where
    it gives none), outcomes with the same totals under one condition, and any condition a total had from an
    outcome's own merge kept beside it ("sex female and age ≤ 61 years")."""

    def key(t: Total) -> tuple[str | None, int | None, str, str | None, str]:
        return (t.phase, t.cycle, t.drug, t.component, t.unit)

    keys = list(dict.fromkeys(key(t) for p in plans for t in p.totals))
    out: list[Total] = []
    for k in keys:
        each = [
            tuple((t.amount, t.condition) for t in p.totals if key(t) == k) or ((Fraction(0), None),) for p in plans
        ]
        groups: dict[tuple[tuple[Fraction, str | None], ...], list[str]] = {}
        for found, condition in zip(each, conditions, strict=True):
            groups.setdefault(found, []).append(condition)
        phase, cycle, drug, component, unit = k
        for found, where in groups.items():
            outer = None if len(groups) == 1 else " or ".join(where)
            for amount, inner in found:
                marked = inner if outer is None else _and(outer, inner)
                out.append(Total(drug, amount, unit, phase, cycle, marked, component))
    return out


def expand_outcomes(
    regimen: Regimen, patient: Patient, names: list[str], cycles: int, expand_one: Callable[[Patient], Plan]
) -> Plan:
    """Expand once per outcome of the undecided rules and merge the plans."""
    found = outcomes(regimen, patient, names, cycles)
    if len(found) > MAX_OUTCOMES:
        raise PatientError(
            f"{regimen.id}: the rules depend on the patient's {' and '.join(names)} in "
            f"{len(found)} ways; pass {' and '.join(option(n) for n in names)}"
        )
    plans = [expand_one(dataclasses.replace(patient, assumed=o.assumed)) for o in found]
    conditions = [o.condition for o in found]
    warning = missing_warning(regimen, names, found)
    return merge(plans, conditions, patient, warning, undecided_notes(regimen, conditions))


__all__ = [
    "MAX_OUTCOMES",
    "Outcome",
    "condition_values",
    "expand_outcomes",
    "merge",
    "missing_names",
    "missing_warning",
    "outcomes",
    "settled_by",
]
