"""Pharmacometric event tables (issue 14, NONMEM part): every bundled regimen's plan as dosing records, checked
against the plan's exact numbers, read back by Pharmpy, and simulated through a one-compartment model whose
closed form is known."""

from __future__ import annotations

import math
from collections import defaultdict
from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from tests.conftest import BUNDLED_IDS

import regimen
from regimen.cli import cli
from regimen.export.events import plan_events, plan_events_csv

VALUES = {"weight": "70", "bsa": "1.8", "age": "45", "height": "175", "sex": "female", "scr": "1"}


def plan_of(regimen_id: str, **extra: object) -> regimen.Plan:
    reg = regimen.load(regimen_id)
    return regimen.expand(
        reg, regimen.make_patient(**VALUES), cycle_length=21 if regimen_id.startswith("cen") else None, **extra
    )


@pytest.mark.parametrize("regimen_id", BUNDLED_IDS)
def test_every_record_matches_the_plan_exactly(regimen_id: str) -> None:
    plan = plan_of(regimen_id)
    events = plan_events(plan)
    assert events
    # continuous infusions: one record each, AMT = RATE × DUR exactly, RATE the plan's own exact rate
    rates = {(r.component): r.rate for r in plan.administrations if r.infusion is not None}
    for e in events:
        assert e.amt == e.rate * e.dur if e.rate else e.dur == 0
        if e.rate and e.drug in {r.drug for r in plan.administrations if r.infusion is not None}:
            assert e.rate in set(rates.values())
    # TIME never goes back, starts at 0
    times = [e.time for e in events]
    assert times == sorted(times) and times[0] == 0
    # every mg the plan gives is in the table, per drug
    given: dict[str, Fraction] = defaultdict(Fraction)
    for r in plan.administrations:
        given[r.drug] += r.dose / 1000 if r.dose_unit == "mcg" else r.dose
    table: dict[str, Fraction] = defaultdict(Fraction)
    for e in events:
        table[e.drug] += e.amt
    assert table == given


def test_cenersen_arm3_by_hand() -> None:
    """0.1 mg/kg/h × 70 kg = 7 mg/h over 96 h = 672 mg at TIME 0; idarubicin 21.6 mg at 24, 48, 72 h."""
    text = plan_events_csv(plan_of("cenersen-arm3"))
    lines = text.splitlines()
    assert lines[0] == "ID,TIME,AMT,RATE,DUR,EVID,MDV,DV,CMT,WT,BSA,AGE"
    assert lines[1] == "1,0,672,7,96,1,1,.,1,70,1.8,45"
    assert "1,24,21.6,0,0,1,1,.,2,70,1.8,45" in lines and "1,72,21.6,0,0,1,1,.,2,70,1.8,45" in lines


def test_times_are_elapsed_hours_with_a_time_of_day_across_a_dst_change() -> None:
    """With --time the records use the plan's instants: a 96 h infusion over the Berlin spring change still starts
    the next drug 24 elapsed hours later on day 2 minus the lost hour (08:00 wall clock)."""
    import datetime as dt

    plan = plan_of("cenersen-arm3", start=dt.date(2026, 3, 28), time=dt.time(8, 0), tz="Europe/Berlin")
    times = sorted({e.time for e in plan_events(plan)})
    assert times[:3] == [0, 23, 47]  # 29 March has 23 hours in Berlin


def test_pharmpy_reads_the_table_back(tmp_path: Path) -> None:
    from pharmpy.model import DataInfo
    from pharmpy.modeling import read_dataset_from_datainfo

    path = tmp_path / "plan.nonmem.csv"
    result = CliRunner().invoke(cli, ["expand", "cenersen-arm3", *_args(), "-o", str(path)])
    assert result.exit_code == 0, result.output
    info = DataInfo.create(
        ["ID", "TIME", "AMT", "RATE", "DUR", "EVID", "MDV", "DV", "CMT", "WT", "BSA", "AGE"], path=str(path)
    )
    frame = read_dataset_from_datainfo(info, datatype="nonmem")
    ours = [e for e in plan_events(plan_of("cenersen-arm3"))]
    assert len(frame) == len(ours)
    assert np.allclose(frame["AMT"].to_numpy(), [float(e.amt) for e in ours])
    assert np.allclose(frame["RATE"].to_numpy(), [float(e.rate) for e in ours])
    assert np.allclose(frame["TIME"].to_numpy(), [float(e.time) for e in ours])
    described = Path(f"{path}.txt").read_text(encoding="utf-8")
    assert "CMT 1 = cenersen (AMT in mg, RATE in mg/h)" in described and "written as given at once" in described


def _args() -> list[str]:
    return [a for k, v in VALUES.items() for a in (f"--{k}", v)]


def test_a_one_compartment_simulation_of_the_table_matches_the_closed_form() -> None:
    """cenersen 7 mg/h for 96 h into V = 70 L, CL = 14 L/h (k = 0.2/h): C(t) = R/CL (1 - e^(-kt)) during the
    infusion, steady state R/CL = 0.5 mg/L, then e^(-k(t-96)) decay. The ODE integrates the table's records."""
    from scipy.integrate import solve_ivp  # here, not at import: a second of every collection

    infusions = [e for e in plan_events(plan_of("cenersen-arm3")) if e.cmt == 1]
    volume, clearance = 70.0, 14.0
    k = clearance / volume

    def inflow(t: float) -> float:
        return sum(float(e.rate) for e in infusions if float(e.time) <= t < float(e.time + e.dur))

    solution = solve_ivp(
        lambda t, a: [inflow(t) - k * a[0]], (0, 120), [0.0], t_eval=[24, 48, 95.9, 120], max_step=0.05, rtol=1e-8
    )
    concentration = solution.y[0] / volume
    rate = 7.0
    closed = [rate / clearance * (1 - math.exp(-k * t)) for t in (24, 48, 95.9)]
    closed.append(rate / clearance * (1 - math.exp(-k * 96)) * math.exp(-k * 24))
    assert np.allclose(concentration, closed, rtol=1e-4)
    assert abs(concentration[2] - rate / clearance) < 1e-6  # steady state = rate / CL


def test_a_plan_that_depends_on_a_missing_value_is_refused_in_one_line() -> None:
    result = CliRunner().invoke(
        cli, ["expand", "cenersen-arm3", "--weight", "70", "--bsa", "1.8", "--format", "nonmem"]
    )
    assert result.exit_code == 1
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "an event table needs one plan" in lines[0] and lines[0].endswith("give --age")
    # a plan whose renal doses depend on the sex not given names --sex, not --age
    args = ["expand", "capox", "--weight", "70", "--bsa", "1.8", "--age", "70", "--scr", "1.3", "--format", "nonmem"]
    by_sex = CliRunner().invoke(cli, args)
    assert by_sex.exit_code == 1 and by_sex.stderr.strip().endswith("(sex female): give --sex")


def test_a_cohort_event_table(tmp_path: Path) -> None:
    roster = tmp_path / "r.csv"
    roster.write_text("patient_id,weight_kg,bsa_m2,age\nP1,70,1.8,45\nP2,154 lb,2,70\nP3,x,1,1\n")
    out = tmp_path / "c.nonmem.csv"
    result = CliRunner().invoke(cli, ["cohort", "cenersen-arm3", str(roster), "-o", str(out), "--allow-rejected"])
    assert result.exit_code == 0, result.output
    lines = out.read_text().splitlines()
    ids = [int(line.split(",")[0]) for line in lines[1:]]
    assert ids == sorted(ids) and set(ids) == {1, 2}
    for i in (1, 2):  # TIME monotone per ID
        times = [float(line.split(",")[1]) for line in lines[1:] if line.startswith(f"{i},")]
        assert times == sorted(times)
    # P2: 154 lb = 69.85322498 kg; the infusion 0.1 mg/kg/h × 96 h, and cytarabine 3 days (older than 60)
    assert "2,0,670.590959808,6.985322498,96,1,1,.,1,69.85322498,2,70" in lines
    assert sum(1 for line in lines if line.startswith("2,") and line.split(",")[8] == "3") == 3
    assert "ID = patient_id: 1 = P1, 2 = P2" in Path(f"{out}.txt").read_text()
    assert "P3" in (tmp_path / "c.nonmem.errors.csv").read_text()


# ---- issue 30: DV and MDV, observation records, AMT = RATE × DUR in the written text, Pharmpy as it is ----------


def _records(text: str) -> list[dict[str, str]]:
    import csv
    import io

    return list(csv.DictReader(io.StringIO(text)))


@pytest.mark.parametrize("regimen_id", BUNDLED_IDS)
def test_amt_is_rate_times_dur_in_the_written_text(regimen_id: str) -> None:
    """Every record's AMT equals RATE × DUR as the digits are written (Decimal arithmetic on the text), and the
    written AMTs add up to the plan's exact doses per drug."""
    from decimal import Decimal

    plan = plan_of(regimen_id)
    records = _records(plan_events_csv(plan))
    cmts = {e.cmt: e.drug for e in plan_events(plan)}
    table: dict[str, Fraction] = defaultdict(Fraction)
    for r in records:
        amt, rate, dur = Decimal(r["AMT"]), Decimal(r["RATE"]), Decimal(r["DUR"])
        if rate:
            assert amt == rate * dur, r
        assert (r["EVID"], r["MDV"], r["DV"]) == ("1", "1", ".")
        table[cmts[int(r["CMT"])]] += Fraction(amt)
    given: dict[str, Fraction] = defaultdict(Fraction)
    for a in plan.administrations:
        given[a.drug] += a.dose / 1000 if a.dose_unit == "mcg" else a.dose
    assert table == given


def test_mfolfox6_pump_is_written_as_two_exact_records() -> None:
    """2400 mg/m² × 1.8 m² = 4320 mg over 46 h = 93.913043478260869… mg/h, which has no exact decimal (issue 30:
    the old single record missed by 1.8e-9 mg). By hand: 45 h × 93.913043478 mg/h = 4226.08695651 mg, and the last
    hour carries 4320 − 4226.08695651 = 93.91304349 mg at 93.91304349 mg/h."""
    lines = plan_events_csv(plan_of("mfolfox6", cycles=1)).splitlines()
    # compartments are numbered in the plan's order of first dose: ondansetron 1 and dexamethasone 2 (the antiemetics,
    # an hour before oxaliplatin), oxaliplatin 3, leucovorin 4, fluorouracil 5 (bolus and pump)
    # by hand at 1.8 m²: the antiemetics 8 mg each, oxaliplatin 85 × 1.8 = 153 mg over 2 h (76.5 mg/h), leucovorin
    # 400 × 1.8 = 720 mg over 2 h (360 mg/h), the fluorouracil bolus 400 × 1.8 = 720 mg at once
    assert lines[1:6] == [
        "1,0,8,0,0,1,1,.,1,70,1.8,45",
        "1,0,8,0,0,1,1,.,2,70,1.8,45",
        "1,0,153,76.5,2,1,1,.,3,70,1.8,45",
        "1,0,720,360,2,1,1,.,4,70,1.8,45",
        "1,0,720,0,0,1,1,.,5,70,1.8,45",
    ]
    pump = [line for line in lines[1:] if line.split(",")[8] == "5" and line.split(",")[3] != "0"]
    assert pump == [
        "1,0,4226.08695651,93.913043478,45,1,1,.,5,70,1.8,45",
        "1,45,93.91304349,93.91304349,1,1,1,.,5,70,1.8,45",
    ]


def test_observation_records_from_a_sampling_schedule(runner: CliRunner) -> None:
    args = ["expand", "gemcitabine-d1-8-15", "--bsa", "1.8", "--cycles", "1", "--format", "nonmem"]
    result = runner.invoke(cli, [*args, "--samples", "0.25,0.5,1,2,168"])
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    # gemcitabine 1000 mg/m² × 1.8 = 1800 mg over 30 min = 3600 mg/h on days 1, 8, 15 (hours 0, 168, 336), in CMT 2:
    # CMT 1 is its antiemetic, dexamethasone 8 mg at once an hour before it (first in the plan); the samples go to
    # the anticancer drug's compartment; the sample at 168 h comes before the doses at 168 h (a trough)
    assert lines[1:] == [
        "1,0,8,0,0,1,1,.,1,.,1.8,.",
        "1,0,1800,3600,0.5,1,1,.,2,.,1.8,.",
        "1,0.25,0,0,0,0,0,.,2,.,1.8,.",
        "1,0.5,0,0,0,0,0,.,2,.,1.8,.",
        "1,1,0,0,0,0,0,.,2,.,1.8,.",
        "1,2,0,0,0,0,0,.,2,.,1.8,.",
        "1,168,0,0,0,0,0,.,2,.,1.8,.",
        "1,168,8,0,0,1,1,.,1,.,1.8,.",
        "1,168,1800,3600,0.5,1,1,.,2,.,1.8,.",
        "1,336,8,0,0,1,1,.,1,.,1.8,.",
        "1,336,1800,3600,0.5,1,1,.,2,.,1.8,.",
    ]
    assert "Observation records (EVID 0) in CMT 2 (gemcitabine) at hours 0.25, 0.5, 1, 2, 168" in result.stderr
    for bad, message in (
        ("1,two", "sampling time 'two' in --samples is not a number of hours"),
        ("-1", "sampling time '-1' in --samples must be from 0"),
        (
            "cisplatin:1",
            "--samples names 'cisplatin', which this plan does not give (it gives dexamethasone, gemcitabine)",
        ),
    ):
        refused = runner.invoke(cli, [*args, "--samples", bad])
        assert refused.exit_code == 1 and message in refused.stderr, refused.output
    alone = runner.invoke(cli, ["expand", "gemcitabine-d1-8-15", "--bsa", "1.8", "--samples", "1"])
    assert alone.exit_code == 1 and "add --format nonmem" in alone.stderr


def test_pharmpy_builds_a_basic_pk_model_from_the_table_as_written_and_it_simulates(
    tmp_path: Path, runner: CliRunner
) -> None:
    """create_basic_pk_model reads the file with no DataInfo: ID, TIME, AMT, RATE, EVID, MDV and DV are recognised,
    the dose an infusion at RATE. The one edit is the analyst's: the table also doses the antiemetic (dexamethasone,
    CMT 1, issue 27), which a one-drug model does not take, so only gemcitabine's compartment (CMT 2, where the
    samples are) is kept, numbered 1. The model's own ODE system, with its initial CL and V (changed to
    CL = 10 L/h, V = 50 L), is integrated over the dataset Pharmpy read, and its IPRED at the observation records
    matches the closed form of a 30-min infusion of 1800 mg (k = 0.2/h)."""
    import sympy
    from pharmpy.modeling import create_basic_pk_model, set_initial_estimates
    from scipy.integrate import solve_ivp  # here, not at import: a second of every collection

    path = tmp_path / "gem.nonmem.csv"
    times = [0.25, 0.5, 1, 2, 4, 8]
    result = runner.invoke(
        cli,
        [
            "expand",
            "gemcitabine-d1-8-15",
            "--bsa",
            "1.8",
            "--cycles",
            "1",
            "-o",
            str(path),
            "--samples",
            "0.25,0.5,1,2,4,8",
        ],
    )
    assert result.exit_code == 0, result.output
    head, *records = path.read_text(encoding="utf-8").splitlines()
    cmt = head.split(",").index("CMT")
    kept = [r.split(",") for r in records if r.split(",")[cmt] == "2"]
    assert len(kept) == 9 and len(records) == 12  # 3 gemcitabine doses + 6 samples; 3 dexamethasone doses dropped
    path.write_text("\n".join([head, *(",".join([*r[:cmt], "1", *r[cmt + 1 :]]) for r in kept)]) + "\n", "utf-8")
    model = create_basic_pk_model("iv", dataset_path=path)
    model = set_initial_estimates(model, {"POP_CL": 10, "POP_VC": 50})
    di = model.datainfo
    assert (di.id_column.name, di.idv_column.name, di.dv_column.name) == ("ID", "TIME", "DV")
    assert {c.name for c in di.typeix["dose"]} == {"AMT"} and "RATE" in di.typeix["rate"].names
    dose = model.statements.ode_system.find_compartment("CENTRAL").doses[0]
    assert type(dose).__name__ == "Infusion" and str(dose.rate) == "RATE"
    data = model.dataset
    assert list(data["MDV"]) == [1, 0, 0, 0, 0, 0, 0, 1, 1] and list(data["EVID"])[:2] == [1, 0]
    # the model's elimination rate CL/V from its own statements and parameters
    inits = {sympy.Symbol(k): v for k, v in model.parameters.inits.items()}
    cl = float(sympy.sympify(model.statements.find_assignment("CL").expression).subs(inits).subs({"ETA_CL": 0}))
    vc = float(sympy.sympify(model.statements.find_assignment("VC").expression).subs(inits).subs({"ETA_VC": 0}))
    k = cl / vc
    doses = data[data["EVID"] == 1]

    def inflow(t: float) -> float:
        return sum(float(r.RATE) for r in doses.itertuples() if r.TIME <= t < r.TIME + r.AMT / r.RATE)

    solution = solve_ivp(lambda t, a: [inflow(t) - k * a[0]], (0, 8), [0.0], t_eval=times, max_step=0.01, rtol=1e-9)
    ipred = solution.y[0] / vc
    rate, tinf = 3600.0, 0.5
    closed = [rate / cl * (1 - math.exp(-k * min(t, tinf))) * math.exp(-k * max(0.0, t - tinf)) for t in times]
    assert np.allclose(ipred, closed, rtol=1e-4)
    # by hand, at the end of the infusion: R/CL × (1 − e^(−k × 0.5 h)) = 360 mg/L × (1 − e^(−0.1)) = 34.2585 mg/L
    assert ipred[1] == pytest.approx(34.2585, abs=1e-3)
