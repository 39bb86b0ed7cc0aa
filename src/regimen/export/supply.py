"""A supply forecast as text: the terminal table, CSV and JSON of :class:`regimen.engine.supply.SupplyForecast`."""

from __future__ import annotations

import csv
import io
from fractions import Fraction

from regimen.engine.rows import exact_text
from regimen.engine.supply import VIAL_RULE, SupplyForecast, json_number
from regimen.export.jsontext import indented_json
from regimen.export.spreadsheet import safe_record, safe_text
from regimen.export.table import columns
from regimen.quantities.exact import format_fraction


def vials_text(vials: dict[str, int] | None) -> str:
    """'3 × 20 mg + 3 × 5 mg' (largest vials first), or '' when there are none."""
    return " + ".join(f"{n:,} × {size}" for size, n in vials.items()) if vials else ""


def forecast_json(forecast: SupplyForecast) -> str:
    return indented_json(forecast.to_dict())


def forecast_csv(forecast: SupplyForecast) -> str:
    """One line per (scope, period, drug), then one per distinct dose (scope 'dose') with its vials."""
    out = io.StringIO()
    fields = [
        "scope",
        "period",
        "drug",
        "unit",
        "administrations",
        "amount",
        "amount_exact",
        "vial_unit",
        "vials",
        "vial_count",
        "vial_amount",
        "waste",
        "pumps",
    ]
    writer = csv.DictWriter(out, fieldnames=fields, lineterminator="\n")
    writer.writeheader()
    for rec in forecast.lines():
        rec = dict(rec)
        rec["vials"] = vials_text(rec["vials"])
        writer.writerow({k: "" if v is None else safe_text(v) for k, v in rec.items()})
    for rec in forecast.per_dose():
        writer.writerow(
            safe_record(
                {
                    "scope": "dose",
                    "period": rec["dose_exact"],
                    "drug": rec["drug"],
                    "unit": rec["unit"],
                    "administrations": rec["administrations"],
                    "amount": json_number(Fraction(rec["dose_exact"]) * rec["administrations"]),
                    "amount_exact": exact_text(Fraction(rec["dose_exact"]) * rec["administrations"]),
                    "vial_unit": "",
                    "vials": vials_text(rec["vials"]),
                    "vial_count": "",
                    "vial_amount": "" if rec["vial_amount"] is None else rec["vial_amount"],
                    "waste": "" if rec["waste"] is None else rec["waste"],
                }
            )
        )
    return out.getvalue()


def forecast_table(forecast: SupplyForecast) -> str:
    """The forecast for a terminal: a header with the counts and the formulary, one line per period and drug."""
    f = forecast
    head = [
        f"Supply forecast: {f.regimen_id}, patients in = expanded + rejected: {f.patients_in:,} = "
        f"{f.expanded:,} + {f.patients_in - f.expanded:,}",
        f.formulary_label(),
        VIAL_RULE,
        "",
    ]
    rows = []
    for rec in f.lines():
        unit = rec["unit"]
        vunit = rec["vial_unit"] or unit
        rows.append(
            [
                rec["period"] if rec["scope"] != "total" else "total",
                rec["drug"],
                f"{rec['administrations']:,}"
                + (f" ({rec['pumps']:,} pump{'' if rec['pumps'] == 1 else 's'})" if rec["pumps"] else ""),
                f"{format_fraction(Fraction(rec['amount_exact']))} {unit}",
                vials_text(rec["vials"]) or "not in formulary",
                "" if rec["vial_amount"] is None else f"{format_fraction(Fraction(str(rec['vial_amount'])))} {vunit}",
                "" if rec["waste"] is None else f"{format_fraction(Fraction(str(rec['waste'])))} {vunit}",
            ]
        )
    body = columns(["Period", "Drug", "Administrations", "Amount", "Vials", "Vial amount", "Waste"], rows)
    tail = [
        "",
        *(f"note: {n}" for n in [*f.notes, *f.missing_notes()]),
        "Vials per distinct dose: --format csv (scope 'dose') or --format json (per_dose).",
    ]
    return "\n".join([*head, *body, *tail]) + "\n"


__all__ = ["forecast_csv", "forecast_json", "forecast_table", "vials_text"]
