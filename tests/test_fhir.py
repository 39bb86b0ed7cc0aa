"""FHIR R4 out and in (issue 14): every resource parses with the fhir.resources R4B models and passes HL7's FHIR R4
(4.0.1) JSON schema shipped in tests/data/fhir (see SOURCE.md there); every UCUM code parses with UCUM's grammar and
atoms (ucumvert) and has the dimension its element needs; every core extension is used only where R4 defines it; the
round trip regimen -> PlanDefinition -> regimen gives the same plans for every bundled regimen.
"""

from __future__ import annotations

import datetime as dt
import functools
import gzip
import json
import re
from collections.abc import Iterator
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

import jsonschema
import pytest
from click.testing import CliRunner
from fhir.resources.R4B import get_fhir_model_class
from tests.conftest import BUNDLED_IDS
from tests.helpers import CAPOX_FIXTURE
from tests.test_cli import one_line_error

import regimen
import regimen.export.table
from regimen.cli import cli
from regimen.engine.rows import row_record
from regimen.export.fhir import (
    EXT_DAYS_OF_CYCLE,
    EXT_DERIVATION,
    EXT_NZ_TIMING_OF_DAYS,
    definition,
    plan_bundle,
    ucum,
)
from regimen.interop.fhir import check_definition, regimen_data
from regimen.protocol.catalog import find
from regimen.protocol.loader import load_data

if TYPE_CHECKING:
    from ucumvert import PintUcumRegistry

DATA = Path(__file__).with_name("data") / "fhir"
VALUES = {"weight": "70", "bsa": "1.8", "age": "45", "height": "175", "sex": "female", "scr": "1"}
START = dt.date(2026, 12, 1)


@cache
def schema() -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads(gzip.decompress((DATA / "fhir.schema.json.gz").read_bytes()))
    return loaded


@cache
def validator(kind: str) -> jsonschema.Draft6Validator:
    """The R4 schema of one resource type, where a resource held inside another (a Bundle's entry, a contained one)
    need only name a known type: :func:`valid` checks each such resource against its own type's schema. That is the
    schema's own check, made cheaper: its ``ResourceList`` is a ``oneOf`` over every type, each of which requires its
    own ``resourceType``, so only the named type's schema can match, and jsonschema would otherwise try all 146 of
    them for every entry (4 s of the fast subset)."""
    definitions = dict(schema()["definitions"])
    kinds = [ref["$ref"].rsplit("/", 1)[1] for ref in definitions["ResourceList"]["oneOf"]]
    definitions["ResourceList"] = {
        "type": "object",
        "required": ["resourceType"],
        "properties": {"resourceType": {"enum": kinds}},
    }
    return jsonschema.Draft6Validator({"$ref": f"#/definitions/{kind}", "definitions": definitions})


def resources_within(node: Any) -> Iterator[dict[str, Any]]:
    """Every resource held inside ``node`` at any depth (in FHIR's JSON only a resource has ``resourceType``)."""
    children = node.values() if isinstance(node, dict) else node if isinstance(node, list) else ()
    for child in children:
        if isinstance(child, dict) and "resourceType" in child:
            yield child
        yield from resources_within(child)


def valid(resource: dict[str, Any]) -> None:
    """The resource and every resource inside it pass the R4 JSON schema, and the whole passes the fhir.resources R4B
    model of its type."""
    for each in (resource, *resources_within(resource)):
        errors = sorted(validator(each["resourceType"]).iter_errors(each), key=str)
        assert not errors, [f"{list(e.absolute_path)}: {e.message[:200]}" for e in errors[:5]]
    get_fhir_model_class(resource["resourceType"]).model_validate(resource)


def plan_of(regimen_id: str, **extra: Any) -> regimen.Plan:
    return regimen.expand(
        regimen.load(regimen_id),
        regimen.make_patient(**VALUES),
        cycle_length=21 if regimen_id.startswith("cen") else None,
        **extra,
    )


# ---- what the schema does not check: UCUM, the contexts of core extensions, required codes ------------------


@functools.cache
def ucum_tools() -> tuple[Any, PintUcumRegistry]:
    """UCUM's grammar and atoms (ucumvert builds its parser from UCUM's own ucum-essence.xml), and its units as
    pint's: built when a test first needs them, not when the module is imported (a second or more of every test
    process's collection, test_verify imports this module); ucumvert itself, which imports pint, is imported here too
    (0.4 s of CPU that a worker running no UCUM test need not spend)."""
    from ucumvert import PintUcumRegistry, get_ucum_parser

    return get_ucum_parser(), PintUcumRegistry()


@functools.cache
def ucum_dimension(code: str) -> str:
    """The dimension of a UCUM code ('[mass] / [time]'), after parsing it with UCUM's grammar; annotations such as
    {units} (units of activity) count as unity. Worked out once per code and process: a bundle names the same dozen
    codes hundreds of times (631 look-ups for mFOLFOX6's two bundles), and each parse took 6 ms."""
    parser, units = ucum_tools()
    parser.parse(code)  # raises on anything that is not UCUM
    plain = code.replace("{units}", "1") if code != "{units}" else "1"
    return str(units.from_ucum(plain).dimensionality) if plain != "1" else "dimensionless"


MASS = "[mass]"


def test_the_ucum_check_knows_good_from_bad() -> None:
    for good, dimension in (
        ("mg", MASS),
        ("ug/h", "[mass] / [time]"),
        ("mg/m2/d", "[mass] / [length] ** 2 / [time]"),
        ("{units}/m2", "1 / [length] ** 2"),
        ("mg/mL.min", "[mass] * [time] / [length] ** 3"),  # UCUM reads left to right: (mg/mL).min
        ("a", "[time]"),
    ):
        assert ucum_dimension(good) == dimension, good
    for bad in ("mcg", "m²", "mg/day", "mg/hr", "units", "mg per h", "mg/m^2", ""):
        with pytest.raises(Exception):  # noqa: B017 - lark's errors have no common public base here
            ucum_dimension(bad)


def test_regimen_units_become_ucum_codes_of_the_same_dimension() -> None:
    """By hand: mcg is UCUM's ug, m² is m2, day is d; a target AUC is mg/mL × min (mg·min/mL), which UCUM writes
    mg/mL.min (left to right), not mg/mL/min (that would be mg per mL per minute, a different dimension)."""
    assert ucum("mg/m²/day") == "mg/m2/d"
    assert ucum("mcg/h") == "ug/h"
    assert ucum("units/m²") == "{units}/m2"
    assert ucum("mg/kg/h") == "mg/kg/h"
    assert ucum("mg/mL·min") == "mg/mL.min"
    assert ucum_dimension(ucum("mg/mL·min")) == "[mass] * [time] / [length] ** 3"


#: Where R4 (4.0.1) lets each core extension regimen writes be used: the `context` of its StructureDefinition
#: (extension-timing-daysofcycle.json, extension-tz-code.json, extension-data-absent-reason.json of the 4.0.1
#: specification). Element types for primitives: Timing.event and *.effectiveDateTime are dateTime.
CORE_CONTEXTS = {
    "http://hl7.org/fhir/StructureDefinition/timing-daysOfCycle": {"PlanDefinition.action", "RequestGroup.action"},
    "http://hl7.org/fhir/StructureDefinition/tz-code": {"date", "dateTime", "instant"},
    "http://hl7.org/fhir/StructureDefinition/data-absent-reason": {"Element"},
}
PRIMITIVE_TYPES = {"_event": "dateTime", "_effectiveDateTime": "dateTime"}
#: Codes of the required or extensible bindings regimen fills that the schema does not enumerate (R4 4.0.1)
CODES = {
    "http://terminology.hl7.org/CodeSystem/plan-definition-type": {
        "order-set",
        "clinical-protocol",
        "eca-rule",
        "workflow-definition",
    },
    "http://terminology.hl7.org/CodeSystem/dose-rate-type": {"calculated", "ordered"},
    "http://hl7.org/fhir/StructureDefinition/data-absent-reason": {"unknown", "asked-unknown", "not-asked"},
}
UNITS_OF_TIME = {"s", "min", "h", "d", "wk", "mo", "a"}


def _walk(node: Any, path: tuple[str, ...]) -> Iterator[tuple[tuple[str, ...], Any]]:
    yield path, node
    if isinstance(node, dict):
        for key, value in node.items():
            if isinstance(value, list):
                for item in value:
                    yield from _walk(item, (*path, key))
            else:
                yield from _walk(value, (*path, key))


def conformant(resource: dict[str, Any]) -> None:
    """What the JSON schema cannot check: each core extension only in its R4 context, every UCUM code parses with
    UCUM's grammar, every coded value of a binding regimen fills is one of its codes, and units of time are R4's."""
    for path, node in _walk(resource, (resource["resourceType"],)):
        if not isinstance(node, dict):
            continue
        for ext in node.get("extension", []):
            allowed = CORE_CONTEXTS.get(ext["url"])
            if ext["url"].startswith("http://hl7.org/fhir/"):
                assert allowed is not None, f"core extension {ext['url']} not in the table above"
                element = re.sub(r"(\.action)+", ".action", ".".join(path))  # action.action is an action
                typed = PRIMITIVE_TYPES.get(path[-1], "")
                assert element in allowed or typed in allowed or "Element" in allowed, (ext["url"], element)
            if ext["url"] in CODES:
                assert ext["valueCode"] in CODES[ext["url"]], ext
        if node.get("system") == "http://unitsofmeasure.org":
            ucum_dimension(node["code"])
        if node.get("system") in CODES:
            assert node["code"] in CODES[node["system"]], node
        for unit in ("durationUnit", "periodUnit"):
            if unit in node:
                assert node[unit] in UNITS_OF_TIME, node


def valid_everywhere(resource: dict[str, Any]) -> None:
    """:func:`valid` (which reaches every resource inside: a bundle's entries and what they contain, each against its
    own type's schema, and the bundle's model validates each entry as its own type), and :func:`conformant` for the
    resource and each entry. Each entry was validated again on its own, a second time the same work (a quarter of
    the FHIR tests' time)."""
    valid(resource)
    if resource["resourceType"] != "Bundle":
        conformant(resource)
    for entry in resource.get("entry", []):
        conformant(entry["resource"])


def test_the_schema_check_reaches_a_resource_inside_a_bundle() -> None:
    """valid() checks an entry's resource against its own type's schema (the cheaper form of R4's oneOf): an entry
    with a field its type does not have, or a type R4 does not know, fails the schema part, before the model."""
    bundle = plan_bundle(plan_of("cenersen-arm3", start=START))
    valid(bundle)
    request = next(e["resource"] for e in bundle["entry"] if e["resource"]["resourceType"] == "MedicationRequest")
    request["doseMg"] = 5
    with pytest.raises(AssertionError, match="doseMg"):
        valid(bundle)
    del request["doseMg"]
    request["contained"] = [{"resourceType": "Medication", "strength": "1 mg"}]  # R4 has no Medication.strength
    with pytest.raises(AssertionError, match="strength"):
        valid(bundle)
    request["contained"] = [{"resourceType": "Dosage"}]
    with pytest.raises(AssertionError, match="Dosage"):
        valid(bundle)


def test_the_conformance_check_finds_an_extension_out_of_its_context() -> None:
    """timing-daysOfCycle on a Dosage's Timing (as 02adb9a wrote it) is outside R4's context for it."""
    misplaced = {
        "resourceType": "MedicationRequest",
        "dosageInstruction": [{"timing": {"extension": [{"url": EXT_DAYS_OF_CYCLE, "extension": []}]}}],
    }
    with pytest.raises(AssertionError, match="timing-daysOfCycle"):
        conformant(misplaced)
    with pytest.raises(AssertionError):
        conformant(
            {"resourceType": "PlanDefinition", "type": {"coding": [{"system": next(iter(CODES)), "code": "protocol"}]}}
        )


# ---- one patient's plan -------------------------------------------------------------------------------


def _requests(bundle: dict[str, Any]) -> dict[str, list[dict[str, Any]]]:
    out: dict[str, list[dict[str, Any]]] = {}
    for e in bundle["entry"]:
        if e["resource"]["resourceType"] == "MedicationRequest":
            out.setdefault(e["resource"]["medicationCodeableConcept"]["text"], []).append(e["resource"])
    return out


def _days(action: dict[str, Any]) -> list[int]:
    (days,) = [x for x in action["extension"] if x["url"] == EXT_DAYS_OF_CYCLE]
    return [d["valueInteger"] for d in days["extension"]]


def _derivation(dosage: dict[str, Any]) -> dict[str, Any]:
    (ext,) = [x for x in dosage["extension"] if x["url"] == EXT_DERIVATION]
    return {
        part["url"]: part.get("valueQuantity") or part.get("valueString") or part.get("valueReference")
        for part in ext["extension"]
    }


@pytest.mark.parametrize("regimen_id", BUNDLED_IDS)
def test_every_bundled_regimen_gives_a_valid_bundle(regimen_id: str) -> None:
    # also without a start date and without the age (every outcome of a rule on age, no dates at all)
    without = {k: v for k, v in VALUES.items() if k != "age"}
    length = 21 if regimen_id.startswith("cen") else None
    valid_everywhere(
        plan_bundle(regimen.expand(regimen.load(regimen_id), regimen.make_patient(**without), cycle_length=length))
    )
    plan = plan_of(regimen_id, start=START, time=dt.time(8), tz="Europe/Berlin")
    bundle = plan_bundle(plan)
    valid_everywhere(bundle)
    kinds = [e["resource"]["resourceType"] for e in bundle["entry"]]
    assert kinds[0] == "RequestGroup" and "Patient" in kinds
    cycles = {(r.phase, r.cycle, r.component) for r in plan.administrations}
    assert kinds.count("MedicationRequest") == len(cycles)  # one per component per cycle
    urls = {e["fullUrl"] for e in bundle["entry"]}
    group = bundle["entry"][0]["resource"]
    assert len(group["action"]) == len({(r.phase, r.cycle) for r in plan.administrations})  # one per cycle
    referenced = [sub["resource"]["reference"] for cycle in group["action"] for sub in cycle["action"]]
    assert sorted(referenced) == sorted(
        e["fullUrl"] for e in bundle["entry"] if e["resource"]["resourceType"] == "MedicationRequest"
    )
    assert set(referenced) <= urls
    for entry in bundle["entry"]:
        for dosage in entry["resource"].get("dosageInstruction", []):
            for dr in dosage["doseAndRate"]:
                # a supportive fluid (hydration) is dosed by its volume, in mL (issue 27)
                assert ucum_dimension(dr["doseQuantity"]["code"]) in (MASS, "dimensionless", "[length] ** 3"), dr
                if "rateQuantity" in dr:
                    assert ucum_dimension(dr["rateQuantity"]["code"]) in (
                        "[mass] / [time]",
                        "1 / [time]",
                        "[length] ** 3 / [time]",
                    ), dr
            derived = _derivation(dosage)
            assert "dose" in derived  # every bundled regimen's doses are written doses, each with its derivation


def test_cenersen_arm3_bundle_by_hand() -> None:
    """70 kg, 1.8 m², 45 years, from 2026-12-01 08:00 Berlin (UTC+1). Cenersen 0.1 mg/kg/h × 70 kg = 7 mg/h for
    96 h = 672 mg, days 1-4, 08:00 on 1 December to 08:00 on 5 December; idarubicin 12 mg/m²/day × 1.8 m² = 21.6 mg on
    days 2-4; cytarabine 1 g/m²/day × 1.8 m² = 1,800 mg on days 2-5 (age 45, not over 60: four days)."""
    plan = regimen.expand(
        regimen.load("cenersen-arm3"),
        regimen.make_patient(weight="70", bsa="1.8", age="45"),
        start=START,
        time=dt.time(8),
        tz="Europe/Berlin",
    )
    bundle = plan_bundle(plan)
    valid_everywhere(bundle)
    requests = _requests(bundle)
    ((cenersen_request,),) = [requests["cenersen"]]
    (cenersen,) = cenersen_request["dosageInstruction"]
    assert cenersen["doseAndRate"][0]["doseQuantity"] == {
        "value": 672,
        "unit": "mg",
        "system": "http://unitsofmeasure.org",
        "code": "mg",
    }
    assert cenersen["doseAndRate"][0]["rateQuantity"]["value"] == 7
    assert cenersen["doseAndRate"][0]["rateQuantity"]["code"] == "mg/h"
    assert cenersen["timing"]["event"] == ["2026-12-01T08:00:00+01:00"]
    assert cenersen["timing"]["_event"] == [
        {"extension": [{"url": "http://hl7.org/fhir/StructureDefinition/tz-code", "valueCode": "Europe/Berlin"}]}
    ]
    assert cenersen["timing"]["repeat"]["boundsPeriod"] == {
        "start": "2026-12-01T08:00:00+01:00",
        "end": "2026-12-05T08:00:00+01:00",
    }
    assert cenersen["timing"]["repeat"]["duration"] == 96 and cenersen["timing"]["repeat"]["durationUnit"] == "h"
    assert "extension" not in cenersen["timing"]  # the days of the cycle are on the RequestGroup's action (R4)
    assert cenersen["text"].startswith("Continuous infusion over 96 h, 672 mg in all; Day 1: 0.1 mg/kg/h × 70 kg")
    weight_url = next(
        e["fullUrl"] for e in bundle["entry"] if e["resource"].get("code", {}).get("text") == "Body weight"
    )
    bsa_url = next(
        e["fullUrl"] for e in bundle["entry"] if e["resource"].get("code", {}).get("text") == "Body surface area"
    )
    derived = _derivation(cenersen)
    assert (derived["dose"]["value"], derived["dose"]["code"]) == (0.1, "mg/kg/h")
    assert (derived["factor"]["value"], derived["factor"]["code"]) == (70, "kg")
    assert derived["observation"] == {"reference": weight_url}
    (ida,) = requests["idarubicin"][0]["dosageInstruction"]
    assert ida["doseAndRate"][0]["doseQuantity"]["value"] == 21.6
    assert ida["timing"]["repeat"]["count"] == 3
    assert ida["timing"]["event"] == [f"2026-12-0{d}T08:00:00+01:00" for d in (2, 3, 4)]
    derived = _derivation(ida)
    assert (derived["dose"]["value"], derived["dose"]["code"], derived["factor"]["value"]) == (12, "mg/m2/d", 1.8)
    assert derived["observation"] == {"reference": bsa_url}
    (ara,) = requests["cytarabine"][0]["dosageInstruction"]
    assert ara["doseAndRate"][0]["doseQuantity"]["value"] == 1800 and ara["timing"]["repeat"]["count"] == 4
    derived = _derivation(ara)  # a component with a variant (age > 60) still says what its dose came from
    assert (derived["dose"]["value"], derived["dose"]["code"], derived["factor"]["value"]) == (1, "g/m2/d", 1.8)
    group = bundle["entry"][0]["resource"]
    (cycle,) = group["action"]
    assert cycle["title"] == "Cycle 1" and cycle["timingPeriod"] == {"start": "2026-12-01"}  # length not stated
    assert [(sub["title"], _days(sub)) for sub in cycle["action"]] == [
        ("cenersen, cycle 1", [1, 2, 3, 4]),
        ("idarubicin, cycle 1", [2, 3, 4]),
        ("cytarabine, cycle 1", [2, 3, 4, 5]),
    ]
    values = {
        e["resource"]["code"]["text"]: (e["resource"]["valueQuantity"]["value"], e["resource"]["valueQuantity"]["code"])
        for e in bundle["entry"]
        if e["resource"]["resourceType"] == "Observation"
    }
    assert values == {"Body weight": (70, "kg"), "Body surface area": (1.8, "m2"), "Age": (45, "a")}
    assert any(n["text"].startswith("Source: Cortes J, et al. Cancer 2012;118:418-27") for n in group["note"])


def test_a_conditional_dose_shows_both_branches() -> None:
    """cenersen-arm3 without an age: cytarabine on days 2-4 whatever the age (no condition), and day 5 only if age
    ≤ 60, each branch said in text and in the dose-condition extension; the cycle's action names days 2-5."""
    plan = regimen.expand(regimen.load("cenersen-arm3"), regimen.make_patient(weight="70", bsa="1.8"), start=START)
    bundle = plan_bundle(plan)
    valid_everywhere(bundle)
    (request,) = _requests(bundle)["cytarabine"]
    always, conditional = request["dosageInstruction"]
    assert always["timing"]["event"] == ["2026-12-02", "2026-12-03", "2026-12-04"]  # dates: no time was given
    assert always["doseAndRate"][0]["doseQuantity"]["value"] == 1800
    assert "Only if" not in always["text"] and all("dose-condition" not in x["url"] for x in always["extension"])
    assert conditional["timing"]["event"] == ["2026-12-05"]
    assert conditional["doseAndRate"][0]["doseQuantity"]["value"] == 1800
    assert "Only if age ≤ 60 years (the patient value that decides it was not given)" in conditional["text"]
    assert {
        "url": "https://regimen-schedules.github.io/fhir/StructureDefinition/dose-condition",
        "valueString": "age ≤ 60 years",
    } in conditional["extension"]
    (cycle,) = bundle["entry"][0]["resource"]["action"]
    assert _days(cycle["action"][2]) == [2, 3, 4, 5]
    assert "Age" not in json.dumps([e["resource"].get("code") for e in bundle["entry"]])  # no age Observation
    (cenersen,) = _requests(bundle)["cenersen"][0]["dosageInstruction"]
    # no time of day: the infusion's end (after midnight unless it starts at 00:00) is not known, so not given
    assert cenersen["timing"]["repeat"]["boundsPeriod"] == {"start": "2026-12-01"}


def test_r_chop_21_bundle_by_hand_with_its_cap() -> None:
    """1.8 m²: rituximab 375 × 1.8 = 675 mg, cyclophosphamide 750 × 1.8 = 1,350 mg, doxorubicin 50 × 1.8 = 90 mg,
    vincristine 1.4 × 1.8 = 2.52 mg capped at the protocol's 2 mg, prednisone 100 mg days 1-5; 8 cycles of 21 days:
    cycle 1 is 1-21 December 2026, cycle 2 from 22 December."""
    plan = regimen.expand(regimen.load("r-chop-21"), regimen.make_patient(weight="70", bsa="1.8"), start=START)
    bundle = plan_bundle(plan)
    valid_everywhere(bundle)
    requests = _requests(bundle)
    assert {drug: len(rs) for drug, rs in requests.items()} == {
        "rituximab": 8,
        "cyclophosphamide": 8,
        "doxorubicin": 8,
        "vincristine": 8,
        "prednisone": 8,
        # its premedication (issue 27): supportive care is ordered like any drug
        "paracetamol": 8,
        "chlorphenamine": 8,
        "hydrocortisone": 8,
        # its antiemetics: aprepitant 125 mg on day 1 and 80 mg on days 2-3 (two requests a cycle), ondansetron 8 mg
        "aprepitant": 16,
        "ondansetron": 8,
    }
    doses = {
        drug: rs[0]["dosageInstruction"][0]["doseAndRate"][0]["doseQuantity"]["value"] for drug, rs in requests.items()
    }
    assert doses == {
        "rituximab": 675,
        "cyclophosphamide": 1350,
        "doxorubicin": 90,
        "vincristine": 2,
        "prednisone": 100,
        "paracetamol": 1000,  # 1 g
        "chlorphenamine": 10,
        "hydrocortisone": 100,
        "aprepitant": 125,  # the first request: day 1
        "ondansetron": 8,
    }
    (vincristine,) = requests["vincristine"][0]["dosageInstruction"]
    assert vincristine["text"] == (
        "Day 1: 1.4 mg/m² × 1.8 m² = 2.52 mg; capped at the regimen maximum 2 mg per administration: 2.52 mg → 2 mg"
    )
    assert vincristine["maxDosePerAdministration"] == {
        "value": 2,
        "unit": "mg",
        "system": "http://unitsofmeasure.org",
        "code": "mg",
    }
    derived = _derivation(vincristine)
    assert (derived["dose"]["value"], derived["dose"]["code"], derived["factor"]["value"]) == (1.4, "mg/m2", 1.8)
    assert requests["vincristine"][0]["note"] == [
        {"text": "dose capped at the regimen maximum 2 mg per administration (calculated 2.52 mg)"}
    ]
    (prednisone,) = requests["prednisone"][0]["dosageInstruction"]
    assert prednisone["timing"]["repeat"] == {"boundsPeriod": {"start": "2026-12-01", "end": "2026-12-05"}, "count": 5}
    assert _derivation(prednisone) == {
        "dose": {"value": 100, "unit": "mg", "system": "http://unitsofmeasure.org", "code": "mg"}
    }
    cycles = bundle["entry"][0]["resource"]["action"]
    assert [c["timingPeriod"] for c in cycles[:2]] == [
        {"start": "2026-12-01", "end": "2026-12-21"},
        {"start": "2026-12-22", "end": "2027-01-11"},
    ]
    # the three premedications (issue 27) come before rituximab, the day-1 aprepitant and ondansetron before
    # doxorubicin, all on day 1 (3 + rituximab + cyclophosphamide + 2 + doxorubicin + vincristine = 9 actions);
    # prednisone days 1-5; then aprepitant 80 mg days 2-3
    assert [_days(sub) for sub in cycles[0]["action"]] == [[1]] * 9 + [[1, 2, 3, 4, 5], [2, 3]]


def test_a_dosing_weight_is_the_derivations_factor_not_the_observed_weight() -> None:
    """90 kg, 170 cm, male: ideal body weight (Devine) 50 + 2.3 × (170 / 2.54 - 60) = 65.94 kg (2.3 × 6.929… =
    15.94, to 2 decimals as the working shows); cenersen 0.1 mg/kg/h × 65.94 kg. The factor is 65.94 kg with its
    label, and cites no Observation (the observed weight is 90 kg)."""
    from regimen.clinical.options import ClinicalOptions

    plan = regimen.expand(
        regimen.load("cenersen-arm1"),
        regimen.make_patient(weight="90", height="170", sex="male", bsa="2"),
        options=ClinicalOptions(dosing_weight="ideal"),
    )
    bundle = plan_bundle(plan)
    valid_everywhere(bundle)
    (dosage,) = _requests(bundle)["cenersen"][0]["dosageInstruction"]
    derived = _derivation(dosage)
    assert derived["factor"]["value"] == 65.94 and derived["factor"]["code"] == "kg"
    assert derived["factorText"] == "65.94 kg (ideal body weight, Devine)"
    assert "observation" not in derived


def _user_regimen(tmp_path: Path, components: str) -> Path:
    """A regimen file of one's own (id, name and a source added) in ``tmp_path``."""
    path = tmp_path / "user-regimen.toml"
    header = 'id = "user-regimen"\nname = "a test regimen"\n[[source]]\ncitation = "test"\n'
    path.write_text(header + components, encoding="utf-8")
    return path


def test_a_target_auc_dose_by_hand() -> None:
    """GOG 158's carboplatin AUC 7.5 for 70 kg, 170 cm, 60 years, female, creatinine 1.0 mg/dL: Cockcroft–Gault
    (140 - 60) × 70 × 0.85 / (72 × 1.0) = 66.11 mL/min (as the working rounds it); Calvert 7.5 × (66.11 + 25) =
    7.5 × 91.11 = 683.325 mg. The derivation is AUC 7.5 mg/mL.min (UCUM: (mg/mL)·min) times 91.11 mL/min, and
    the two units multiply to a mass."""
    plan = regimen.expand(
        regimen.load(EXAMPLE_AUC),
        regimen.make_patient(weight="70", height="170", age="60", sex="female", scr="1.0"),
    )
    bundle = plan_bundle(plan)
    valid_everywhere(bundle)
    (dosage,) = _requests(bundle)["carboplatin"][0]["dosageInstruction"]
    assert dosage["doseAndRate"][0]["doseQuantity"]["value"] == 683.325
    derived = _derivation(dosage)
    assert (derived["dose"]["value"], derived["dose"]["code"]) == (7.5, "mg/mL.min")
    assert (derived["factor"]["value"], derived["factor"]["code"]) == (91.11, "mL/min")
    assert derived["factorText"] == "GFR 66.11 mL/min (Cockcroft–Gault) + 25"
    units = ucum_tools()[1]
    product = units.from_ucum(derived["dose"]["code"]) * units.from_ucum(derived["factor"]["code"])
    assert str(product.dimensionality) == MASS
    resource = definition(regimen.load(EXAMPLE_AUC), _toml(EXAMPLE_AUC))
    valid_everywhere(resource)
    carboplatin = next(a for a in resource["contained"] if a["productCodeableConcept"]["text"] == "carboplatin")
    assert "doseAndRate" not in carboplatin["dosage"][0]  # a target AUC is not an amount of drug: said in text
    assert carboplatin["dosage"][0]["text"].startswith("Carboplatin AUC 7.5 mg/mL·min IV")


def test_the_protocols_maxima_are_the_dosages_maxima(tmp_path: Path) -> None:
    """max_dose 2 mg per administration and max_daily 3 mg per day (in mcg, as the plan doses them: 2,000 and
    3,000 mcg) become maxDosePerAdministration and maxDosePerPeriod (per 1 d); 400 mcg/m² × 1.8 m² = 720 mcg."""
    path = _user_regimen(
        tmp_path,
        """[[component]]
drug = "a"
dose = "400 mcg/m²"
route = "IV"
method = "bolus"
days = "1"
max_dose = "2 mg"
max_daily = "3 mg"
""",
    )
    plan = regimen.expand(regimen.load(str(path)), regimen.make_patient(bsa="1.8"))
    bundle = plan_bundle(plan)
    valid_everywhere(bundle)
    (dosage,) = _requests(bundle)["a"][0]["dosageInstruction"]
    mcg = {"unit": "mcg", "system": "http://unitsofmeasure.org", "code": "ug"}
    assert dosage["doseAndRate"][0]["doseQuantity"] == {"value": 720, **mcg}
    assert dosage["maxDosePerAdministration"] == {"value": 2000, **mcg}
    assert dosage["maxDosePerPeriod"] == {
        "numerator": {"value": 3000, **mcg},
        "denominator": {"value": 1, "unit": "d", "system": "http://unitsofmeasure.org", "code": "d"},
    }


def test_a_continuous_infusion_whose_length_depends_on_a_missing_value_is_one_dosage_per_branch(tmp_path: Path) -> None:
    """A 7-day infusion (100 mg/m²/day × 1.8 m² = 180 mg/day = 7.5 mg/h, 1,260 mg in all), 5 days if age > 60
    (900 mg): without an age the two infusions are two Dosages, each with its own condition and total, never one
    infusion of both branches' days added up."""
    path = _user_regimen(
        tmp_path,
        """[[component]]
drug = "cytarabine"
dose = "100 mg/m²/day"
route = "IV"
method = "continuous infusion"
days = "1-7"
[[component.variant]]
when = "age > 60"
days = "1-5"
""",
    )
    plan = regimen.expand(regimen.load(str(path)), regimen.make_patient(bsa="1.8"), start=START)
    bundle = plan_bundle(plan)
    valid_everywhere(bundle)
    (request,) = _requests(bundle)["cytarabine"]
    found = sorted(
        (
            d["doseAndRate"][0]["doseQuantity"]["value"],
            d["timing"]["repeat"]["duration"],
            d["extension"][-1]["valueString"],
        )
        for d in request["dosageInstruction"]
    )
    assert found == [(900, 120, "age > 60 years"), (1260, 168, "age ≤ 60 years")]
    assert all(d["doseAndRate"][0]["rateQuantity"]["value"] == 7.5 for d in request["dosageInstruction"])


def test_expand_format_fhir_from_the_command_line(tmp_path: Path) -> None:
    args = ["expand", "cenersen-arm3", "--weight", "70", "--bsa", "1.8", "--age", "45", "--start", "2026-12-01"]
    out = CliRunner().invoke(cli, [*args, "--format", "fhir"])
    assert out.exit_code == 0, out.output
    valid_everywhere(json.loads(out.stdout))
    target = tmp_path / "plan.fhir.json"
    written = CliRunner().invoke(cli, [*args, "-o", str(target)])
    assert written.exit_code == 0 and "(fhir)" in written.stderr
    assert json.loads(target.read_text()) == json.loads(out.stdout)  # deterministic


def test_a_supportive_request_says_it_is_supportive_care_itself() -> None:
    """Issue 27 item 1 in FHIR: weekly paclitaxel's premedication (dexamethasone 20 mg, diphenhydramine 50 mg,
    famotidine 20 mg, kind 'premedication') is marked on each MedicationRequest, in its category and its narrative;
    paclitaxel (80 mg/m² × 1.8 m² = 144 mg) has no category. Every resource stays valid R4."""
    args = ["expand", "paclitaxel-weekly", "--bsa", "1.8", "--cycles", "1", "--start", "2026-12-01", "--format", "fhir"]
    out = CliRunner().invoke(cli, args)
    assert out.exit_code == 0, out.output
    bundle = json.loads(out.stdout)
    valid_everywhere(bundle)
    requests = {
        r["medicationCodeableConcept"]["text"]: r
        for e in bundle["entry"]
        if (r := e["resource"])["resourceType"] == "MedicationRequest"
    }
    assert set(requests) == {"dexamethasone", "diphenhydramine", "famotidine", "paclitaxel"}
    for drug in ("dexamethasone", "diphenhydramine", "famotidine"):
        assert requests[drug]["category"] == [{"text": "supportive care: premedication"}]
        assert f"<p>{drug} (supportive care: premedication), cycle 1: Day 1:" in requests[drug]["text"]["div"]
    assert "category" not in requests["paclitaxel"]
    assert "<p>paclitaxel, cycle 1: Day 1: 80 mg/m² × 1.8 m² = 144 mg" in requests["paclitaxel"]["text"]["div"]


def test_expand_format_fhir_refuses_a_plan_missing_a_dose_value(tmp_path: Path) -> None:
    """r-chop-21 needs a BSA: without one, one line and nothing written (never a Bundle without doses)."""
    target = tmp_path / "plan.fhir.json"
    result = CliRunner().invoke(cli, ["expand", "r-chop-21", "--weight", "70", "-o", str(target)])
    assert "body-surface area" in one_line_error(result) and not target.exists()


# ---- the regimen as a PlanDefinition, and back ----------------------------------------------------------


def _toml(regimen_id: str) -> dict[str, Any]:
    import tomllib

    data: dict[str, Any] = tomllib.loads(find(regimen_id).read_text(encoding="utf-8"))
    return data


def _plan(plan: regimen.Plan) -> tuple[Any, ...]:
    """Everything a plan says: every row as its record, the totals, notes and warnings."""
    return (
        [row_record(plan, r) for r in plan.administrations],
        plan.totals,
        [n.replace("<round trip>", "SOURCE") for n in plan.notes],
        plan.warnings,
        plan.plan_warnings,
    )


#: the standard patient, an older and lighter one (rules on age, other doses), one without an age (every outcome of
#: a rule on age), and one with a date of birth (the age at each cycle's start)
PATIENTS = (
    VALUES,
    {**VALUES, "age": "70", "weight": "52", "bsa": "1.5", "sex": "male"},
    {k: v for k, v in VALUES.items() if k != "age"},
    {**{k: v for k, v in VALUES.items() if k != "age"}, "dob": "1966-12-15"},
)


EXAMPLE_AUC = str(Path(__file__).parents[1] / "examples" / "carboplatin-paclitaxel-gog158.toml")


def _expanded(reg: regimen.Regimen, values: dict[str, str], **extra: Any) -> tuple[Any, ...]:
    try:
        return _plan(regimen.expand(reg, regimen.make_patient(**values), **extra))
    except regimen.RegimenError as exc:  # the same refusal both ways (the AUC example needs an age)
        return (type(exc).__name__, str(exc))


@pytest.mark.parametrize("regimen_id", [*BUNDLED_IDS, EXAMPLE_AUC])
def test_round_trip_gives_the_same_plans(regimen_id: str) -> None:
    original = regimen.load(regimen_id)
    resource = definition(original, _toml(regimen_id))
    valid(resource)
    conformant(resource)
    for contained in resource["contained"]:
        valid(contained)
        conformant(contained)
    data = regimen_data(json.loads(json.dumps(resource)))
    back = load_data(data, "<round trip>")
    check_definition(json.loads(json.dumps(resource)), back, data)  # the standard elements say the same
    length = 21 if regimen_id.startswith("cen") or regimen_id == "7-plus-3" else None
    for values in PATIENTS:
        for extra in ({}, {"start": START, "time": dt.time(8), "tz": "Europe/Berlin"}):
            if "dob" in values and not extra:
                continue  # a date of birth needs a start date
            a = _expanded(original, values, cycle_length=length, **extra)
            assert a == _expanded(back, values, cycle_length=length, **extra), values


def test_the_plan_definition_follows_the_ig_shape_for_r_chop_21() -> None:
    """r-chop-21: one action (the cycle: 21 days, 8 times, as the IG's timingTiming.repeat.duration and count), a
    sub-action per drug with its days (core timing-daysOfCycle and the IG's sact-timing-of-days), each defined by a
    contained ActivityDefinition with the dose as written and vincristine's 2 mg maximum."""
    resource = definition(regimen.load("r-chop-21"), _toml("r-chop-21"))
    assert resource["type"]["coding"][0]["code"] == "clinical-protocol"
    assert {
        "url": "http://hl7.org.nz/fhir/StructureDefinition/sact-disclaimer",
        "valueMarkdown": regimen.export.table.DISCLAIMER,
    } in resource["extension"]
    (cycle,) = resource["action"]
    assert cycle["timingTiming"] == {
        "repeat": {"duration": 21, "durationUnit": "d", "frequency": 1, "period": 21, "periodUnit": "d", "count": 8}
    }
    prednisone = cycle["action"][4]
    assert prednisone["title"] == "prednisone" and _days(prednisone) == [1, 2, 3, 4, 5]
    nz = [x for x in prednisone["extension"] if x["url"] == EXT_NZ_TIMING_OF_DAYS]
    assert [x["extension"] for x in nz] == [[{"url": "day", "valueInteger": d}] for d in (1, 2, 3, 4, 5)]
    activities = {a["id"]: a for a in resource["contained"]}
    vincristine = activities[cycle["action"][3]["definitionCanonical"].removeprefix("#")]
    (dosage,) = vincristine["dosage"]
    assert dosage["doseAndRate"] == [
        {"doseQuantity": {"value": 1.4, "unit": "mg/m²", "system": "http://unitsofmeasure.org", "code": "mg/m2"}}
    ]
    assert dosage["maxDosePerAdministration"]["value"] == 2 and dosage["maxDosePerAdministration"]["code"] == "mg"
    assert "timing" not in dosage or "extension" not in dosage["timing"]  # days of the cycle: on the action (R4)
    assert (
        cycle["action"][3]["description"]
        == "Vincristine 1.4 mg/m² IV (method not stated), day 1. Maximum per administration 2 mg."
    )


def test_export_and_import_definition_from_the_command_line(tmp_path: Path) -> None:
    exported = tmp_path / "capox.plandefinition.json"
    result = CliRunner().invoke(cli, ["export-definition", "capox", "-o", str(exported)])
    assert result.exit_code == 0, result.output
    resource = json.loads(exported.read_text())
    assert resource["resourceType"] == "PlanDefinition" and resource["title"].startswith("CAPOX")
    imported = tmp_path / "capox-copy.toml"
    result = CliRunner().invoke(cli, ["import-definition", str(exported), "-o", str(imported)])
    assert result.exit_code == 0, result.output
    args = ["--weight", "70", "--bsa", "1.8", "--start", "2026-12-01", "--format", "csv"]
    a = CliRunner().invoke(cli, ["expand", "capox", *args])
    b = CliRunner().invoke(cli, ["expand", str(imported), *args])
    assert a.exit_code == b.exit_code == 0
    assert a.stdout.splitlines()[1:] == b.stdout.replace(str(imported), "capox").splitlines()[1:]


def _import(path: Path, out: Path) -> str:
    line = one_line_error(CliRunner().invoke(cli, ["import-definition", str(path), "-o", str(out)]))
    assert not out.exists()  # nothing written, not even part of a file
    assert "object has no attribute" not in line and "not iterable" not in line  # no Python internals
    return line


def test_import_refuses_what_it_cannot_read(tmp_path: Path) -> None:
    bad, out = tmp_path / "x.json", tmp_path / "never.toml"
    cases = {
        '{"resourceType": "Patient"}': "expected a FHIR PlanDefinition, got resourceType 'Patient'",
        '{"resourceType": "Bundle", "type": "collection", "entry": []}': "got resourceType 'Bundle'",
        "not json": "not JSON",
        "[1, 2]": "the file must be a JSON object, not an array",
        "[" * 100_000 + "]" * 100_000: "nested too deeply",
        '{"a": ' * 5_000 + "1" + "}" * 5_000: "nested too deeply",
    }
    for text, expected in cases.items():
        bad.write_text(text)
        assert expected in _import(bad, out), text[:40]
    bad.write_bytes(b"\xff\xfe\x00{}")
    assert "not UTF-8" in _import(bad, out)
    with bad.open("wb") as f:  # 100 MB: refused by its size before it is read
        f.truncate(100_000_000)
    assert "larger than 1,000,000 bytes" in _import(bad, out)
    assert "larger than 1,000,000 bytes" in _import(Path("/dev/zero"), out)  # endless: read no further than the limit


def test_import_refuses_a_foreign_or_malformed_plan_definition(tmp_path: Path) -> None:
    """A PlanDefinition shaped as the NZ IG's examples (not written by regimen) and ones with parts of the wrong
    JSON type: each one line naming the part, nothing written."""
    bad, out = tmp_path / "x.json", tmp_path / "never.toml"
    foreign = {
        "resourceType": "PlanDefinition",
        "status": "active",
        "title": "A regimen from elsewhere",
        "type": {
            "coding": [
                {"system": "http://terminology.hl7.org/CodeSystem/plan-definition-type", "code": "clinical-protocol"}
            ]
        },
        "contained": [
            {
                "resourceType": "ActivityDefinition",
                "id": "a",
                "status": "draft",
                "productCodeableConcept": {"text": "x"},
            }
        ],
        "action": [
            {
                "timingTiming": {"repeat": {"count": 1, "duration": 14, "durationUnit": "d"}},
                "action": [{"definitionCanonical": "#a"}],
            }
        ],
    }
    bad.write_text(json.dumps(foreign))
    assert "has no regimen id" in _import(bad, out) and "not written by 'regimen export-definition'" in _import(
        bad, out
    )
    good = definition(regimen.load("capox"), _toml("capox"))
    for change, expected in (
        (lambda r: r.__setitem__("contained", 5), "PlanDefinition.contained must be a JSON array, not a number"),
        (lambda r: r.__setitem__("action", "abc"), "PlanDefinition.action must be a JSON array, not a string"),
        (
            lambda r: r["action"][0].__setitem__("action", [7]),
            "PlanDefinition.action[0].action[0] must be a JSON object",
        ),
        (lambda r: r["extension"][0].__setitem__("valueString", "{"), "valueString is not JSON"),
        (lambda r: r["extension"][0].__setitem__("valueString", "[]"), "must be a JSON object, not an array"),
        (lambda r: r["action"][0]["action"][0].__setitem__("definitionCanonical", "#nowhere"), "names 'nowhere'"),
    ):
        edited = json.loads(json.dumps(good))
        change(edited)
        bad.write_text(json.dumps(edited))
        assert expected in _import(bad, out), expected


def test_import_refuses_a_definition_edited_in_one_place_only(tmp_path: Path) -> None:
    """The regimen is rebuilt from its regimen fields; a dose, a day, a cycle count, a drug or a maximum changed in
    the standard elements only would make the file say what the rebuilt regimen does not: refused, naming where."""
    bad, out = tmp_path / "x.json", tmp_path / "never.toml"
    good = definition(regimen.load("r-chop-21"), _toml("r-chop-21"))
    for change, where in (
        (
            lambda r: r["contained"][0]["productCodeableConcept"].__setitem__("text", "aspirin"),
            "PlanDefinition.contained[0].productCodeableConcept.text",
        ),
        (
            lambda r: r["contained"][3]["dosage"][0]["doseAndRate"][0]["doseQuantity"].__setitem__("value", 14),
            "PlanDefinition.contained[3].dosage[0].doseAndRate[0].doseQuantity.value",
        ),
        (
            lambda r: r["contained"][3]["dosage"][0]["maxDosePerAdministration"].__setitem__("value", 3),
            "maxDosePerAdministration.value",
        ),
        (
            lambda r: r["action"][0]["timingTiming"]["repeat"].__setitem__("count", 6),
            "PlanDefinition.action[0].timingTiming.repeat.count",
        ),
        (
            lambda r: r["action"][0]["action"][4]["extension"][0]["extension"].pop(),
            "PlanDefinition.action[0].action[4].extension[0].extension",
        ),
    ):
        edited = json.loads(json.dumps(good))
        change(edited)
        bad.write_text(json.dumps(edited))
        line = _import(bad, out)
        assert where in line and "was edited in one place but not the other" in line, line
    bad.write_text(json.dumps(good).replace('"duration": 21,', '"duration": 21.0,'))  # the same JSON number
    ok = CliRunner().invoke(cli, ["import-definition", str(bad), "-o", str(out)])
    assert ok.exit_code == 0, ok.output


# ---- a treatment course: given doses as MedicationAdministration -----------------------------------------------


def _course(tmp_path: Path) -> Any:
    db = str(tmp_path / "c.sqlite3")

    def run(*args: str) -> Any:
        result = CliRunner().invoke(cli, [*args, "--db", db])
        assert result.exit_code == 0, result.output
        return result

    return run


def test_a_course_as_fhir_with_what_was_given(tmp_path: Path) -> None:
    run = _course(tmp_path)
    run("course", "start", CAPOX_FIXTURE, "--course", "b4", "--weight", "70", "--bsa", "1.8", "--start", "2026-12-01",
        "--time", "08:00", "--tz", "Europe/Berlin")  # fmt: skip
    run("course", "given", "b4", "--cycle", "1", "--day", "1", "--drug", "oxaliplatin", "--dose", "230 mg",
        "--at", "2026-12-01T08:10", "--lot", "OX-1")  # fmt: skip
    run("course", "given", "b4", "--cycle", "1", "--day", "1", "--drug", "capecitabine", "--dose", "1800 mg",
        "--dose-number", "1", "--reason", "as planned")  # fmt: skip
    run("course", "omit", "b4", "--cycle", "2", "--day", "1", "--drug", "oxaliplatin", "--reason", "reaction")
    bundle = json.loads(run("course", "export", "b4", "--format", "fhir").stdout)
    valid_everywhere(bundle)
    urls = {e["fullUrl"] for e in bundle["entry"]}
    given = {
        e["resource"]["dosage"]["text"].split(";")[0]: e["resource"]
        for e in bundle["entry"]
        if e["resource"]["resourceType"] == "MedicationAdministration"
    }
    assert sorted(given) == ["given 1800 mg", "given 230 mg"]
    oxa = given["given 230 mg"]
    assert oxa["dosage"]["dose"] == {"value": 230, "unit": "mg", "system": "http://unitsofmeasure.org", "code": "mg"}
    assert oxa["effectiveDateTime"] == "2026-12-01T08:10:00+01:00"
    assert oxa["contained"][0]["batch"]["lotNumber"] == "OX-1"
    assert oxa["request"]["reference"] in urls and oxa["subject"]["reference"] in urls
    cape = given["given 1800 mg"]  # recorded without a time: not assumed to be the planned day
    assert "effectiveDateTime" not in cape and set(cape["effectivePeriod"]) == {"end"}  # given by the time recorded
    recorded = dt.datetime.fromisoformat(cape["effectivePeriod"]["end"])
    assert recorded.utcoffset() == dt.timedelta(hours=1)  # in the course's zone (Berlin in December)
    assert abs(recorded - dt.datetime.now(dt.UTC)) < dt.timedelta(minutes=10)  # recorded just now, by this test
    assert {
        "text": "the time it was given was not recorded (planned for 2026-12-01); it was given before it was recorded"
    } in cape["note"]
    oxaliplatin = _requests(bundle)["oxaliplatin"]
    assert len(oxaliplatin) == 7  # 8 cycles, cycle 2's omitted
    (group,) = [e["resource"] for e in bundle["entry"] if e["resource"]["resourceType"] == "RequestGroup"]
    assert len(group["action"]) == 8


def test_a_course_with_a_new_weight_cites_each_weight_where_it_applies(tmp_path: Path) -> None:
    """cenersen-arm2 is one cycle; capox's capecitabine is per m²: a course of r-chop-21 with a new BSA of 2.0 m²
    from cycle 3: cycles 1-2 cite the 1.8 m² Observation (rituximab 675 mg), cycles 3-8 the 2.0 m² one (375 × 2 =
    750 mg); one RequestGroup with all eight cycles."""
    run = _course(tmp_path)
    run("course", "start", "r-chop-21", "--course", "w", "--weight", "70", "--bsa", "1.8", "--start", "2026-12-01")
    run("course", "measure", "w", "--cycle", "3", "--bsa", "2.0", "--reason", "remeasured")
    bundle = json.loads(run("course", "export", "w", "--format", "fhir").stdout)
    valid_everywhere(bundle)
    bsa = {
        e["resource"]["valueQuantity"]["value"]: e["fullUrl"]
        for e in bundle["entry"]
        if e["resource"]["resourceType"] == "Observation" and e["resource"]["code"]["text"] == "Body surface area"
    }
    assert sorted(bsa) == [1.8, 2]
    rituximab = _requests(bundle)["rituximab"]
    assert [r["dosageInstruction"][0]["doseAndRate"][0]["doseQuantity"]["value"] for r in rituximab] == [675] * 2 + [
        750
    ] * 6
    cited = [_derivation(r["dosageInstruction"][0])["observation"]["reference"] for r in rituximab]
    assert cited == [bsa[1.8]] * 2 + [bsa[2]] * 6
    assert all(
        bsa[1.8 if i < 2 else 2] in [s["reference"] for s in r["supportingInformation"]]
        for i, r in enumerate(rituximab)
    )
    groups = [e["resource"] for e in bundle["entry"] if e["resource"]["resourceType"] == "RequestGroup"]
    assert len(groups) == 1 and len(groups[0]["action"]) == 8
    referenced = {sub["resource"]["reference"] for c in groups[0]["action"] for sub in c["action"]}
    assert referenced == {e["fullUrl"] for e in bundle["entry"] if e["resource"]["resourceType"] == "MedicationRequest"}


def test_the_shipped_schema_is_hl7s_r4_401() -> None:
    """The schema is HL7's R4 4.0.1 file as SOURCE.md says (its sha256), with R4's resources and no other's."""
    import hashlib

    raw = gzip.decompress((DATA / "fhir.schema.json.gz").read_bytes())
    assert hashlib.sha256(raw).hexdigest() == "20728132577caec2d013663d512cf7c522aed0da4c207ec7e978ed856a4b04d4"
    assert hashlib.sha256(raw).hexdigest() in (DATA / "SOURCE.md").read_text()
    s = schema()
    assert s["id"] == "http://hl7.org/fhir/json-schema/4.0"
    assert s["$schema"] == "http://json-schema.org/draft-06/schema#"
    assert "4.0.1" in s["definitions"]["CapabilityStatement"]["properties"]["fhirVersion"]["enum"]  # not 4.0.0's
    # R4-only resources and elements (R5 renamed RequestGroup and dropped MedicinalProductAuthorization)
    for kind in ("RequestGroup", "MedicinalProductAuthorization", "MedicationRequest", "PlanDefinition"):
        assert kind in s["definitions"] and kind in s["discriminator"]["mapping"], kind
    assert "medicationCodeableConcept" in s["definitions"]["MedicationRequest"]["properties"]
    # nothing of R5 and no vendor's own types (an earlier copy carried Medplum's Project, User, ...)
    for kind in ("RequestOrchestration", "Project", "User", "Bot", "ClientApplication"):
        assert kind not in s["definitions"], kind
    assert "resource" not in s["definitions"]["Reference"]["properties"]
    assert len(s["discriminator"]["mapping"]) == len(s["oneOf"]) == 146
