"""``regimen import-definition`` on the HL7 NZ Cancer Control Agency SACT IG's published PlanDefinitions (issue 30).

The files are the IG's own examples (tests/data/fhir/nz/ORIGIN.md). Each imported regimen is expanded for a patient
and its doses checked against sums done by hand from the source's numbers."""

from __future__ import annotations

import copy
import datetime as dt
import json
import tomllib
from fractions import Fraction
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

import regimen
from regimen.cli import cli
from regimen.interop.nzsact import NzImportRefused, regimen_from_nz
from regimen.protocol.loader import load_data

NZ = Path(__file__).with_name("data") / "fhir" / "nz"


def imported(tmp_path: Path, name: str) -> tuple[Path, dict[str, Any]]:
    out = tmp_path / f"{name}.toml"
    result = CliRunner().invoke(cli, ["import-definition", str(NZ / f"{name}.json"), "-o", str(out)])
    assert result.exit_code == 0, result.output
    return out, tomllib.loads(out.read_text(encoding="utf-8"))


def refusal(name: str) -> list[str]:
    result = CliRunner().invoke(cli, ["import-definition", str(NZ / name), "-o", "never.toml"])
    assert result.exit_code == 1, result.output
    assert "Traceback" not in result.output
    assert not Path("never.toml").exists()
    lines = result.stderr.strip().splitlines()
    assert lines[0].startswith("Error: ")
    return [line.removeprefix("Error: ") for line in lines]


def test_two_part_regimen_becomes_phases_with_hand_computed_doses(tmp_path: Path) -> None:
    """60071000210106: cisplatin 50 mg/m² over 60 min on days 1 and 22 of one 28-day cycle, then four 21-day cycles
    of paclitaxel 175 mg/m² over 3 h and carboplatin AUC 5 over 60 min on day 1 (SNOMED CT 404216004 mg/m² and
    413573002 AUC; the infusion time in rateRange.high)."""
    path, data = imported(tmp_path, "60071000210106")
    assert [(p["id"], p["cycle_length"], p["cycles"]) for p in data["phase"]] == [("part-1", 28, 1), ("part-2", 21, 4)]
    cis = data["phase"][0]["component"]
    assert [(c["drug"], c["dose"], c["route"], c["duration"], c["days"]) for c in cis] == [
        ("cisplatin", "50 mg/m²", "IV", "60 min", "1,22")
    ]
    plan = regimen.expand(
        regimen.load(str(path)), regimen.make_patient(bsa="1.8", gfr="75"), start=dt.date(2026, 12, 1)
    )
    got = [(r.phase, r.cycle, r.day, r.drug, r.dose, r.date) for r in plan.administrations]
    # by hand: 50 × 1.8 = 90 mg; 175 × 1.8 = 315 mg; AUC 5 × (75 + 25) = 500 mg; part 2 starts on day 29
    assert got[:4] == [
        ("part-1", 1, 1, "cisplatin", Fraction(90), dt.date(2026, 12, 1)),
        ("part-1", 1, 22, "cisplatin", Fraction(90), dt.date(2026, 12, 22)),
        ("part-2", 1, 1, "paclitaxel", Fraction(315), dt.date(2026, 12, 29)),
        ("part-2", 1, 1, "carboplatin", Fraction(500), dt.date(2026, 12, 29)),
    ]
    assert len(got) == 2 + 4 * 2 and got[-1][5] == dt.date(2027, 3, 2)  # cycle 4 of part 2: 29 + 3 × 21 = day 92
    pacli = next(r for r in plan.administrations if r.drug == "paclitaxel")
    assert (pacli.duration_hours, pacli.rate) == (3, 105)  # 315 mg over 3 h


def test_identifiers_citations_and_what_is_not_carried_are_kept(tmp_path: Path) -> None:
    _, data = imported(tmp_path, "60071000210106")
    first = data["source"][0]
    assert first["registry"] == "SNOMED CT 60071000210106"
    assert first["url"] == "https://fhir.nzf.org.nz/fhir/PlanDefinition/60071000210106"
    assert "version 1.0.0" in first["citation"] and data["version"] == "1.0.0"
    assert any(s.get("url") == "https://pubmed.ncbi.nlm.nih.gov/29449189" for s in data["source"])  # PORTEC-3
    notes = "\n".join(data["notes"])
    # supportive medicines are listed, not scheduled; the day-0 dexamethasone among them
    assert "Not carried: supportive care: dexamethasone (20 mg by oral administration; day 0)" in notes
    assert "Not carried: supportive care: sodium chloride (0.9 % over 60 minutes by intravenous; days 1,22)" in notes
    assert "Not carried: Part 2: support factor Emetogenicity: High" in notes
    assert "Copyright (source): All rights reserved." in notes
    # ten supportive medicines in each part, the two ondansetron doses of a day (before and after) both listed
    assert notes.count("Not carried: supportive care:") == 20
    assert notes.count("Not carried: supportive care: ondansetron (8 mg by oral administration; days 1,22)") == 2
    drugs = {c["drug"] for p in data["phase"] for c in p["component"]}
    assert drugs == {"cisplatin", "paclitaxel", "carboplatin"}
    pac = data["phase"][1]["component"][0]
    assert pac["note"].startswith("NZMT 10050001000116101; off-label or unapproved in New Zealand")


def test_oral_twice_daily_regimen_without_a_cycle_count(tmp_path: Path) -> None:
    """52331000210102: alectinib 600 mg twice daily (SNOMED CT 229799001) on days 1-28 of 28-day cycles, "Cycle 1
    (and all further cycles)": no count. Loperamide and domperidone are given when required: listed, not scheduled."""
    path, data = imported(tmp_path, "52331000210102")
    assert data["cycle_length"] == 28 and "cycles" not in data
    assert [(c["drug"], c["dose"], c["route"], c.get("times_per_day"), c["days"]) for c in data["component"]] == [
        ("alectinib", "600 mg", "oral", 2, "1-28")
    ]
    notes = "\n".join(data["notes"])
    assert "given when required, not on a schedule: loperamide" in notes
    assert "given when required, not on a schedule: domperidone" in notes
    assert "number of cycles: the source gives none" in notes
    plan = regimen.expand(regimen.load(str(path)), regimen.make_patient(), cycles=2)
    rows = plan.administrations
    # by hand: 2 doses a day × 28 days × 2 cycles = 112 doses of 600 mg; 67,200 mg in all
    assert len(rows) == 112 and {r.dose for r in rows} == {600}
    assert sum(r.dose for r in rows) == 67200
    assert [r.course_day for r in rows[-2:]] == [56, 56]


def test_flat_doses_in_mg_and_microgram(tmp_path: Path) -> None:
    """52451000210102: abiraterone 1000 mg and dexamethasone 500 microgram (SNOMED CT 258685003) once daily."""
    path, data = imported(tmp_path, "52451000210102")
    assert [(c["drug"], c["dose"], c["days"]) for c in data["component"]] == [
        ("abiraterone", "1000 mg", "1-28"),
        ("dexamethasone", "500 mcg", "1-28"),
    ]
    plan = regimen.expand(regimen.load(str(path)), regimen.make_patient(), cycles=1)
    dex = [r for r in plan.administrations if r.drug == "dexamethasone"]
    assert len(dex) == 28 and {(r.dose, r.dose_unit) for r in dex} == {(500, "mcg")}  # 14 mg a cycle by hand
    assert sum(r.dose for r in dex) == 14000
    assert "Instructions (source): This regimen is for corticosteroid switch" in "\n".join(data["notes"])


def test_examples_the_importer_refuses_say_why_one_line_each() -> None:
    colorectal = refusal("PlanDefinition-ColoRectal.json")
    assert len(colorectal) == 2
    assert colorectal[0].endswith(
        "cycle action 1, medicine 1: refers to 'act-cabergoline', which is not a contained ActivityDefinition"
    )
    retired = refusal("PlanDefinition-SuperceededPlan.json")
    assert any(
        line.endswith("the regimen is retired in the source (replaced by PlanDefinition/newPlan)") for line in retired
    )
    assert any("no timingTiming (a cycle) and no contained PlanDefinition (a part)" in line for line in retired)


def _load(name: str) -> dict[str, Any]:
    return json.loads((NZ / f"{name}.json").read_text(encoding="utf-8"))


def _activity(resource: dict[str, Any], drug: str) -> dict[str, Any]:
    stack = [resource]
    while stack:
        item = stack.pop()
        for c in item.get("contained", []):
            if c.get("productCodeableConcept", {}).get("text") == drug:
                return c
            stack.append(c)
    raise KeyError(drug)


def _refused(resource: dict[str, Any]) -> list[str]:
    with pytest.raises(NzImportRefused) as caught:
        regimen_from_nz(resource, "x.json")
    return caught.value.lines


def test_unknown_dose_unit_route_and_frequency_are_refused_not_guessed() -> None:
    resource = _load("60071000210106")
    pac = _activity(resource, "PACLItaxel")
    pac["dosage"][0]["doseAndRate"][0]["doseQuantity"].update(code="258773002", unit="mL")
    carbo = _activity(resource, "cARBOplatin")
    carbo["dosage"][0]["route"]["coding"][0]["code"] = "12345"
    cis = _activity(resource, "cISplatin")
    cis["dosage"][0]["timing"] = {"code": {"coding": [{"system": "http://snomed.info/sct", "code": "99999"}]}}
    lines = _refused(resource)
    assert lines == [
        "Part 1: cISplatin chemoradiation, cycle action 1, medicine 8: cISplatin: dose frequency SNOMED CT 99999 is "
        "not in the IG's value set",
        "Part 2: cARBOplatin and PACLItaxel, cycle action 1, medicine 9: PACLItaxel: dose unit 'mL' (SNOMED CT "
        "258773002) is not a dose regimen computes (mg, microgram, g, mg/m², mg/kg, microgram/kg, units, units/m² "
        "or AUC)",
        "Part 2: cARBOplatin and PACLItaxel, cycle action 1, medicine 10: cARBOplatin: route SNOMED CT 12345 is not in "
        "the IG's route value set",
    ]


def test_infusion_time_that_disagrees_with_its_text_or_a_day_before_day_one_is_refused() -> None:
    resource = _load("60071000210106")
    _activity(resource, "PACLItaxel")["dosage"][0]["doseAndRate"][0]["rateRange"]["high"]["value"] = 2
    dex = _activity(resource, "dexamethasone")  # not supportive any more: its day 0 must now be read
    lines_before = len(_refused(copy.deepcopy(resource)))
    assert lines_before == 1
    dex["extension"] = [e for e in dex["extension"] if not e["url"].endswith("is-supportive-care")]
    lines = _refused(resource)
    assert any(line.endswith("PACLItaxel: rateRange says 2 h but the text says 'over 3 hours'") for line in lines)
    assert any("dexamethasone: day 0 is before day 1" in line for line in lines)


def test_the_written_file_passes_every_check_of_a_regimen_file(tmp_path: Path) -> None:
    for name in ("52331000210102", "52451000210102", "60071000210106"):
        data = regimen_from_nz(_load(name), f"{name}.json")
        load_data(data, name)  # raises on any problem
        _, written = imported(tmp_path, name)
        assert written == data


def test_import_definition_still_reads_what_export_definition_wrote(tmp_path: Path) -> None:
    exported = tmp_path / "capox.json"
    assert CliRunner().invoke(cli, ["export-definition", "capox", "-o", str(exported)]).exit_code == 0
    out = tmp_path / "capox.toml"
    result = CliRunner().invoke(cli, ["import-definition", str(exported), "-o", str(out)])
    assert result.exit_code == 0, result.output
    assert tomllib.loads(out.read_text(encoding="utf-8"))["id"] == "capox"


@pytest.mark.parametrize(
    "path",
    [
        ("extension",),
        ("action", 0, "action"),
        ("action", 0, "timingTiming", "repeat"),
        ("contained", 0, "dosage", 0, "doseAndRate"),
        ("contained", 0, "productCodeableConcept"),
        ("action", 0, "action", 0, "extension", 0, "extension"),
    ],
)
@pytest.mark.parametrize("wrong", [5, "text", [1], None])
def test_an_element_of_the_wrong_type_is_refused_without_a_traceback(path: tuple[Any, ...], wrong: object) -> None:
    resource = _load("52331000210102")
    node: Any = resource
    for key in path[:-1]:
        node = node[key]
    node[path[-1]] = wrong
    try:
        data = regimen_from_nz(resource, "x.json")
    except NzImportRefused as exc:
        assert exc.lines and all(line for line in exc.lines)
    else:
        load_data(data, "x.json")  # what is read is still a valid regimen file
