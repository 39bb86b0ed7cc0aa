"""Values checked before a cycle: blood counts, chemistry and toxicity grades, each in one explicit unit.

Every test has one canonical unit, the one regimen files write their gates in: blood counts in ×10⁹/L,
haemoglobin in g/L, creatinine and bilirubin in µmol/L (or as a multiple of the upper limit of normal, × ULN),
ALT/AST/ALP in U/L (or × ULN), creatinine clearance in mL/min, LVEF in %, toxicities as CTCAE grades 0-4.
A value is read with its unit and converted exactly (1,500 /µL = 1.5 ×10⁹/L; 1.2 mg/dL bilirubin = 20.52 µmol/L);
a bare number is taken in the canonical unit, and one that is impossible there but plausible in another unit is an
error naming the likely slip ("ANC 1500 ×10⁹/L is not possible: 1500 /µL is 1.5 ×10⁹/L").

Conversion factors: creatinine 88.42 µmol/L per mg/dL (as :mod:`regimen.clinical.patient`), bilirubin 17.1 µmol/L
per mg/dL (the SI conversion factor of the AMA Manual of Style's SI table; molar mass 584.7 g/mol), haemoglobin
10 g/L per g/dL, cells 1 /µL = 1 /mm³ = 10⁻³ ×10⁹/L. The plausible ranges are a project choice, wide enough for
any patient (a leukaemic white count of 500 ×10⁹/L is possible; an ANC of 1,500 ×10⁹/L is not).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from fractions import Fraction

from regimen.errors import RegimenError
from regimen.quantities.exact import format_fraction
from regimen.quantities.limits import LimitError, fraction_from


class LabError(RegimenError):
    """A pre-cycle value that cannot be read, or is not possible in the unit it is given in."""


@dataclass(frozen=True, slots=True)
class Test:
    """One test: its name, canonical unit, the units it may be given in (factor to the canonical unit), whether
    it may be given as a multiple of the upper limit of normal, and the plausible range in the canonical unit."""

    name: str
    unit: str
    units: dict[str, Fraction]
    low: Fraction
    high: Fraction
    uln: bool = False
    grade: bool = False
    #: a grade of the cycle before (its worst), not a value of today: the check's option and form field say so, and
    #: 'persistent' (a toxicity persisting now) is refused
    prior: bool = False


_COUNT_UNITS = {
    "x10^9/l": Fraction(1),
    "10^9/l": Fraction(1),
    "g/l": Fraction(1),  # giga per litre, as some laboratories print it
    "/ul": Fraction(1, 1000),
    "cells/ul": Fraction(1, 1000),
    "/mm3": Fraction(1, 1000),
    "cells/mm3": Fraction(1, 1000),
}
_CREATININE = Fraction(8842, 100)  # µmol/L per mg/dL
_BILIRUBIN = Fraction(171, 10)  # µmol/L per mg/dL
_GRADE: dict[str, Fraction] = {"": Fraction(1)}


def _count(name: str, high: int) -> Test:
    return Test(name, "×10⁹/L", _COUNT_UNITS, Fraction(0), Fraction(high))


def _grade(name: str) -> Test:
    return Test(name, "grade", _GRADE, Fraction(0), Fraction(4), grade=True)


def _prior_grade(name: str) -> Test:
    """The worst CTCAE grade of ``name`` in the cycle before: a nadir grade, never the count or grade of today."""
    return Test(name, "grade", _GRADE, Fraction(0), Fraction(4), grade=True, prior=True)


#: Every test a regimen file may gate on, by the name it uses.
TESTS: dict[str, Test] = {
    "anc": _count("absolute neutrophil count", 100),
    "platelets": _count("platelets", 2000),
    "wbc": _count("white cell count", 500),
    "hb": Test("haemoglobin", "g/L", {"g/l": Fraction(1), "g/dl": Fraction(10)}, Fraction(30), Fraction(250)),
    "creatinine": Test(
        "serum creatinine",
        "µmol/L",
        {"umol/l": Fraction(1), "mg/dl": _CREATININE},
        Fraction(10),
        Fraction(3537),
        uln=True,
    ),
    "crcl": Test("creatinine clearance", "mL/min", {"ml/min": Fraction(1)}, Fraction(1), Fraction(250)),
    "bilirubin": Test(
        "bilirubin", "µmol/L", {"umol/l": Fraction(1), "mg/dl": _BILIRUBIN}, Fraction(1), Fraction(900), uln=True
    ),
    "alt": Test("ALT", "U/L", {"u/l": Fraction(1), "iu/l": Fraction(1)}, Fraction(1), Fraction(20000), uln=True),
    "ast": Test("AST", "U/L", {"u/l": Fraction(1), "iu/l": Fraction(1)}, Fraction(1), Fraction(20000), uln=True),
    "alp": Test("ALP", "U/L", {"u/l": Fraction(1), "iu/l": Fraction(1)}, Fraction(1), Fraction(20000), uln=True),
    "lvef": Test("LVEF", "%", {"%": Fraction(1)}, Fraction(5), Fraction(90)),
    "neuropathy": _grade("peripheral neuropathy"),
    "diarrhoea": _grade("diarrhoea"),
    "mucositis": _grade("mucositis"),
    "hand_foot": _grade("hand-foot syndrome"),
    "nausea": _grade("nausea"),
    "vomiting": _grade("vomiting"),
    "nonhaem": _grade("other non-haematological toxicity"),
    # Grades of the cycle before, at their worst (product information reduces the next dose "according to the worst
    # grade of adverse events observed in the prior infusion", the Campto SmPC). Each name says so, so that none is
    # read as today's value: the ANC before the cycle is ``anc``, the non-haematological grade now is ``nonhaem``.
    "febrile_neutropenia": _prior_grade("febrile neutropenia in the cycle before"),
    "worst_neutropenia_prior_cycle": _prior_grade("worst neutropenia in the cycle before (its nadir; not today's ANC)"),
    "worst_thrombocytopenia_prior_cycle": _prior_grade(
        "worst thrombocytopenia in the cycle before (its nadir; not today's platelets)"
    ),
    "worst_leucopenia_prior_cycle": _prior_grade(
        "worst leucopenia in the cycle before (its nadir; not today's white cell count)"
    ),
    "worst_nonhaem_prior_cycle": _prior_grade(
        "worst non-haematological toxicity of any kind in the cycle before, diarrhoea included (not today's grade)"
    ),
}
ULN = "× ULN"

_NUMBER = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(.*?)\s*$")
_SPACES = re.compile(r"\s+")


def unit_key(text: str) -> str:
    """A unit as typed, in one spelling: '×10⁹/L' -> 'x10^9/l', 'cells/mm³' -> 'cells/mm3', 'µmol/L' -> 'umol/l'."""
    out = _SPACES.sub("", text).lower()
    for old, new in (("×", "x"), ("⁹", "^9"), ("10e9", "10^9"), ("10*9", "10^9"), ("³", "3"), ("µ", "u"), ("μ", "u")):
        out = out.replace(old, new)
    return out.replace("*", "")


def is_uln(unit: str) -> bool:
    return unit_key(unit) in ("xuln", "uln", "timesuln")


@dataclass(frozen=True, slots=True)
class LabValue:
    """A value read for a test: in the canonical unit, or as a multiple of the ULN; with how it was converted."""

    test: str
    value: Fraction
    unit: str  # the canonical unit, or ULN
    text: str  # as given
    working: str | None = None  # '1500 /µL = 1.5 ×10⁹/L'
    persistent: bool = False  # a toxicity that persists between cycles

    @property
    def shown(self) -> str:
        return f"{format_fraction(self.value)} {self.unit}" if self.unit != "grade" else f"grade {self.value}"


def read(test: str, raw: object) -> LabValue:
    """The value of ``test`` given as ``raw`` ('1.2', '1200/µL', '1.4 mg/dL', '1.5 x ULN', '2 persistent')."""
    if test not in TESTS:
        raise LabError(f"unknown test {test!r}: use one of {', '.join(TESTS)}")
    t = TESTS[test]
    text = str(raw).strip()
    match = _NUMBER.match(text)
    if match is None:
        raise LabError(f"{test} {text!r} is not a number with a unit: give e.g. {_example(test)}")
    number, unit = match.groups()
    try:
        value = fraction_from(number, f"{test} {text!r}")
    except LimitError as exc:
        raise LabError(exc.message) from None
    if t.grade:
        persistent = unit.lower() == "persistent"
        if persistent and t.prior:
            raise LabError(
                f"{test} {text!r}: the worst grade in the cycle before does not persist; give the grade 0-4 alone"
            )
        if unit and not persistent:
            raise LabError(
                f"{test} {text!r}: give a CTCAE grade 0-4, with 'persistent' when it persists (e.g. 2 persistent)"
            )
        if value.denominator != 1 or not 0 <= value <= 4:
            raise LabError(f"{test} grade {text!r} is not a CTCAE grade: give a whole number from 0 to 4")
        return LabValue(test, value, "grade", text, persistent=persistent)
    if unit and is_uln(unit):
        if not t.uln:
            raise LabError(f"{test} is not given as a multiple of the upper limit of normal: give it in {t.unit}")
        if not 0 < value <= 100:
            raise LabError(f"{test} {text!r}: a multiple of the upper limit of normal from above 0 to 100")
        return LabValue(test, value, ULN, text)
    key = unit_key(unit) if unit else ""
    if key and key not in t.units and key != unit_key(t.unit):
        shown = ", ".join(sorted({_pretty(u) for u in t.units}))
        raise LabError(f"{test} {text!r}: unknown unit {unit!r}; give it in {shown}{' or × ULN' if t.uln else ''}")
    factor = t.units.get(key, Fraction(1))
    canonical = value * factor
    working = (
        f"{format_fraction(value)} {unit} = {format_fraction(canonical)} {t.unit}" if key and factor != 1 else None
    )
    if not t.low <= canonical <= t.high:
        raise LabError(_implausible(test, t, value, canonical, unit))
    return LabValue(test, canonical, t.unit, text, working)


def describe(test: str) -> str:
    """What a value of ``test`` is, as the check's option and form field say it: today's value before the cycle, or
    the worst grade of the cycle before (so that a nadir grade is never typed where today's count belongs)."""
    t = TESTS[test]
    if t.prior:
        shown = f"{t.name}: a CTCAE grade 0-4"
    elif t.grade:
        shown = f"{t.name}, the grade today (before the cycle): CTCAE grade 0-4 ('2 persistent' when it persists)"
    else:
        shown = f"{t.name} before the cycle, in {t.unit} unless a unit is given" + (" (or 'N x ULN')" if t.uln else "")
    return shown[0].upper() + shown[1:]


def _pretty(key: str) -> str:
    return {"x10^9/l": "×10⁹/L", "/ul": "/µL", "umol/l": "µmol/L", "/mm3": "/mm³", "cells/mm3": "cells/mm³"}.get(
        key, key.replace("ml", "mL").replace("/l", "/L").replace("dl", "dL")
    )


def _implausible(test: str, t: Test, value: Fraction, canonical: Fraction, unit: str) -> str:
    """The message for a value outside the test's possible range, naming the likely slip of unit."""
    given = f"{format_fraction(value)} {unit or t.unit}"
    said = f"{test} {given} is not possible (expected {format_fraction(t.low)} to {format_fraction(t.high)} {t.unit})"
    for key, factor in t.units.items():
        if factor == 1 or unit:
            continue
        other = value * factor
        if t.low <= other <= t.high:
            return (
                f"{said}: it looks like {format_fraction(value)} {_pretty(key)}, which is {format_fraction(other)} "
                f"{t.unit}; give the unit with the value (e.g. '{format_fraction(value)} {_pretty(key)}') or the value "
                f"in {t.unit}"
            )
    return f"{said}: check the value and its unit"


def _example(test: str) -> str:
    t = TESTS[test]
    if t.prior:
        return "4 (the worst grade in the cycle before)"
    return "2 (or '2 persistent')" if t.grade else f"'1.5 {t.unit}'"


__all__ = ["TESTS", "ULN", "LabError", "LabValue", "Test", "describe", "is_uln", "read", "unit_key"]
