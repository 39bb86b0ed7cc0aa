"""Which patients of a cohort the renal tables change: the others keep the vectorised rows.

A roster with kidney values (``scr_mgdl`` with age, sex and weight, or ``gfr_mlmin``) on a regimen with renal tables
(capecitabine's in CAPOX, cisplatin's and etoposide's in EP) was expanded one patient at a time: each patient's
renal band scales or leaves out drugs, and the working names their own clearance. Most patients' clearances fall
where no table row holds (above 50 mL/min for capecitabine): their plan is the one without kidney values, row for
row (a full dose adds a note, and notes are not in the rows). :func:`changed_by_kidneys` finds them in columns, so
that only the others are expanded one at a time.

A patient is given to the exact path whenever it is not certain that the tables leave them alone: a clearance near a
rounding tie or a limit (:func:`~regimen.clinical.gfr_columns.cockcroft_gault_estimates`), a creatinine without the
age, sex or weight it needs (the plan warns, or shows each sex's doses), a creatinine outside the usual range (its
warning is prepare()'s), a row of a table that holds, or a value below a table's lowest bound. The expander's sample
check compares the vectorised patients' rows with 'regimen expand' for them, as for every run.
"""

from __future__ import annotations

from collections.abc import Mapping
from fractions import Fraction
from typing import TYPE_CHECKING, Any

from regimen.clinical.gfr_columns import cockcroft_gault_estimates
from regimen.clinical.options import ClinicalOptions
from regimen.clinical.prepare import range_warning
from regimen.clinical.renal_adjust import reading
from regimen.engine.cohort.roster import Column
from regimen.model import Component, Regimen

if TYPE_CHECKING:  # pragma: no cover
    import numpy as np
    import pandas as pd


def _bounds_hold(comp: Component, hundredths: np.ndarray) -> np.ndarray:
    """Per clearance (in hundredths of a mL/min): whether some row of ``comp``'s renal table holds, or the value is
    below the lowest bound the table states (a warning), compared as exact integers: h / 100 >= p / q as
    h × q >= 100 × p."""
    import numpy as np

    def at_least(h: np.ndarray, bound: Fraction) -> np.ndarray:
        out: np.ndarray = h * bound.denominator >= 100 * bound.numerator
        return out

    any_row = np.zeros(len(hundredths), dtype=bool)
    for band in comp.renal:
        holds = np.ones(len(hundredths), dtype=bool)
        if band.min is not None:
            holds &= at_least(hundredths, band.min)
        if band.max is not None:
            holds &= ~at_least(hundredths, band.max) | (hundredths * band.max.denominator == 100 * band.max.numerator)
        if band.below is not None:
            holds &= ~at_least(hundredths, band.below)
        any_row |= holds
    lows = [b.min for b in comp.renal]
    if lows and all(m is not None for m in lows):  # below every row: the plan warns that no dose is stated there
        lowest = min(m for m in lows if m is not None)
        any_row |= ~at_least(hundredths, lowest)
    return any_row


def changed_by_kidneys(regimen: Regimen, cols: Mapping[str, Column], members: np.ndarray) -> np.ndarray:
    """Per member (roster positions): True when the renal tables may change their plan (see the module), False when
    their rows are those of the plan without kidney values."""
    import numpy as np

    n = len(members)
    tables = [c for c in regimen.components() if c.renal]

    def codes(key: str) -> np.ndarray:
        col = cols.get(key)
        return col.codes[members] if col is not None else np.full(n, -1, dtype=np.int64)

    changed = np.zeros(n, dtype=bool)
    # a measured GFR: read against each table, once per distinct value (a roster has few)
    gfr = codes("gfr")
    if (gfr >= 0).any():
        values = cols["gfr"].values
        moved = np.asarray(
            [v is not None and any(reading(c, Fraction(v)) != (None, None) for c in tables) for v in values] + [False],
            dtype=bool,
        )
        changed |= moved[gfr]
    scr = codes("scr")
    with_scr = scr >= 0
    if not with_scr.any():
        return changed
    # an unusual creatinine: its warning is prepare()'s (the exact path gives it, as 'regimen expand' does)
    values = cols["scr"].values
    unusual = np.asarray(
        [range_warning("scr", v, child=False) is not None or range_warning("scr", v, child=True) is not None
         for v in values] + [False],
        dtype=bool,
    )  # fmt: skip
    changed |= unusual[scr]
    age, sex, weight = codes("age"), codes("sex"), codes("weight")
    whole = with_scr & (age >= 0) & (sex >= 0) & (weight >= 0)
    changed |= with_scr & ~whole  # the plan warns (no age or weight) or shows each sex's doses (no sex)
    which = np.flatnonzero(whole & (gfr < 0))  # a measured GFR is read before any estimate: above

    def floats(key: str) -> np.ndarray:
        col = cols[key]
        table = np.asarray([float(v) if v is not None else np.nan for v in col.values] + [np.nan], dtype=np.float64)
        taken: np.ndarray = table[col.codes[members[which]]]
        return taken

    if not len(which):
        return changed
    female = np.asarray([v == "female" for v in cols["sex"].values] + [False], dtype=bool)
    estimates = cockcroft_gault_estimates(
        floats("age"),
        floats("weight"),
        floats("scr"),
        female[sex[which]],
        np.full(len(which), np.nan),  # the BSA's part is the CKD-EPI bound's, for AUC dosing only
        ClinicalOptions(),  # the run's options are the defaults: the caller's condition
    )
    hundredths = estimates.hundredths
    moved = ~estimates.certain
    for comp in tables:
        moved |= _bounds_hold(comp, hundredths) & estimates.certain
    changed[which] |= moved
    return changed


def in_roster_order(frames: list[pd.DataFrame], id_column: str, position: Mapping[Any, int]) -> pd.DataFrame:
    """The rows of ``frames`` (each patient's rows together, in order) as one frame in roster order: by each row's
    patient's ``position`` (a run's patient ids are distinct), the order within a patient kept."""
    import numpy as np
    import pandas as pd

    kept = [f for f in frames if len(f)]
    if not kept:
        return frames[0]
    frame = pd.concat(kept, ignore_index=True) if len(kept) > 1 else kept[0]
    where = np.asarray([position[x] for x in frame[id_column].tolist()], dtype=np.int64)
    order = np.argsort(where, kind="stable")
    return frame.take(order).reset_index(drop=True)


__all__ = ["changed_by_kidneys", "in_roster_order"]
