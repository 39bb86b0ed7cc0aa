"""FHIR R4 out and in (issue 14): every resource parses with the fhir.resources R4B models and passes the FHIR R4
(4.0.1) JSON schema shipped in tests/data/fhir (see SOURCE.md there); every UCUM code follows UCUM's grammar; the
round trip regimen -> PlanDefinition -> regimen gives the same plans for every bundled regimen.
"""

from __future__ import annotations

import datetime as dt
import gzip
import json
import re
from functools import cache
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from click.testing import CliRunner
from fhir.resources.R4B import get_fhir_model_class
from tests.conftest import BUNDLED_IDS
from tests.test_cli import one_line_error

import regimen
from regimen.cli import cli
from regimen.engine.rows import row_record
from regimen.export.fhir import EXT_DAYS_OF_CYCLE, definition, plan_bundle, regimen_data
from regimen.protocol.catalog import find
from regimen.protocol.loader import load_data

DATA = Path(__file__).with_name("data") / "fhir"
VALUES = {"weight": "70", "bsa": "1.8", "age": "45", "height": "175", "sex": "female", "scr": "1"}
START = dt.date(2026, 12, 1)


@cache
def schema() -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads(gzip.decompress((DATA / "fhir.schema.json.gz").read_bytes()))
    return loaded


@cache
def validator(kind: str) -> jsonschema.Draft6Validator:
    return jsonschema.Draft6Validator({"$ref": f"#/definitions/{kind}", "definitions": schema()["definitions"]})


def valid(resource: dict[str, Any]) -> None:
    """The resource passes the R4 JSON schema and the fhir.resources R4B model of its type."""
    errors = sorted(validator(resource["resourceType"]).iter_errors(resource), key=str)
    assert not errors, [f"{list(e.absolute_path)}: {e.message[:200]}" for e in errors[:5]]
    get_fhir_model_class(resource["resourceType"]).model_validate(resource)


def plan_of(regimen_id: str, **extra: Any) -> regimen.Plan:
    return regimen.expand(
        regimen.load(regimen_id),
        regimen.make_patient(**VALUES),
        cycle_length=21 if regimen_id.startswith("cen") else None,
        **extra,
    )


# ---- UCUM ------------------------------------------------------------------------------------------------

#: UCUM's grammar for the terms regimen writes: prefixed atoms with an optional exponent, joined by '/' or '.', or
#: a curly-brace annotation (a unity, as '{units}' for units of activity).
_PREFIX = "(?:k|m|u|n|c|d)?"
_ATOM = r"(?:g|L|m|h|d|min|s|mol|\[iU\])"
_TERM = rf"(?:{_PREFIX}{_ATOM}(?:[1-9])?|\{{[a-z]+\}})"
UCUM_CODE = re.compile(rf"^{_TERM}(?:[./]{_TERM})*$")
MASS = re.compile(rf"^(?:{_PREFIX}g|\{{units\}})$")


def quantities(node: Any) -> list[dict[str, Any]]:
    found = []
    if isinstance(node, dict):
        if node.get("system") == "http://unitsofmeasure.org":
            found.append(node)
        for value in node.values():
            found.extend(quantities(value))
    elif isinstance(node, list):
        for value in node:
            found.extend(quantities(value))
    return found


def test_the_ucum_checker_knows_good_from_bad() -> None:
    for good in ("mg", "ug/h", "mg/m2/d", "mg/kg/h", "kg", "cm", "m2", "{units}/m2", "mL/min"):
        assert UCUM_CODE.match(good), good
    for bad in ("mcg", "m²", "mg/day", "mg/hr", "units", "mg per h", ""):
        assert not UCUM_CODE.match(bad), bad


# ---- one patient's plan -------------------------------------------------------------------------------


@pytest.mark.parametrize("regimen_id", BUNDLED_IDS)
def test_every_bundled_regimen_gives_a_valid_bundle(regimen_id: str) -> None:
    plan = plan_of(regimen_id, start=START, time=dt.time(8), tz="Europe/Berlin")
    bundle = plan_bundle(plan)
    valid(bundle)
    kinds = [e["resource"]["resourceType"] for e in bundle["entry"]]
    assert kinds[0] == "RequestGroup" and "Patient" in kinds
    cycles = {(r.phase, r.cycle, r.component) for r in plan.administrations}
    assert kinds.count("MedicationRequest") == len(cycles)  # one per component per cycle
    for entry in bundle["entry"]:
        valid(entry["resource"])
    for q in quantities(bundle):
        assert UCUM_CODE.match(q["code"]), q
    for entry in bundle["entry"]:
        for dosage in entry["resource"].get("dosageInstruction", []):
            for dr in dosage["doseAndRate"]:
                assert MASS.match(dr["doseQuantity"]["code"]), dr
                if "rateQuantity" in dr:
                    assert dr["rateQuantity"]["code"].endswith("/h"), dr


def test_cenersen_arm3_bundle_by_hand() -> None:
    """0.1 mg/kg/h × 70 kg = 7 mg/h for 96 h = 672 mg, days 1-4; idarubicin 12 mg/m²/day × 1.8 m² = 21.6 mg on days
    2-4; cytarabine 1 g/m²/day × 1.8 m² = 1,800 mg on days 2-5 (age 45: four days)."""
    plan = regimen.expand(
        regimen.load("cenersen-arm3"),
        regimen.make_patient(weight="70", bsa="1.8", age="45"),
        start=START,
        time=dt.time(8),
        tz="Europe/Berlin",
    )
    requests = {
        e["resource"]["medicationCodeableConcept"]["text"]: e["resource"]
        for e in plan_bundle(plan)["entry"]
        if e["resource"]["resourceType"] == "MedicationRequest"
    }
    (cenersen,) = requests["cenersen"]["dosageInstruction"]
    assert cenersen["doseAndRate"][0]["doseQuantity"] == {
        "value": 672,
        "unit": "mg",
        "system": "http://unitsofmeasure.org",
        "code": "mg",
    }
    assert cenersen["doseAndRate"][0]["rateQuantity"]["value"] == 7
    assert cenersen["doseAndRate"][0]["rateQuantity"]["code"] == "mg/h"
    assert cenersen["timing"]["repeat"]["boundsPeriod"] == {
        "start": "2026-12-01T08:00:00+01:00",
        "end": "2026-12-05T08:00:00+01:00",
    }
    assert cenersen["timing"]["repeat"]["duration"] == 96 and cenersen["timing"]["repeat"]["durationUnit"] == "h"
    days = cenersen["timing"]["extension"][0]
    assert days["url"] == EXT_DAYS_OF_CYCLE and [d["valueInteger"] for d in days["extension"]] == [1, 2, 3, 4]
    assert cenersen["extension"][0]["valueQuantity"]["code"] == "mg/kg/h"
    assert "0.1 mg/kg/h × 70 kg" in cenersen["text"]
    (ida,) = requests["idarubicin"]["dosageInstruction"]
    assert ida["doseAndRate"][0]["doseQuantity"]["value"] == 21.6
    assert [d["valueInteger"] for d in ida["timing"]["extension"][0]["extension"]] == [2, 3, 4]
    assert ida["timing"]["repeat"]["count"] == 3 and len(ida["timing"]["event"]) == 3
    assert ida["extension"][0]["valueQuantity"]["code"] == "mg/m2/d"
    (ara,) = requests["cytarabine"]["dosageInstruction"]
    assert ara["doseAndRate"][0]["doseQuantity"]["value"] == 1800
    assert [d["valueInteger"] for d in ara["timing"]["extension"][0]["extension"]] == [2, 3, 4, 5]
    weights = [
        e["resource"]
        for e in plan_bundle(plan)["entry"]
        if e["resource"]["resourceType"] == "Observation" and e["resource"]["code"]["coding"][0]["code"] == "29463-7"
    ]
    assert weights[0]["valueQuantity"]["value"] == 70 and weights[0]["valueQuantity"]["code"] == "kg"


def test_a_conditional_dose_is_explained_in_text() -> None:
    plan = regimen.expand(regimen.load("cenersen-arm3"), regimen.make_patient(weight="70", bsa="1.8"), start=START)
    bundle = plan_bundle(plan)
    valid(bundle)
    texts = [
        d["text"]
        for e in bundle["entry"]
        for d in e["resource"].get("dosageInstruction", [])
        if e["resource"]["medicationCodeableConcept"]["text"] == "cytarabine"
    ]
    assert any("Only if age" in t for t in texts)


def test_expand_format_fhir_from_the_command_line(tmp_path: Path) -> None:
    args = ["expand", "cenersen-arm3", "--weight", "70", "--bsa", "1.8", "--age", "45", "--start", "2026-12-01"]
    out = CliRunner().invoke(cli, [*args, "--format", "fhir"])
    assert out.exit_code == 0, out.output
    valid(json.loads(out.stdout))
    target = tmp_path / "plan.fhir.json"
    written = CliRunner().invoke(cli, [*args, "-o", str(target)])
    assert written.exit_code == 0 and "(fhir)" in written.stderr
    assert json.loads(target.read_text()) == json.loads(out.stdout)  # deterministic


# ---- the regimen as a PlanDefinition, and back ----------------------------------------------------------


def _toml(regimen_id: str) -> dict[str, Any]:
    import tomllib

    data: dict[str, Any] = tomllib.loads(find(regimen_id).read_text(encoding="utf-8"))
    return data


def _rows(plan: regimen.Plan) -> list[dict[str, Any]]:
    return [row_record(plan, r) for r in plan.administrations]


@pytest.mark.parametrize("regimen_id", BUNDLED_IDS)
def test_round_trip_gives_the_same_plans(regimen_id: str) -> None:
    original = regimen.load(regimen_id)
    resource = definition(original, _toml(regimen_id))
    valid(resource)
    for contained in resource["contained"]:
        valid(contained)
    for q in quantities(resource):
        assert UCUM_CODE.match(q["code"]), q
    back = load_data(regimen_data(json.loads(json.dumps(resource))), "<round trip>")
    for values in (VALUES, {**VALUES, "age": "70", "weight": "52", "bsa": "1.5"}):
        length = 21 if regimen_id.startswith("cen") else None
        a = regimen.expand(original, regimen.make_patient(**values), start=START, cycle_length=length)
        b = regimen.expand(back, regimen.make_patient(**values), start=START, cycle_length=length)
        assert _rows(a) == _rows(b)
        assert a.totals == b.totals and a.warnings == b.warnings


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


def test_import_refuses_what_it_cannot_read(tmp_path: Path) -> None:
    bad = tmp_path / "x.json"
    bad.write_text('{"resourceType": "Patient"}')
    assert "expected a PlanDefinition" in one_line_error(CliRunner().invoke(cli, ["import-definition", str(bad)]))
    bad.write_text("not json")
    assert "not a PlanDefinition" in one_line_error(CliRunner().invoke(cli, ["import-definition", str(bad)]))
    edited = definition(regimen.load("capox"), _toml("capox"))
    edited["contained"][0]["productCodeableConcept"]["text"] = "aspirin"
    bad.write_text(json.dumps(edited))
    out = tmp_path / "never.toml"
    line = one_line_error(CliRunner().invoke(cli, ["import-definition", str(bad), "-o", str(out)]))
    assert "was edited" in line and not out.exists()


# ---- a treatment course: given doses as MedicationAdministration -----------------------------------------------


def test_a_course_as_fhir_with_what_was_given(tmp_path: Path) -> None:
    db = str(tmp_path / "c.sqlite3")

    def run(*args: str) -> Any:
        result = CliRunner().invoke(cli, [*args, "--db", db])
        assert result.exit_code == 0, result.output
        return result

    run("course", "start", "capox", "--course", "b4", "--weight", "70", "--bsa", "1.8", "--start", "2026-12-01",
        "--time", "08:00", "--tz", "Europe/Berlin")  # fmt: skip
    run("course", "given", "b4", "--cycle", "1", "--day", "1", "--drug", "oxaliplatin", "--dose", "230 mg",
        "--at", "2026-12-01T08:10", "--lot", "OX-1")  # fmt: skip
    run("course", "omit", "b4", "--cycle", "2", "--day", "1", "--drug", "oxaliplatin", "--reason", "reaction")
    bundle = json.loads(run("course", "export", "b4", "--format", "fhir").stdout)
    valid(bundle)
    for entry in bundle["entry"]:
        valid(entry["resource"])
    urls = {e["fullUrl"] for e in bundle["entry"]}
    (given,) = [e["resource"] for e in bundle["entry"] if e["resource"]["resourceType"] == "MedicationAdministration"]
    assert given["dosage"]["dose"] == {"value": 230, "unit": "mg", "system": "http://unitsofmeasure.org", "code": "mg"}
    assert given["effectiveDateTime"] == "2026-12-01T08:10:00+01:00"
    assert given["contained"][0]["batch"]["lotNumber"] == "OX-1"
    assert given["request"]["reference"] in urls and given["subject"]["reference"] in urls
    oxaliplatin = [
        e["resource"]
        for e in bundle["entry"]
        if e["resource"]["resourceType"] == "MedicationRequest"
        and e["resource"]["medicationCodeableConcept"]["text"] == "oxaliplatin"
    ]
    assert len(oxaliplatin) == 7  # 8 cycles, cycle 2's omitted


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
