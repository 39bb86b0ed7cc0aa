"""The loader and the JSON Schema are one description of the file (regimen.protocol.fields, issue 25).

Probed from outside, as a user meets them: at every table the loader accepts exactly the keys the schema lists,
and a value the schema refuses is refused by the loader too (a table of cases, then hypothesis over every field).
"""

from __future__ import annotations

import copy
import tomllib
from collections.abc import Callable
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from tests.helpers import examples, schema_validator

from regimen.errors import RegimenError, RegimenFileError
from regimen.protocol.loader import load_data
from regimen.protocol.schema import SCHEMA

#: A regimen that uses every table of the format once (values as a protocol would write them).
FULL = tomllib.loads(
    """
id = "every-table"
name = "Every table"
version = "1"
notes = ["a note"]
dosing_weight = "actual"
eligibility = { min_age = 18, max_age = 80 }
emetogenic_risk = { level = "high", source = "MASCC/ESMO 2023", note = "n" }

[[source]]
citation = "A trial"
url = "https://example.org"

[[component]]
id = "cis"
drug = "cisplatin"
dose = "75 mg/m²"
route = "IV"
method = "infusion"
duration = "1 h"
days = "1"
levels = { "-1" = "75%" }
max_dose = "150 mg"

[[component.variant]]
when = "age > 70"
dose = "60 mg/m²"

[[component.renal]]
min = 30
below = 60
action = "50%"
source = "Cisplatin SmPC 4.2"

[[component.hepatic]]
measure = "bilirubin_uln"
min = 3
action = "avoid"
source = "Cisplatin SmPC 4.2"

[[component]]
drug = "etoposide"
dose = "100 mg/m²"
method = "infusion"
duration = "1 h"
days = { relative_to = "cis", on_day = 1, count = 3 }

[[component]]
drug = "saline"
role = "supportive"
kind = "hydration"
volume = "1 L"
duration = "2 h"
days = "1"
before = "cis"
gap = "30 min"
additives = [{ drug = "potassium chloride", amount = "20 mmol" }]

[[component]]
drug = "rituximab"
days = "1"
dose = "375 mg/m²"
method = "infusion"
rate_escalation = [
  { infusions = "first", start = "50 mg/h", step = "50 mg/h", every = "30 min", max = "400 mg/h", source = "Label" },
  { infusions = "later", start = "100 mg/h", step = "100 mg/h", every = "30 min", max = "400 mg/h", source = "Label" },
]

[[requirement]]
id = "audiometry"
test = "hearing test"
before = ["cis"]
source = "SmPC"

[[gate]]
require = "anc >= 1.5"
source = "Protocol"

[[modification]]
when = "anc < 1.5"
action = "delay"
delay = "7 days"
after_delays = 2
source = "Protocol"

[modification.then]
action = "reduce"
drugs = ["cis"]
level = -1
"""
)


def _phased() -> dict[str, Any]:
    data = copy.deepcopy(FULL)
    data["phase"] = [{"id": "induction", "name": "Induction", "cycles": 2, "component": data.pop("component")}]
    for key in ("requirement", "gate", "modification"):
        data.pop(key)
    return data


#: Each table of the format: where it sits in a document, and its schema (properties and all).
PLACES: dict[str, tuple[Callable[[], dict[str, Any]], Callable[[dict[str, Any]], dict[str, Any]], dict[str, Any]]] = {
    "top": (lambda: copy.deepcopy(FULL), lambda d: d, SCHEMA),
    "source": (lambda: copy.deepcopy(FULL), lambda d: d["source"][0], SCHEMA["$defs"]["source"]),
    "component": (lambda: copy.deepcopy(FULL), lambda d: d["component"][0], SCHEMA["$defs"]["component"]),
    "supportive": (lambda: copy.deepcopy(FULL), lambda d: d["component"][2], SCHEMA["$defs"]["component"]),
    "variant": (lambda: copy.deepcopy(FULL), lambda d: d["component"][0]["variant"][0], SCHEMA["$defs"]["variant"]),
    "renal": (lambda: copy.deepcopy(FULL), lambda d: d["component"][0]["renal"][0], SCHEMA["$defs"]["renal"]),
    "hepatic": (lambda: copy.deepcopy(FULL), lambda d: d["component"][0]["hepatic"][0], SCHEMA["$defs"]["hepatic"]),
    "rate_escalation": (
        lambda: copy.deepcopy(FULL),
        lambda d: d["component"][3]["rate_escalation"][0],
        SCHEMA["$defs"]["rate_escalation"],
    ),
    "relative days": (
        lambda: copy.deepcopy(FULL),
        lambda d: d["component"][1]["days"],
        next(s for s in SCHEMA["$defs"]["component"]["properties"]["days"]["anyOf"] if s.get("type") == "object"),
    ),
    "additive": (
        lambda: copy.deepcopy(FULL),
        lambda d: d["component"][2]["additives"][0],
        SCHEMA["$defs"]["component"]["properties"]["additives"]["anyOf"][1],
    ),
    "eligibility": (lambda: copy.deepcopy(FULL), lambda d: d["eligibility"], SCHEMA["$defs"]["eligibility"]),
    "emetogenic_risk": (
        lambda: copy.deepcopy(FULL),
        lambda d: d["emetogenic_risk"],
        SCHEMA["$defs"]["emetogenic_risk"],
    ),
    "requirement": (lambda: copy.deepcopy(FULL), lambda d: d["requirement"][0], SCHEMA["$defs"]["requirement"]),
    "gate": (lambda: copy.deepcopy(FULL), lambda d: d["gate"][0], SCHEMA["$defs"]["gate"]),
    "modification": (lambda: copy.deepcopy(FULL), lambda d: d["modification"][0], SCHEMA["$defs"]["modification"]),
    "then": (lambda: copy.deepcopy(FULL), lambda d: d["modification"][0]["then"], SCHEMA["$defs"]["step"]),
    "phase": (_phased, lambda d: d["phase"][0], SCHEMA["$defs"]["phase"]),
}


def _problems(data: dict[str, Any]) -> list[str]:
    """The loader's messages for a document ([] when it loads)."""
    try:
        load_data(data)
    except RegimenFileError as exc:
        return [f"{p.where}: {p.message}" for p in exc.problems]
    return []


def _schema_accepts(data: dict[str, Any]) -> bool:
    # one validator for every check (tests.helpers.schema_validator): a new one per call built the schema's lookups
    # again, most of the property test's time
    return bool(schema_validator().is_valid(data))


@pytest.mark.parametrize("name", PLACES)
def test_the_full_documents_load_and_match_the_schema(name: str) -> None:
    make, _, _ = PLACES[name]
    assert _problems(make()) == []
    assert _schema_accepts(make())


@pytest.mark.parametrize("name", PLACES)
def test_the_loader_accepts_exactly_the_keys_the_schema_lists(name: str) -> None:
    """Every key the schema lists is known to the loader (its value may still be wrong here), and a key the
    schema does not list is refused by both, as unknown."""
    make, locate, schema = PLACES[name]
    listed = set(schema["properties"])
    for key in sorted(listed | {"colour", "dose_units", "Drug"}):
        data = make()
        table = locate(data)
        table[key] = table.get(key, "x")
        said = (f"unknown field {key!r}", f"unknown key(s) {key}", f"unknown eligibility field(s) {key}")
        unknown = [p for p in _problems(data) if any(s in p for s in said)]
        if key in listed:
            assert unknown == [], (name, key, unknown)
        else:  # refused as unknown (an additive, a fixed pair, says what it must be instead)
            assert _problems(data), (name, key)
            assert not _schema_accepts(data), (name, key)


#: Values an editor's schema refuses, field by field; the loader must refuse each too.
REFUSED: list[tuple[str, str, object]] = [
    ("top", "id", "Every Table"),
    ("top", "id", " every-table"),
    ("top", "version", 1.5),
    ("top", "notes", "one note"),
    ("top", "dosing_weight", "ideal body weight"),
    ("top", "source", []),
    ("component", "id", "cis platin"),
    ("component", "method", "drip"),
    ("component", "dose", "mg"),
    ("component", "dose", "AUC five"),
    ("component", "days", "0-"),
    ("component", "days", "1,,2"),
    ("component", "days", []),
    ("component", "times_per_day", 25),
    ("component", "max_dose", "lots"),
    ("component", "max_dose", "2 mg/m2"),
    ("component", "round", "1 mg/day"),
    ("component", "levels", {"-01": "75%"}),
    ("component", "levels", {"first": "75%"}),
    ("component", "levels", {}),
    ("component", "renal", []),
    ("component", "role", "Supportive"),
    ("supportive", "kind", "fluids"),
    ("supportive", "volume", "1 bag"),
    ("supportive", "before", "Cis"),
    ("supportive", "additives", [{"drug": "kcl"}]),
    ("relative days", "count", 0),
    ("relative days", "on_day", "2"),
    ("renal", "min", -1),
    ("renal", "action", "half"),
    ("renal", "max", 50),  # with below: both upper bounds
    ("hepatic", "measure", "bilirubin"),
    ("rate_escalation", "infusions", "second"),
    ("rate_escalation", "start", "fast"),
    ("rate_escalation", "every", ""),
    ("eligibility", "min_age", "18"),
    ("emetogenic_risk", "level", "severe"),
    ("emetogenic_risk", "note", 3),
    ("requirement", "id", "Audiometry"),
    ("requirement", "before", []),
    ("requirement", "note", ["x"]),
    ("gate", "note", 1),
    ("modification", "after_delays", "2"),
    ("modification", "after_delays", 0),
    ("modification", "action", "postpone"),
    ("then", "level", 0),
    ("then", "dose_percent", "75"),
    ("phase", "cycles", 0),
    ("phase", "id", "Induction"),
]


@pytest.mark.parametrize(("name", "key", "value"), REFUSED, ids=lambda v: repr(v)[:30])
def test_a_value_the_schema_refuses_the_loader_refuses(name: str, key: str, value: object) -> None:
    make, locate, _ = PLACES[name]
    data = make()
    locate(data)[key] = value
    assert not _schema_accepts(data), "the case should be one the schema refuses"
    assert _problems(data), f"the loader took {key} = {value!r} in {name}"


_LEAVES = [(name, key) for name, (_, _, schema) in PLACES.items() for key in schema["properties"]]
_VALUES = st.one_of(
    st.text(alphabet=" -–,.%/²0123456789aAcCdDeEgGhHiIkKlLmMnNoOpPsStTuUvVyY", max_size=14),
    st.sampled_from(
        [
            "75%",
            "0%",
            "1 L",
            "AUC 5",
            "auc 5 mg/mL·min",
            "2 mg",
            ".5 mg",
            "1e2 mg",
            "1,5 mg",
            "IV Push",
            "Bolus",
            "ACTUAL",
            "Avoid",
            "1-4",
            "1 - 4",
            "1–4",
            "15-21",
            "4 days",
            "46 h",
            "30 min",
            "-1",
            "+1",
            "0",
            "07",
            "x",
        ]
    ),
    st.integers(-3, 30),
    st.floats(allow_nan=False, allow_infinity=False, width=32),
    st.booleans(),
    st.lists(st.one_of(st.integers(-1, 30), st.sampled_from(["1", "2-4", "cis", "", "x"])), max_size=3),
    st.dictionaries(st.sampled_from(["-1", "-2", "0", "1", "drug", "amount"]), st.sampled_from(["75%", "5 mg"])),
)


@settings(max_examples=examples(400), deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(leaf=st.sampled_from(_LEAVES), value=_VALUES)
def test_schema_refuses_implies_loader_refuses(leaf: tuple[str, str], value: object) -> None:
    """Any value at any field: when the schema refuses the document, the loader refuses it too."""
    name, key = leaf
    make, locate, _ = PLACES[name]
    data = make()
    locate(data)[key] = value
    if _schema_accepts(data):
        return
    try:
        problems = _problems(data)
    except RegimenError:  # refused with a one-line error of another kind: refused all the same
        return
    assert problems, f"the schema refuses {key} = {value!r} in {name} but the loader takes it"
