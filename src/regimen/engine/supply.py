"""Supply forecasts: how much of each drug a cohort needs, and how many vials of which size, when.

Vials are single-use: each administration is made up from whole vials and what is left over is waste. A
continuous infusion that runs across days is one administration (one pump or bag, prepared whole): its vials are
counted for its whole amount, never per day (issue 24).
For each administration the vial combination is chosen by this rule (exact arithmetic):

1. the least waste (the smallest total vial amount that covers the exact dose);
2. among those, the fewest vials;
3. among those, the one using more of the larger vials.

Example: idarubicin 21.6 mg with 5 mg and 20 mg vials -> 20 mg + 5 mg = 25 mg, waste 3.4 mg.
Doses are the exact amounts (not the 4-significant-figure display), so a vial count never falls
short of a dose. Drugs that are not in the formulary are reported, never guessed: their amounts are
totalled and their vials are left blank.

Totals are given for the whole cohort, per cycle, and per ISO calendar week of administration when the
roster has start dates. Aggregation is over distinct doses, so it is cheap however large the cohort.
"""

from __future__ import annotations

import datetime as dt
import math
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from fractions import Fraction
from typing import TYPE_CHECKING, Any

from regimen.clinical.formulary import DrugStock, Formulary, example_path
from regimen.clinical.rounding import check_vial_steps
from regimen.engine.plan import exact_sum
from regimen.engine.rows import exact_text
from regimen.errors import RegimenError
from regimen.quantities.exact import decimal_to_json, exact_decimal, format_fraction

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd

VIAL_RULE = (
    "Single-use vials; per administration the combination with the least waste is used, then the fewest "
    "vials, then the larger vials; doses are the exact amounts."
)
#: Exact factor from a dose unit to a formulary unit.
_MASS = {"mcg": Fraction(1, 1000), "mg": Fraction(1), "g": Fraction(1000)}


class SupplyError(RegimenError):
    """A supply forecast that cannot be made (incompatible units, a formulary that cannot be used)."""


class VialPacker:
    """Chooses vial combinations for one drug's vial sizes (exact; see the module rule)."""

    def __init__(self, sizes: Sequence[Fraction], unit: str = "", drug: str = "") -> None:
        if not sizes or any(s <= 0 for s in sizes):
            raise SupplyError("vial sizes must be positive amounts: check the formulary")
        self.sizes = tuple(sorted(set(sizes)))  # ascending
        denominator = math.lcm(*(s.denominator for s in self.sizes))
        ints = [int(s * denominator) for s in self.sizes]
        self._unit = Fraction(math.gcd(*ints), denominator)  # every total is a multiple of this
        self._steps = [int(s / self._unit) for s in self.sizes]
        self._count: list[int] = [0]  # fewest vials making exactly t units; -1 = impossible
        self._last: list[int] = [-1]  # index of the size added last on that best path
        self._memo: dict[Fraction, tuple[int, ...]] = {}
        self._unit_name, self._drug = unit, drug

    def _grow(self, upto: int) -> None:
        count, last, steps = self._count, self._last, self._steps
        for t in range(len(count), upto + 1):
            best, pick = -1, -1
            for i in range(len(steps) - 1, -1, -1):  # larger sizes first: ties keep the larger vial
                prev = t - steps[i]
                if prev >= 0 and count[prev] >= 0 and (best < 0 or count[prev] + 1 < best):
                    best, pick = count[prev] + 1, i
            count.append(best)
            last.append(pick)

    def pack(self, dose: Fraction) -> tuple[int, ...]:
        """Vials of each size (ascending sizes) for one administration of ``dose``."""
        hit = self._memo.get(dose)
        if hit is not None:
            return hit
        if dose <= 0:
            return tuple(0 for _ in self.sizes)
        need = math.ceil(dose / self._unit)
        # the least-waste total lies below need + the largest vial (else one vial could be dropped)
        check_vial_steps(
            need + self._steps[-1],
            dose,
            self._unit_name,
            self.sizes,
            f"give {self._drug or 'the drug'} larger vial sizes in the formulary (or leave it out to total the amount)",
        )
        self._grow(need + self._steps[-1])
        t = next(t for t in range(need, need + self._steps[-1] + 1) if self._count[t] >= 0)
        counts = [0] * len(self.sizes)
        while t > 0:
            i = self._last[t]
            counts[i] += 1
            t -= self._steps[i]
        out = tuple(counts)
        self._memo[dose] = out
        return out

    def amount(self, counts: Sequence[int]) -> Fraction:
        return sum((n * s for n, s in zip(counts, self.sizes, strict=True)), Fraction(0))


@dataclass
class _Line:
    """One drug in one period: administrations, exact amount and vials."""

    administrations: int = 0
    amount: Fraction = Fraction(0)
    vials: list[int] | None = None


@dataclass
class SupplyForecast:
    """Accumulates cohort rows (chunk by chunk) into per-drug totals by period."""

    formulary: Formulary
    regimen_id: str = ""
    patients_in: int = 0
    expanded: int = 0
    notes: list[str] = field(default_factory=list)
    _counts: dict[tuple[str, str, str, str, str], int] = field(default_factory=lambda: defaultdict(int))
    #: of those administrations, the continuous infusions (pumps), by (scope, period, drug)
    _pumps: dict[tuple[str, str, str], int] = field(default_factory=lambda: defaultdict(int))
    _packers: dict[str, VialPacker | None] = field(default_factory=dict)
    _stock_unit: dict[str, str] = field(default_factory=dict)
    _has_dates: bool = False

    def write(self, rows: pd.DataFrame, part: int = 0) -> None:
        """A sink of a cohort run (:func:`regimen.engine.cohort.run`): each part's rows are added."""
        self.add(rows)

    def add(self, rows: pd.DataFrame) -> None:
        """Add cohort rows (columns of :data:`regimen.engine.cohort.OUTPUT_COLUMNS`)."""
        if rows.empty:
            return
        import pandas as pd

        # what is prepared: a continuous infusion's day shares are one pump, its vials counted for the whole (issue 24)
        rows = preparation_frame(rows)

        # cycle labels per distinct (phase, cycle): 'cycle 2', or 'maintenance cycle 2' for phased regimens
        pair_codes, pairs = pd.factorize(pd.MultiIndex.from_arrays([rows["phase"], rows["cycle"]]))
        labels = [f"cycle {c}" if ph == "main" else f"{ph} cycle {c}" for ph, c in pairs]
        frame = pd.DataFrame(
            {
                "drug": rows["drug"].astype(object).to_numpy(),
                "unit": rows["dose_unit"].astype(object).to_numpy(),
                "dose": rows["dose_exact"].astype(object).to_numpy(),
                "cycle": pd.Series(labels, dtype=object).to_numpy()[pair_codes],
                "pump": (rows["method"] == "continuous infusion").to_numpy() if "method" in rows.columns else False,
            }
        )
        dates = rows["date"]
        if dates.notna().any():
            self._has_dates = True
            codes, uniques = pd.factorize(dates, use_na_sentinel=True)
            weeks = [_iso_week(pd.Timestamp(u).date()) for u in uniques] + ["undated"]
            frame["week"] = pd.Series(weeks, dtype=object).to_numpy()[codes]
        else:
            frame["week"] = "undated"
        keys = ["drug", "unit", "dose", "pump"]
        for scope, period in (("total", None), ("cycle", "cycle"), ("week", "week")):
            grouped = frame.groupby([*keys, period] if period else keys, sort=False, observed=True).size()
            for key, n in grouped.items():
                drug, unit, dose, pump = key[:4]
                label = "all" if period is None else key[4]
                self._counts[(scope, label, drug, unit, dose)] += int(n)
                if pump:
                    self._pumps[(scope, label, drug)] += int(n)

    def _packer(self, drug: str, unit: str) -> tuple[VialPacker | None, Fraction]:
        stock: DrugStock | None = self.formulary.stock(drug)
        if stock is None:
            return None, Fraction(1)
        if unit not in _MASS or stock.unit not in _MASS:
            raise SupplyError(f"{drug}: dose unit {unit} cannot be matched to vials in {stock.unit}")
        if drug not in self._packers:
            self._packers[drug] = VialPacker(stock.vials, stock.unit, drug)
            self._stock_unit[drug] = stock.unit
        return self._packers[drug], _MASS[unit] / _MASS[stock.unit]

    def missing(self) -> list[str]:
        drugs = sorted({k[2] for k in self._counts})
        return [d for d in drugs if self.formulary.stock(d) is None]

    def lines(self) -> list[dict[str, Any]]:
        """One record per (scope, period, drug): totals, then cycles, then weeks (when dated)."""
        table: dict[tuple[str, str, str, str], _Line] = {}
        for (scope, period, drug, unit, dose_text), n in self._counts.items():
            if scope == "week" and not self._has_dates:
                continue
            dose = Fraction(dose_text)
            line = table.setdefault((scope, period, drug, unit), _Line())
            line.administrations += n
            line.amount += n * dose
            packer, factor = self._packer(drug, unit)
            if packer is not None:
                counts = packer.pack(dose * factor)
                line.vials = [a + n * b for a, b in zip(line.vials or [0] * len(counts), counts, strict=True)]
        # totals, then cycles in plan order, then weeks in date order ('undated' last); drugs in plan order
        order = {"total": 0, "cycle": 1, "week": 2}
        first_seen = {k: i for i, k in enumerate(dict.fromkeys((k[1], k[2]) for k in table))}
        drugs = {d: i for i, d in enumerate(dict.fromkeys(k[2] for k in table))}

        def sort_key(key: tuple[str, str, str, str]) -> tuple[Any, ...]:
            scope, period, drug, _ = key
            where: Any = (period == "undated", period) if scope == "week" else first_seen[(period, drug)]
            return (order[scope], where, drugs[drug])

        out: list[dict[str, Any]] = []
        for (scope, period, drug, unit), line in sorted(table.items(), key=lambda kv: sort_key(kv[0])):
            packer = self._packers.get(drug)
            rec: dict[str, Any] = {
                "scope": scope,
                "period": period,
                "drug": drug,
                "unit": unit,
                "administrations": line.administrations,
                "pumps": self._pumps.get((scope, period, drug), 0),  # continuous infusions among them, each whole
                "amount": json_number(line.amount),
                "amount_exact": exact_text(line.amount),
                "vial_unit": None,
                "vials": None,
                "vial_count": None,
                "vial_amount": None,
                "waste": None,
            }
            if packer is not None and line.vials is not None:
                vunit = self._stock_unit[drug]
                factor = _MASS[unit] / _MASS[vunit]
                vial_amount = packer.amount(line.vials)
                rec.update(
                    vial_unit=vunit,
                    vials={
                        f"{format_fraction(s)} {vunit}": c
                        for s, c in zip(reversed(packer.sizes), reversed(line.vials), strict=True)
                        if c
                    },
                    vial_count=sum(line.vials),
                    vial_amount=json_number(vial_amount),
                    waste=json_number(vial_amount - line.amount * factor),
                )
            out.append(rec)
        return out

    def per_dose(self) -> list[dict[str, Any]]:
        """The vial combination for each distinct administered dose (the per-administration rule at work)."""
        seen: dict[tuple[str, str, str], int] = defaultdict(int)
        for (scope, _period, drug, unit, dose), n in self._counts.items():
            if scope == "total":
                seen[(drug, unit, dose)] += n
        out: list[dict[str, Any]] = []
        for (drug, unit, dose_text), n in sorted(seen.items(), key=lambda kv: (kv[0][0], Fraction(kv[0][2]))):
            packer, factor = self._packer(drug, unit)
            rec: dict[str, Any] = {
                "drug": drug,
                "dose": json_number(Fraction(dose_text)),
                "dose_exact": dose_text,
                "unit": unit,
                "administrations": n,
                "vials": None,
                "vial_amount": None,
                "waste": None,
            }
            if packer is not None:
                counts = packer.pack(Fraction(dose_text) * factor)
                vunit = self._stock_unit[drug]
                amount = packer.amount(counts)
                rec.update(
                    vials={
                        f"{format_fraction(s)} {vunit}": c
                        for s, c in zip(reversed(packer.sizes), reversed(counts), strict=True)
                        if c
                    },
                    vial_amount=json_number(amount),
                    waste=json_number(amount - Fraction(dose_text) * factor),
                )
            out.append(rec)
        return out

    # ---- what the outputs show (their text: regimen.export.supply) -----------------------------------
    def formulary_label(self) -> str:
        f = self.formulary
        example = f.path is not None and str(f.path) == str(example_path())
        label = f"formulary {f.name!r}" + (f" ({f.status})" if f.status else "")
        if example:
            label = "EXAMPLE " + label + ": vial sizes differ by market; pass --formulary FILE with your own"
        return label

    def to_dict(self) -> dict[str, Any]:
        return {
            "regimen": self.regimen_id,
            "patients": {
                "in": self.patients_in,
                "expanded": self.expanded,
                "rejected": self.patients_in - self.expanded,
            },
            "formulary": {
                "name": self.formulary.name,
                "status": self.formulary.status,
                "file": self.formulary.path,
                "label": self.formulary_label(),
            },
            "vial_rule": VIAL_RULE,
            "missing_from_formulary": self.missing(),
            "lines": self.lines(),
            "per_dose": self.per_dose(),
            "notes": [*self.notes, *self.missing_notes()],
        }

    def missing_notes(self) -> list[str]:
        """A note for each drug not in the formulary."""
        return [
            f"{d}: not in the formulary; amount totalled, vials not counted (add it with its vial sizes)"
            for d in self.missing()
        ]


def preparation_frame(rows: pd.DataFrame) -> pd.DataFrame:
    """A frame of rows (a cohort's, columns of the row schema) with each continuous infusion's day shares made one
    row: its first day's, with the whole amount in ``dose_exact`` (exact) and ``dose``, and its hours in
    ``duration_h``. A frame without infusion columns, or without infusions, is returned as it is. The frame twin
    of :func:`preparations`, for what a cohort's supply counts."""
    if "infusion_day" not in rows.columns or not rows["infusion_day"].notna().any():
        return rows
    import pandas as pd

    shares = rows["infusion_day"].notna().to_numpy()
    plain, pumps = rows[~shares], rows[shares]
    keys = [c for c in ("patient_id", "phase", "cycle", "component", "condition") if c in pumps.columns]
    first_day = (pumps["course_day"] - pumps["infusion_day"].astype("int64") + 1).rename("_first_day")
    frame = pumps.assign(_first_day=first_day.to_numpy(), _order=range(len(pumps)))
    group_keys = [*keys, "_first_day"]
    exact: dict[str, Fraction] = {}

    def total(doses: pd.Series) -> str:
        values = [exact.setdefault(d, Fraction(d)) for d in doses]
        return exact_text(exact_sum(values))

    sums = frame.groupby(group_keys, sort=False, dropna=False)["dose_exact"].agg(total)
    firsts = frame.sort_values("_order").drop_duplicates(group_keys, keep="first").set_index(group_keys)
    firsts["dose_exact"] = sums.reindex(firsts.index).to_numpy()
    firsts["dose"] = [float(Fraction(x)) for x in firsts["dose_exact"]]
    if "infusion_hours" in firsts.columns and "duration_h" in firsts.columns:
        firsts["duration_h"] = firsts["infusion_hours"]
    out = firsts.reset_index().drop(columns=["_first_day", "_order"])[list(rows.columns)]
    merged = pd.concat([plain, out.astype(rows.dtypes.to_dict())], ignore_index=True)
    return merged


def json_number(x: Fraction) -> int | float:
    """An amount as a JSON number: exact to 6 decimals, 168 (never 168.0)."""
    return decimal_to_json(exact_decimal(x, 6))


def _iso_week(day: dt.date) -> str:
    year, week, _ = day.isocalendar()
    return f"{year}-W{week:02d}"


def forecast(rows_chunks: Iterable[pd.DataFrame], formulary: Formulary, *, regimen_id: str = "") -> SupplyForecast:
    """A forecast from cohort rows (one frame or chunks of it)."""
    out = SupplyForecast(formulary, regimen_id=regimen_id)
    for rows in rows_chunks:
        out.add(rows)
    return out


__all__ = ["VIAL_RULE", "SupplyError", "SupplyForecast", "VialPacker", "forecast", "json_number", "preparation_frame"]
