"""Order verification (issue 28, item 1): ordered doses against the protocol's, with hand-computed expectations.

The patient throughout: mFOLFOX6 at a BSA of 1.8 m², worked out by hand from the protocol (regimens/mfolfox6.toml):
oxaliplatin 85 mg/m² × 1.8 = 153 mg over 2 h (76.5 mg/h); leucovorin 400 mg/m² × 1.8 = 720 mg over 2 h (360 mg/h);
fluorouracil bolus 400 mg/m² × 1.8 = 720 mg (IV push); fluorouracil pump 2,400 mg/m² × 1.8 = 4,320 mg over 46 h
(93.91 mg/h), on days 1 and 2 (24 h + 22 h), ordered as one pump. The antiemetics (NZ SRL), flat doses by mouth:
ondansetron 8 mg and dexamethasone 8 mg on day 1, dexamethasone 8 mg on days 2 and 3: supportive care is part of
the cycle's orders, and a cycle is verified only when they are ordered too.
"""

from __future__ import annotations

import copy
import json
from fractions import Fraction
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from click.testing import CliRunner
from starlette.testclient import TestClient
from tests.conftest import BUNDLED_IDS
from tests.test_fhir import valid

import regimen
from regimen.cli import cli
from regimen.engine.orders import (
    Order,
    OrderError,
    Quantity,
    orders_from_texts,
    parse_order,
    read_fhir_orders,
    read_orders_csv,
)
from regimen.engine.verify import Tolerance, Verification, VerifyError, orderable, parse_tolerance, verify
from regimen.web.app import create_app
from regimen.web.openapi import openapi

#: The whole of cycle 1 as it should be ordered: the 4 anticancer orders, then the 4 antiemetic doses (8 orders).
CORRECT = [
    "oxaliplatin@1=153mg over 2h",
    "leucovorin@1=720mg over 2h",
    "fluorouracil-bolus@1=720mg",
    "fluorouracil-pump@1=4320mg over 46h",
    "ondansetron@1=8mg",
    "dexamethasone@1=8mg",
    "dexamethasone-days-2-3@2=8mg",
    "dexamethasone-days-2-3@3=8mg",
]


def plan(cycles: int = 1) -> regimen.Plan:
    return regimen.expand(regimen.load("mfolfox6"), regimen.make_patient(bsa="1.8"), cycles=cycles)


def check(*orders: str, tolerance: Tolerance | None = None) -> Verification:
    return verify(plan(), orders_from_texts(orders), tolerance)


def by_component(v: Verification) -> dict[str, Any]:
    return {c.expected.component: c for c in v.checks if c.expected is not None}


def run(runner: CliRunner, *args: str) -> Any:
    return runner.invoke(cli, ["verify", "mfolfox6", "--bsa", "1.8", *args])


# ---- the brief's cycle: oxaliplatin 10 % over ------------------------------------------------------------------


def test_oxaliplatin_ordered_168_mg_is_9_8_percent_over_and_outside_5_percent() -> None:
    v = check("oxaliplatin@1=168mg over 2h", *CORRECT[1:])
    c = by_component(v)
    ox = c["oxaliplatin"]
    assert ox.expected.dose == 153 and ox.ordered == 168
    assert ox.difference == 15  # 168 - 153
    assert ox.percent == Fraction(1500, 153)  # 15 / 153 = 9.8039...%
    assert ox.verdict == "outside" and not ox.ok
    for name in ("leucovorin", "fluorouracil-bolus", "fluorouracil-pump"):
        assert c[name].verdict == "within" and c[name].ok and c[name].difference == 0, name
    assert c["fluorouracil-pump"].expected.dose == 4320  # the whole pump, not a day's share (2,254 or 2,066 mg)
    assert not v.missing and not v.ok
    # 8 orders (4 anticancer, 4 antiemetic), all within but oxaliplatin
    assert v.summary.startswith("NOT VERIFIED: 7 of 8 orders within tolerance; 1 order outside the tolerance")


def test_cli_shows_the_difference_in_mg_and_percent_and_exits_1(runner: CliRunner) -> None:
    result = run(runner, "--order", "oxaliplatin@1=168mg over 2h", *(a for o in CORRECT[1:] for a in ("--order", o)))
    assert result.exit_code == 1, result.output
    line = next(x for x in result.output.splitlines() if x.startswith("--order 1"))
    assert line.split() == [
        "--order",
        "1",
        "oxaliplatin",
        "1/1",
        "168",
        "mg",
        "168",
        "mg",
        "153",
        "mg",
        "+15",
        "mg",
        "+9.8",
        "%",
        "±5",
        "%",
        "OUTSIDE",
    ]
    assert "working: 85 mg/m² × 1.8 m² = 153 mg over 2 h (76.5 mg/h)" in result.output
    assert "NHS England dose banding ±6 %" in result.output  # the default's source, said with it


def test_a_correct_cycle_is_verified_and_exits_0(runner: CliRunner) -> None:
    result = run(runner, *(a for o in CORRECT for a in ("--order", o)))
    assert result.exit_code == 0, result.output
    assert "VERIFIED: 8 of 8 orders within tolerance" in result.output  # 4 anticancer + 4 antiemetic orders
    assert "NOT VERIFIED" not in result.output


def test_pump_ordered_as_one_day_share_is_outside() -> None:
    # 2,254 mg (day 1's 24 h of 46) ordered as the pump: (2254 - 4320) / 4320 = -47.8 %
    c = by_component(check("fluorouracil-pump@1=2254mg over 46h"))["fluorouracil-pump"]
    assert c.verdict == "outside" and c.difference == -2066
    assert "the whole 46 h infusion: day 1 2,254 mg" in c.expected.working


def test_tolerance_per_drug_and_its_boundary() -> None:
    # 168 mg is +9.8 %: within a 10 % tolerance for oxaliplatin
    assert by_component(check("oxaliplatin@1=168mg over 2h", tolerance=parse_tolerance(["oxaliplatin=10%"])))[
        "oxaliplatin"
    ].ok
    # exactly +5 % (160.65 mg) is within ±5 %; 160.66 mg is not
    assert by_component(check("oxaliplatin@1=160.65mg over 2h"))["oxaliplatin"].verdict == "within"
    assert by_component(check("oxaliplatin@1=160.66mg over 2h"))["oxaliplatin"].verdict == "outside"
    # -5 %: 145.35 mg
    assert by_component(check("oxaliplatin@1=145.35mg over 2h"))["oxaliplatin"].verdict == "within"


def test_tolerance_spellings_and_refusals() -> None:
    t = parse_tolerance(["3%", "carboplatin=10%"])
    assert t.of("carboplatin", "carboplatin") == 10 and t.of("oxaliplatin", "oxaliplatin") == 3
    assert parse_tolerance([]).default == 5
    with pytest.raises(VerifyError, match="above 0 and at most 50%"):
        parse_tolerance(["60%"])
    with pytest.raises(VerifyError, match="one tolerance for every drug"):
        parse_tolerance(["5%", "6%"])


# ---- units other than the protocol's --------------------------------------------------------------------------


def test_an_order_in_g_is_converted_and_said() -> None:
    c = by_component(check("oxaliplatin@1=0.153 g over 2h"))["oxaliplatin"]
    assert c.ordered == 153 and c.ok
    assert c.notes == ("ordered in g: 0.153 g = 153 mg",)


def test_an_order_per_m2_is_resolved_with_the_bsa_and_said() -> None:
    c = by_component(check("oxaliplatin@1=85 mg/m2 over 2h"))["oxaliplatin"]
    assert c.ordered == 153 and c.ok  # 85 × 1.8
    assert c.notes == ("ordered per m²: 85 mg/m2 × 1.8 m² = 153 mg (the BSA the plan uses)",)


def test_the_dose_per_m2_written_as_mg_is_named() -> None:
    c = by_component(check("oxaliplatin@1=85 mg over 2h"))["oxaliplatin"]
    assert c.verdict == "outside" and c.difference == -68  # 85 - 153
    assert any(
        "the protocol's dose per m² (85 mg/m²): mg/m² written as mg? For this patient it is 153 mg" in p
        for p in c.problems
    )


def test_a_dose_1000_times_off_names_the_unit_slip() -> None:
    c = by_component(check("oxaliplatin@1=153 g over 2h"))["oxaliplatin"]
    assert c.verdict == "outside" and c.ordered == 153_000
    assert "153 g is 1,000 times the protocol's 153 mg: a slip between mg and g, or mcg and mg?" in c.problems
    c = by_component(check("leucovorin@1=720 mcg over 2h"))["leucovorin"]
    assert c.ordered == Fraction(72, 100)
    assert "720 mcg is a thousandth of the protocol's 720 mg: a slip between mg and g, or mcg and mg?" in c.problems


def test_a_dose_per_time_is_not_checked() -> None:
    c = check("oxaliplatin@1=76.5 mg/h").checks[0]
    assert c.verdict == "not checked" and "a dose per time" in c.problems[0]


# ---- what an order lacks ---------------------------------------------------------------------------------------


def test_a_drug_not_ordered_is_missing_and_fails(runner: CliRunner) -> None:
    v = check(*(o for o in CORRECT if not o.startswith("leucovorin")))
    assert [(e.component, e.day, e.dose) for e in v.missing] == [("leucovorin", 1, 720)]
    assert not v.ok and "1 drug of the protocol not ordered" in v.summary
    result = run(runner, *(a for o in CORRECT if not o.startswith("leucovorin") for a in ("--order", o)))
    assert result.exit_code == 1
    assert "- leucovorin, cycle 1, day 1: 720 mg (400 mg/m² × 1.8 m² = 720 mg over 2 h (360 mg/h))" in result.output


def test_an_order_without_a_day_or_rate_lacks_them() -> None:
    c = by_component(check("oxaliplatin=153mg"))["oxaliplatin"]
    assert c.verdict == "within" and not c.ok
    assert c.problems == (
        "no day: the protocol gives oxaliplatin on day 1 of cycle 1",
        "no rate: the protocol gives it over 2 h (76.5 mg/h)",
    )


def test_rate_and_duration_are_checked_against_the_protocol() -> None:
    ok = by_component(check("oxaliplatin@1=153mg at 76.5 mg/h"))["oxaliplatin"]
    assert ok.ok
    fast = by_component(check("oxaliplatin@1=153mg over 1h"))["oxaliplatin"]
    assert fast.problems == ("over 1 h: the protocol gives it over 2 h (-50 %)",)
    rate = by_component(check("oxaliplatin@1=153mg at 153 mg/h"))["oxaliplatin"]
    assert rate.problems == ("rate 153 mg/h: the protocol's is 76.5 mg/h (+100 %)",)
    volume = by_component(check("oxaliplatin@1=153mg at 250 mL/h"))["oxaliplatin"]
    assert volume.ok and "a rate of volume depends on the preparation" in volume.notes[0]


def test_a_drug_of_two_components_must_say_which() -> None:
    c = check("fluorouracil@1=720mg").checks[0]
    assert c.verdict == "not checked"
    assert "fluorouracil-bolus (IV push), fluorouracil-pump (continuous infusion)" in c.problems[0]
    # with the other one ordered by its duration, the plain order is the bolus
    v = check("fluorouracil@1=720mg", "fluorouracil@1=4320mg over 46h")
    assert [c.expected.component for c in v.checks if c.expected] == ["fluorouracil-bolus", "fluorouracil-pump"]


def test_an_unknown_drug_and_a_wrong_day_are_not_checked() -> None:
    assert "cisplatin is not a drug of mfolfox6" in check("cisplatin@1=100mg").checks[0].problems[0]
    assert check("oxaliplatin@8=153mg over 2h").checks[0].problems == (
        "no oxaliplatin on day 8: the protocol gives it on day 1",
    )


def test_order_spelling_and_its_errors() -> None:
    o = parse_order("oxaliplatin@c2d1=4,320 mg over 46 h at 93.9 mg/h", "order 1")
    assert (o.drug, o.cycle, o.day, o.dose.value, o.duration_hours, o.rate and o.rate.value) == (
        "oxaliplatin",
        2,
        1,
        4320,
        46,
        Fraction(939, 10),
    )
    with pytest.raises(OrderError, match="order 1 'oxaliplatin 153mg': write DRUG"):
        parse_order("oxaliplatin 153mg", "order 1")
    with pytest.raises(OrderError, match="give a number and its unit"):
        parse_order("oxaliplatin=153", "order 1")
    with pytest.raises(OrderError, match="'1,5 mg'"):
        parse_order("oxaliplatin=1,5 mg", "order 1")  # a decimal comma is refused


def test_cli_errors_are_one_line(runner: CliRunner) -> None:
    result = run(runner)
    assert result.exit_code == 1
    assert result.output == "Error: no order to check: give --order DRUG=DOSE or --orders FILE\n"
    result = run(runner, "--order", "oxaliplatin=153", "--tolerance", "5%")
    assert result.output.strip().splitlines() == [
        "Error: --order 1 dose '153': give a number and its unit, e.g. 150 mg"
    ]


# ---- CSV ----------------------------------------------------------------------------------------------------

ORDERS_CSV = """Drug,Cycle,Day,Dose,Unit,Rate,Rate_unit,Route
oxaliplatin,1,1,168,mg,84,mg/h,IV
leucovorin,1,1,0.72,g,360,mg/h,IV
fluorouracil-bolus,1,1,720,mg,,,IV
fluorouracil-pump,1,1,"4,320",mg,93.91,mg/h,intravenous
"""


def test_orders_from_csv(tmp_path: Path, runner: CliRunner) -> None:
    orders = read_orders_csv(ORDERS_CSV, "orders.csv")
    assert [o.source for o in orders] == [f"orders.csv line {n}" for n in (2, 3, 4, 5)]
    c = by_component(verify(plan(), orders))
    assert c["oxaliplatin"].verdict == "outside"  # 168 mg: +9.8 %
    assert c["oxaliplatin"].problems == ("rate 84 mg/h: the protocol's is 76.5 mg/h (+9.8 %)",)
    assert c["leucovorin"].ok and c["leucovorin"].notes == ("ordered in g: 0.72 g = 720 mg",)
    assert c["fluorouracil-bolus"].ok and c["fluorouracil-pump"].ok  # 93.91 mg/h is 93.913... within 5 %
    path = tmp_path / "orders.csv"
    path.write_text(ORDERS_CSV)
    result = run(runner, "--orders", str(path), "--format", "csv")
    assert result.exit_code == 1
    lines = result.output.splitlines()
    assert lines[0] == (
        "order,drug,component,cycle,day,ordered,ordered_dose,protocol_dose,unit,difference,percent,"
        "tolerance_percent,verdict,working,notes,problems"
    )
    assert lines[1].startswith("orders.csv line 2,oxaliplatin,oxaliplatin,1,1,168 mg,168,153,mg,15,9.8,5,outside,")


def test_a_csv_without_a_dose_column_is_refused() -> None:
    with pytest.raises(OrderError, match=r"orders\.csv: no dose column"):
        read_orders_csv("drug,amount\noxaliplatin,153\n", "orders.csv")


# ---- FHIR R4 ------------------------------------------------------------------------------------------------


def request(rid: str, drug: str, dose: tuple[float, str], **dosage: Any) -> dict[str, Any]:
    return {
        "fullUrl": f"urn:uuid:00000000-0000-4000-8000-00000000000{rid[-1]}",
        "resource": {
            "resourceType": "MedicationRequest",
            "id": rid,
            "status": "active",
            "intent": "order",
            "medicationCodeableConcept": {"text": drug},
            "subject": {"reference": "Patient/p1"},
            "dosageInstruction": [
                {
                    "timing": {
                        "extension": [
                            {
                                "url": "http://hl7.org/fhir/StructureDefinition/timing-daysOfCycle",
                                "extension": [{"url": "day", "valueInteger": 1}],
                            }
                        ],
                        **dosage.pop("timing", {}),
                    },
                    "route": {
                        "coding": [
                            {"system": "http://snomed.info/sct", "code": "47625008", "display": "Intravenous route"}
                        ]
                    },
                    "doseAndRate": [
                        {
                            "doseQuantity": {
                                "value": dose[0],
                                "unit": dose[1],
                                "system": "http://unitsofmeasure.org",
                                "code": dose[1],
                            },
                            **dosage,
                        }
                    ],
                }
            ],
        },
    }


def rate(value: float) -> dict[str, Any]:
    return {"rateQuantity": {"value": value, "unit": "mg/h", "system": "http://unitsofmeasure.org", "code": "mg/h"}}


def bundle() -> dict[str, Any]:
    """Cycle 1 as an ordering system sends it: oxaliplatin at 168 mg (10 % over), the others as the protocol."""
    return {
        "resourceType": "Bundle",
        "type": "collection",
        "entry": [
            request("mr1", "oxaliplatin", (168, "mg"), **rate(84)),
            request("mr2", "leucovorin", (720, "mg"), **rate(360)),
            request("mr3", "Fluorouracil", (720, "mg"), timing={"code": {"text": "IV push"}}),
            request("mr4", "Fluorouracil", (4320, "mg"), timing={"repeat": {"duration": 46, "durationUnit": "h"}}),
        ],
    }


def test_the_fhir_bundle_is_valid_fhir() -> None:
    data = bundle()
    valid(data)
    for entry in data["entry"]:
        valid(entry["resource"])


def test_orders_from_a_fhir_bundle() -> None:
    orders, notes = read_fhir_orders(bundle(), "cycle1.json")
    assert notes == []
    assert [(o.source, o.drug, o.day, o.dose.value, o.dose.unit) for o in orders] == [
        ("MedicationRequest/mr1", "oxaliplatin", 1, 168, "mg"),
        ("MedicationRequest/mr2", "leucovorin", 1, 720, "mg"),
        ("MedicationRequest/mr3", "Fluorouracil", 1, 720, "mg"),
        ("MedicationRequest/mr4", "Fluorouracil", 1, 4320, "mg"),
    ]
    assert orders[3].duration_hours == 46 and orders[0].rate is not None and orders[0].rate.value == 84
    c = by_component(verify(plan(), orders))
    assert c["oxaliplatin"].verdict == "outside" and c["oxaliplatin"].percent == Fraction(1500, 153)
    assert c["fluorouracil-pump"].ok and c["fluorouracil-bolus"].ok and c["leucovorin"].ok


def test_a_fhir_bundle_through_the_cli(tmp_path: Path, runner: CliRunner) -> None:
    data = bundle()
    cancelled = copy.deepcopy(data["entry"][0])
    cancelled["resource"].update(id="mr0", status="cancelled")
    data["entry"].insert(0, cancelled)
    path = tmp_path / "cycle1.fhir.json"
    path.write_text(json.dumps(data))
    result = run(runner, "--orders", str(path), "--format", "json")
    assert result.exit_code == 1
    answer = json.loads(result.output)
    assert answer["ok"] is False and answer["notes"] == [
        "cycle1.fhir.json: MedicationRequest/mr0: status cancelled, not checked"
    ]
    first = answer["checks"][0]
    assert (first["order"], first["ordered_exact"], first["protocol_exact"], first["difference_exact"]) == (
        "MedicationRequest/mr1",
        "168",
        "153",
        "15",
    )
    assert (first["percent"], first["percent_exact"], first["verdict"]) == (9.8, "500/51", "outside")


def test_a_bundle_without_a_dose_is_refused() -> None:
    data = bundle()
    del data["entry"][1]["resource"]["dosageInstruction"][0]["doseAndRate"]
    with pytest.raises(OrderError, match=r"MedicationRequest/mr2: no doseAndRate\.doseQuantity"):
        read_fhir_orders(data, "b.json")


# ---- the HTTP API -------------------------------------------------------------------------------------------


def test_the_api_verifies_orders_as_the_cli_does(runner: CliRunner) -> None:
    client = TestClient(create_app(), base_url="http://127.0.0.1")
    body = {
        "regimen": "mfolfox6",
        "bsa": "1.8",
        "cycles": "1",
        "orders": ["oxaliplatin@1=168mg over 2h"],
        "bundle": {**bundle(), "entry": bundle()["entry"][1:]},
    }
    answer = client.post("/api/verify", json=body)
    assert answer.status_code == 200
    got = answer.json()
    assert got["ok"] is False and [c["verdict"] for c in got["checks"]] == ["outside", "within", "within", "within"]
    assert got["checks"][0]["difference"] == 15 and got["checks"][0]["percent"] == 9.8
    spec = openapi()
    for name, value in (("Verification", got), ("VerifyRequest", body)):
        schema = {**spec["components"]["schemas"][name], "components": spec["components"]}
        jsonschema.Draft202012Validator(schema).validate(value)
    # the CLI given the same 4 orders as the API (the bundle orders no antiemetic): the same checks, and the same 4
    # antiemetic doses (ondansetron and dexamethasone day 1, dexamethasone days 2-3) missing
    orders = ("oxaliplatin@1=168mg over 2h", *CORRECT[1:4])
    cli_run = run(runner, "--cycles", "1", *(a for o in orders for a in ("--order", o)), "--format", "json")
    cli_answer = json.loads(cli_run.output)
    assert [c["percent_exact"] for c in cli_answer["checks"]] == [c["percent_exact"] for c in got["checks"]]
    missing = ["ondansetron", "dexamethasone", "dexamethasone-days-2-3"]
    assert [m["component"] for m in got["missing"]] == [m["component"] for m in cli_answer["missing"]] == missing
    bad = client.post("/api/verify", json={"regimen": "mfolfox6", "bsa": "1.8", "orders": ["oxaliplatin=153"]})
    assert bad.status_code == 400
    assert bad.json() == {"error": "orders[1] dose '153': give a number and its unit, e.g. 150 mg"}


def test_a_drug_of_many_doses_not_ordered_is_one_line(runner: CliRunner) -> None:
    # CAPOX at 1.8 m²: capecitabine 1,000 mg/m² × 1.8 = 1,800 mg twice daily on days 1-14, 28 doses; its antiemetics
    # (dexamethasone day 1 and days 2-3, ondansetron before and after oxaliplatin) are not ordered either: 5 in all
    result = runner.invoke(cli, ["verify", "capox", "--bsa", "1.8", "--order", "oxaliplatin@1=234mg over 2h"])
    assert result.exit_code == 1
    assert "- capecitabine, cycle 1, days 1–14, 28 doses: 1,800 mg (" in result.output
    assert "- dexamethasone-days-2-3, cycle 1, days 2–3, 2 doses: 8 mg (" in result.output
    assert "5 drugs of the protocol not ordered" in result.output


def test_orderable_counts_a_pump_once_per_cycle() -> None:
    entries = orderable(plan(cycles=2))
    assert [(e.cycle, e.component, e.dose) for e in entries if e.component == "fluorouracil-pump"] == [
        (1, "fluorouracil-pump", 4320),
        (2, "fluorouracil-pump", 4320),
    ]


# ---- every bundled regimen --------------------------------------------------------------------------------------

VALUES = {"weight": "70", "bsa": "1.8", "age": "45", "height": "175", "sex": "female", "scr": "1"}


@pytest.mark.parametrize("regimen_id", BUNDLED_IDS)
def test_orders_as_the_plan_gives_them_verify_and_ten_percent_more_does_not(regimen_id: str) -> None:
    reg = regimen.load(regimen_id)
    cycle_length = 21 if regimen_id.startswith("cen") else None
    plan_ = regimen.expand(
        reg, regimen.make_patient(**VALUES), cycles=None if reg.phased else 1, cycle_length=cycle_length
    )
    entries = [e for e in orderable(plan_) if e.cycle == 1]

    def orders(scale: Fraction) -> list[Order]:
        return [
            Order(e.component, Quantity(e.dose * scale, e.unit), f"o{n}", cycle=1, day=e.day, duration_hours=e.hours)
            for n, e in enumerate(entries)
        ]

    exact = verify(plan_, orders(Fraction(1)))
    assert exact.ok, [c.problems for c in exact.checks if not c.ok]
    over = verify(plan_, orders(Fraction(110, 100)))
    assert [c.verdict for c in over.checks] == ["outside"] * len(entries)
    assert all(c.percent == 10 for c in over.checks)


def test_a_dose_of_an_undecided_rule_says_so() -> None:
    plan_ = regimen.expand(regimen.load("cenersen-arm3"), regimen.make_patient(weight="70", bsa="1.8"))
    c = verify(plan_, orders_from_texts(["cytarabine@5=1800mg"])).checks[0]
    assert c.verdict == "within"  # 1 g/m²/day × 1.8 m² = 1,800 mg, on day 5 only when age ≤ 60
    assert c.problems == (
        "the protocol gives this dose only if age ≤ 60 years: the plan was made without the patient value the rule "
        "needs",
    )


@pytest.mark.parametrize(
    ("dose", "message"),
    [
        ({"value": "abc", "unit": "mg"}, "'abc' is not a number"),
        ({"value": -5, "unit": "mg"}, "give a positive amount"),
        ({"value": "INFINITY", "unit": "mg"}, "is not a finite number"),  # 1e400 in the JSON, below
        ({"value": 5}, "the Quantity has no unit"),
        ({"value": True, "unit": "mg"}, "a Quantity with a value and a unit"),
    ],
)
def test_a_hostile_fhir_dose_is_one_line_refusal(dose: dict[str, Any], message: str) -> None:
    data = bundle()
    data["entry"][0]["resource"]["dosageInstruction"][0]["doseAndRate"][0]["doseQuantity"] = dose
    client = TestClient(create_app(), base_url="http://127.0.0.1")
    body = json.dumps({"regimen": "mfolfox6", "bsa": "1.8", "bundle": data}).replace('"INFINITY"', "1e400")
    answer = client.post("/api/verify", content=body, headers={"content-type": "application/json"})
    assert answer.status_code == 400 and message in answer.json()["error"], answer.json()


def test_output_to_a_file_keeps_the_exit_status(tmp_path: Path, runner: CliRunner) -> None:
    out = tmp_path / "check.json"
    result = run(runner, "--order", "oxaliplatin@1=168mg over 2h", "-o", str(out))
    assert result.exit_code == 1  # outside, and the rest of the cycle not ordered: 3 drugs and the antiemetics
    answer = json.loads(out.read_text())
    assert answer["ok"] is False and [m["component"] for m in answer["missing"]] == [
        "ondansetron",
        "dexamethasone",
        "leucovorin",
        "fluorouracil-bolus",
        "fluorouracil-pump",
        "dexamethasone-days-2-3",  # the plan's order: day 1's doses, then its days 2 and 3 (one line)
    ]
    assert f"{out}: written (json)" in result.output


def test_an_order_whose_dose_depends_on_a_value_not_given_says_which_and_what_settles_it() -> None:
    """CAPOX at 1.8 m², 70 kg, age 70, creatinine 1.3 mg/dL, no sex: capecitabine is 1,350 mg a dose if female
    (44.5 mL/min, 75 %) and 1,800 mg if male (52.35 mL/min). An order for day 1 was refused with "capecitabine has
    different doses on different days: give the day", though it gave the day; the drugs not ordered lumped both
    outcomes into one line at the first one's dose. In every format, the option is named as the command's: the
    problems carried the library's raw marker for it (an ASCII unit separator) into the output."""
    args = ["verify", "capox", "--bsa", "1.8", "--weight", "70", "--age", "70", "--scr", "1.3"]
    result = CliRunner().invoke(cli, [*args, "--order", "capecitabine@1=1800mg"])
    assert result.exit_code == 1
    out = result.stdout
    assert (
        "PROBLEM: capecitabine's dose on day 1 depends on a value the plan was made without (sex female: 1,350 mg; "
        "sex male: 1,800 mg): give --sex"
    ) in out
    assert "- capecitabine, cycle 1, days 1–14, 28 doses (only if sex female): 1,350 mg (" in out
    assert "- capecitabine, cycle 1, days 1–14, 28 doses (only if sex male): 1,800 mg (" in out
    for fmt in ("table", "json", "csv"):
        written = CliRunner().invoke(cli, [*args, "--order", "capecitabine@1=1800mg", "--format", fmt]).stdout
        assert "\x1f" not in written and "give --sex" in written, fmt


def test_an_order_of_a_drug_the_patients_plan_leaves_out_says_why() -> None:
    """CAPOX at 70 years, 70 kg, 2.5 mg/dL (a man): 70 × 70 / (72 × 2.5) = 27.22 mL/min, below 30, where
    capecitabine is contraindicated: the plan leaves it out. An order of it said 'capecitabine is not a drug of
    capox', which reads as a typing slip; it now says the plan leaves it out, and why. A drug of no component is
    still 'not a drug of'."""
    patient = ["--bsa", "1.8", "--weight", "70", "--age", "70", "--sex", "male", "--scr", "2.5"]
    result = CliRunner().invoke(cli, ["verify", "capox", *patient, "--order", "capecitabine@1=1800mg"])
    assert result.exit_code != 0
    assert (
        "PROBLEM: capecitabine is a drug of capox that this patient's plan leaves out: capecitabine left out of the "
        "plan: CrCl 27.22 mL/min (Cockcroft–Gault) is below 30 mL/min, where its source says contraindicated"
    ) in result.stdout
    other = CliRunner().invoke(cli, ["verify", "capox", *patient, "--order", "cisplatin@1=100mg"])
    assert "PROBLEM: cisplatin is not a drug of capox (its drugs: " in other.stdout
