"""A notebook-style walk through the Python API: one patient, one regimen, every number checked.

Run it from the repository: ``python examples/plan_for_one_patient.py``.
Research software: verify every dose against the protocol before use.
"""

from __future__ import annotations

import datetime as dt
from fractions import Fraction

import regimen
from regimen.quantities.exact import format_decimal

# 1. Load a bundled regimen by id (or a file by path) and print it in words.
reg = regimen.load("cenersen-arm3")
print(f"{reg.id}: {reg.name}  [{reg.citation}]")

# 2. Describe the patient. Strings may carry units; conversions are exact.
patient = regimen.make_patient(weight="154 lb", bsa="1.8", age="63")
print("Patient working:", "; ".join(patient.working))

# 3. Expand. Doses are exact fractions; the working text shows how each was computed.
plan = regimen.expand(reg, patient, start=dt.date(2026, 12, 1))
for row in plan.administrations:
    shown = format_decimal(plan.rounding(row.dose))  # round once, by the plan's stated rule; never via float
    print(f"C{row.cycle} D{row.day} {row.date} {row.drug:<11} {shown:>7} {row.dose_unit}  {row.calculation}")

# 4. Check one number by hand: idarubicin 12 mg/m²/day × 1.8 m² = 21.6 mg.
idarubicin = [r for r in plan.administrations if r.drug == "idarubicin"]
assert all(r.dose == Fraction("21.6") for r in idarubicin)

# 5. The age rule: older than 60 -> cytarabine on 3 days instead of 4.
assert [r.day for r in plan.administrations if r.drug == "cytarabine"] == [2, 3, 4]

# 6. Notes say what the source leaves unstated and which rules applied.
for note in plan.notes:
    print("note:", note)

# 7. The same plan as a pandas DataFrame, e.g. for a per-drug summary.
frame = plan.to_dataframe()
print(frame.groupby("drug")["dose"].sum())
