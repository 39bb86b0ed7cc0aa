"""A cohort's kidney values: each patient's renal bands, applied to the vectorised rows wherever they can be.

A roster with kidney values (``scr_mgdl`` with age, sex and weight, or ``gfr_mlmin``) on a regimen with renal tables
(capecitabine's in CAPOX, cisplatin's and etoposide's in EP, bleomycin's in ABVD) gives each patient the band of
their clearance, as 'regimen expand --scr/--gfr' does. :func:`read_kidneys` reads every patient's clearance in
columns (the Cockcroft–Gault estimate prepare() would make, bit for bit, or a measured GFR) and the row of each table
that holds, and sorts the patients three ways:

* no row holds: their rows are those of the plan without kidney values, row for row (a full dose adds a note, and
  notes are not in the rows);
* a row with a percentage: the vectorised rows with the band applied (:func:`apply_bands`): each dose of the drug
  times the percentage, the working's renal step written as the plan writes it;
* a row that leaves the drug out (avoid, contraindicated): the vectorised rows without the drug's and its tied
  supportive care's (:func:`drop_left_out`), and the plan's warnings in the patient's ``plan_warnings``, in the words
  and order of the plan's renal step (:func:`~regimen.clinical.renal_adjust.leaving_out`); the templates of rows are
  then made without the kidney values, and the sample check takes a patient of each set of drugs left out;
* the rest, to expand() one at a time: a value below a table's lowest bound (a warning), a clearance near a rounding
  tie or a limit, a creatinine without the age, sex or weight it needs (the plan warns, or shows each sex's doses), a
  creatinine outside the usual range (its warning is prepare()'s), a measured GFR beside a creatinine, or a drug whose
  rows the plan works out further (a rate, caps, levels, rounding, variants).

The rows stay coded (:class:`pandas.Categorical` text) for a file's sink, as the plain path's do.

:func:`kidney_rows` runs a chunk so and joins the parts in roster order. The expander's sample check compares the
vectorised patients' rows, banded ones included, with 'regimen expand' for them, as for every run.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass, field
from fractions import Fraction
from typing import TYPE_CHECKING, Any

from regimen.clinical.prepare import is_child, range_warning
from regimen.clinical.renal_adjust import leaving_out, reading
from regimen.engine.cohort.roster import ERROR_COLUMNS, ID_COLUMN, Column, PatientIds
from regimen.engine.cohort.values import _NotVectorisable, column_estimates
from regimen.engine.doses import hours_text
from regimen.engine.rows import dose_fields
from regimen.errors import PatientError
from regimen.model import Component, OrganBand, Regimen
from regimen.quantities.exact import Rounding, amount_text, format_fraction

if TYPE_CHECKING:  # pragma: no cover
    import numpy as np
    import pandas as pd

    from regimen.engine.cohort.expander import CohortExpander
    from regimen.model import Patient


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


def _scalable(comp: Component) -> bool:
    """A renal table's drug whose vectorised rows can take its band's percentage as the plan takes it: a dose a row
    (a short infusion's rate follows its dose over its stated time), nothing the plan works out between the dose and
    the renal step or after it (caps, levels, a dosing weight, rounding, additives; variants)."""
    return (
        comp.method != "continuous infusion"
        and not comp.variants
        and not comp.additives
        and not comp.levels
        and not comp.rate_escalation
        and comp.max_dose is None
        and comp.max_daily is None
        and comp.max_per_cycle is None
        and comp.round_to is None
        and comp.dosing_weight is None
    )


@dataclass
class KidneyReadings:
    """Per member of a chunk, how the renal tables reach their rows: ``exact``, by expand() one at a time; else, in
    ``scaled``, the kidney value's text and the row of each table that holds (a percentage), applied to the member's
    vectorised rows (:func:`apply_bands`); else not at all (their rows are the plan's without kidney values)."""

    exact: np.ndarray
    scaled: dict[int, tuple[str, dict[str, OrganBand]]] = field(default_factory=dict)

    def stopped(self, member: int) -> dict[str, tuple[OrganBand, str]]:
        """The components a member's rows leave out (by id: the row that says so, and the kidney value's text)."""
        text, bands = self.scaled[member]
        return {c: (b, text) for c, b in bands.items() if b.stop is not None}


def read_kidneys(regimen: Regimen, cols: Mapping[str, Column], members: np.ndarray) -> KidneyReadings:
    """The readings of ``members`` (roster positions): see :class:`KidneyReadings` and the module."""
    import numpy as np

    n = len(members)
    tables = [c for c in regimen.components() if c.renal]
    ids = [c.id for c in regimen.components()]
    # a band is applied by the row's component id: one id in two phases would take another's band
    scalable = all(_scalable(c) and ids.count(c.id) == 1 for c in tables) and not regimen.dosing_weight
    # a drug left out: its rows and its tied care's dropped by component id, so every id must be one component's
    droppable = scalable and len(set(ids)) == len(ids)
    exact = np.zeros(n, dtype=bool)
    found: dict[int, tuple[str, dict[str, OrganBand]]] = {}

    def codes(key: str) -> np.ndarray:
        col = cols.get(key)
        return col.codes[members] if col is not None else np.full(n, -1, dtype=np.int64)

    def classify(at: np.ndarray, text: str, value: Fraction) -> None:
        """Members ``at`` whose kidney value is ``value``: exact where a table stops or states no dose, scaled where
        a row with a percentage holds."""
        bands: dict[str, OrganBand] = {}
        for comp in tables:
            band, below = reading(comp, value)
            if below is not None or (band is not None and band.stop is not None and not droppable):
                exact[at] = True
                return
            if band is not None:
                bands[comp.id] = band
        if bands:
            if not scalable:
                exact[at] = True
                return
            for i in at.tolist():
                found[i] = (text, bands)

    gfr, scr = codes("gfr"), codes("scr")
    exact |= (gfr >= 0) & (scr >= 0)  # the estimate is worked out (and checked) beside a measured GFR: expand()
    measured = (gfr >= 0) & (scr < 0)
    for code in np.unique(gfr[measured]).tolist():
        value = cols["gfr"].values[code]
        if value is None:  # pragma: no cover - a value that did not read has code -1
            continue
        classify(np.flatnonzero(measured & (gfr == code)), f"GFR {format_fraction(value)} mL/min (given with --gfr)",
                 Fraction(value))  # fmt: skip
    with_scr = (scr >= 0) & (gfr < 0)
    if with_scr.any():
        # an unusual creatinine: its warning is prepare()'s (the exact path gives it, as 'regimen expand' does), by
        # the adults' range, or the children's for a child (every creatinine over 1 mg/dL was once taken as unusual
        # for all: a third of an adult roster went one patient at a time)
        age, sex, weight = codes("age"), codes("sex"), codes("weight")

        def unusual_for(child: bool) -> np.ndarray:
            flags = [v is not None and range_warning("scr", v, child=child) is not None for v in cols["scr"].values]
            return np.asarray([*flags, False], dtype=bool)

        children = np.zeros(n, dtype=bool)  # no age: the adults' ranges, as prepare() takes them
        if "age" in cols:
            children = np.asarray([is_child(a) for a in cols["age"].values] + [False], dtype=bool)[age]
        unusual = np.where(children, unusual_for(True)[scr], unusual_for(False)[scr])
        exact |= with_scr & unusual
        whole = with_scr & ~unusual & (age >= 0) & (sex >= 0) & (weight >= 0)
        exact |= with_scr & ~unusual & ~whole  # the plan warns (no age or weight) or shows each sex's doses
        which = np.flatnonzero(whole)
        if len(which):
            # the BSA's part of the estimates' certainty is the de-indexed CKD-EPI's, for AUC dosing only
            estimates = column_estimates(cols, members[which], with_bsa=False)
            exact[which[~estimates.certain]] = True
            moved = np.zeros(len(which), dtype=bool)
            for comp in tables:
                moved |= _bounds_hold(comp, estimates.hundredths)
            sure = estimates.certain & moved
            for h in np.unique(estimates.hundredths[sure]).tolist():
                at = which[sure & (estimates.hundredths == h)]
                value = Fraction(h, 100)
                classify(at, f"CrCl {format_fraction(value)} mL/min (Cockcroft–Gault)", value)
    for i in np.flatnonzero(exact).tolist():
        found.pop(i, None)
    return KidneyReadings(exact, found)


def _stated_hours(regimen: Regimen) -> dict[str, Fraction]:
    """The stated time of each short infusion of ``regimen``, by component id (a pump's rows are not scaled)."""
    return {
        c.id: c.duration_hours
        for c in regimen.components()
        if c.duration_hours is not None and c.method != "continuous infusion"
    }


def _coded(series: pd.Series) -> tuple[np.ndarray, pd.Index]:
    """A text column's code of each row and its distinct values (a :class:`pandas.Categorical`'s own; else
    factorized), missing values coded -1."""
    import numpy as np
    import pandas as pd

    if isinstance(series.dtype, pd.CategoricalDtype):
        return np.asarray(series.cat.codes, dtype=np.int64), series.cat.categories
    codes, uniques = pd.factorize(series.to_numpy(dtype=object), use_na_sentinel=True)
    return np.asarray(codes, dtype=np.int64), pd.Index(uniques, dtype=object)


def _per_patient_and_component(
    frame: pd.DataFrame, by_patient: Mapping[str, Mapping[str, Any]], default: Any, dtype: Any
) -> tuple[np.ndarray, np.ndarray, pd.Index]:
    """Per row of ``frame``: ``by_patient[patient id][component id]`` (``default`` where there is none), gathered at
    once from a table of (patient, component) codes rather than looked up row by row; each row's patient code, and
    the patient ids the codes index (:func:`_coded` of the id column)."""
    import numpy as np

    pid_codes, pids = _coded(frame[ID_COLUMN])
    comp_codes, comps = _coded(frame["component"])
    table = np.full((len(pids) + 1, len(comps) + 1), default, dtype=dtype)  # the last row and column: code -1
    where = pids.get_indexer(list(by_patient))
    comp_at = {c: i for i, c in enumerate(comps)}
    for at, values in zip(where.tolist(), by_patient.values(), strict=True):
        if at < 0:
            continue
        for comp, value in values.items():
            if comp in comp_at:
                table[at, comp_at[comp]] = value
    return table[pid_codes, comp_codes], pid_codes, pids


def apply_bands(
    frame: pd.DataFrame,
    scaled: Mapping[str, tuple[str, dict[str, OrganBand]]],
    rounding: Rounding,
    regimen: Regimen | None = None,
) -> None:
    """Apply each member's bands (``scaled``: by patient id) to their rows of ``frame`` (the vectorised rows of the
    plan without kidney values), in place, as the plan's renal step does: every dose of the drug is the band's
    percentage of it (:meth:`~regimen.clinical.renal_adjust.RenalPlan.apply`), its working says so, and the dose
    fields are written from the new exact dose (:func:`dose_fields`), once per distinct dose and band. A short
    infusion of ``regimen`` (a stated time) has its rate follow the new dose, ending the working as the plan's does
    ("153 mg → 117 mg over 2 h (58.5 mg/h)")."""
    import numpy as np
    import pandas as pd

    if not scaled or not len(frame):
        return
    # per row: the member's band of the row's drug (a code into ``bands``, -1: none) and the member's kidney text
    bands: list[OrganBand] = []
    band_code: dict[str, dict[str, int]] = {}
    for pid, (_, by_comp) in scaled.items():
        for comp, band in by_comp.items():
            if band.percent is None:  # a drug left out: its rows are dropped (drop_left_out)
                continue
            if band not in bands:
                bands.append(band)
            band_code.setdefault(pid, {})[comp] = bands.index(band)
    if not band_code:
        return
    codes, pid_codes, pids = _per_patient_and_component(frame, band_code, -1, np.int64)
    rows = np.flatnonzero(codes >= 0)
    if not len(rows):
        return
    codes, pid_codes = codes[rows], pid_codes[rows]
    nums = frame["dose_exact_num"].to_numpy()[rows].astype(np.int64)
    dens = frame["dose_exact_den"].to_numpy()[rows].astype(np.int64)
    units = frame["dose_unit"].iloc[rows].to_numpy(dtype=object)
    of = frame["component"].iloc[rows].to_numpy(dtype=object)
    keys = pd.factorize(pd.MultiIndex.from_arrays([nums, dens, codes, units, of]))[0]  # 0, 1, ... by first row
    first = np.zeros(int(keys.max()) + 1, dtype=np.int64)
    first[keys[::-1]] = np.arange(len(keys))[::-1]  # each distinct dose and band's first row
    worked: list[dict[str, Any]] = []
    for at in first.tolist():  # each distinct dose and band once
        band = bands[int(codes[at])]
        assert band.percent is not None
        before = Fraction(int(nums[at]), int(dens[at]))
        after = before * band.percent / 100
        step = (
            f" is {band.range_text()}: {band.action_text()} ({band.source}): {format_fraction(before)} {units[at]} → "
            f"{format_fraction(after)} {units[at]}"
        )
        h = regimen.once(_stated_hours).get(str(of[at])) if regimen is not None else None
        rate = after / h if h else None
        if h and rate is not None:
            step += f" over {hours_text(h)} ({amount_text(rate, str(units[at]) + '/h', rounding)})"
        worked.append({**dose_fields(rounding, after, rate, None, ""), "step": step})
    names = ["dose", "dose_exact", "dose_exact_num", "dose_exact_den"]
    if any(w["rate"] is not None for w in worked):
        names.append("rate")
    for name in names:
        values = np.asarray([w[name] for w in worked], dtype=object)[keys]
        if name == "rate":  # the rows without a stated time keep theirs (none)
            keep = np.asarray([w["rate"] is None for w in worked], dtype=bool)[keys]
            values = np.where(keep, frame[name].iloc[rows].to_numpy(dtype=object), values)
        _put(frame, rows, name, values)
    # the working: each distinct (working, patient, step) written once ("...; renal: CrCl 43 mL/min ... → 1,350 mg")
    calc_codes, calcs = _coded(frame["calculation"].iloc[rows])  # the banded rows' workings only
    triples, distinct = pd.factorize(pd.MultiIndex.from_arrays([calc_codes, pid_codes, keys]))
    texts = [
        f"{calcs[c]}; renal: {scaled[pids[p]][0]}{worked[k]['step']}"
        for c, p, k in zip(*(distinct.get_level_values(i) for i in range(3)), strict=True)
    ]
    _put(frame, rows, "calculation", np.asarray(texts, dtype=object), np.asarray(triples, dtype=np.int64))


def _put(
    frame: pd.DataFrame, rows: np.ndarray, name: str, values: np.ndarray, inverse: np.ndarray | None = None
) -> None:
    """Write ``values`` into column ``name`` of ``frame`` at positions ``rows``, in place (``inverse``: row
    ``rows[i]`` takes ``values[inverse[i]]``): a coded text column (:class:`pandas.Categorical`,
    as a CSV or Parquet file takes the rows) by its codes, the texts it does not have added as categories (pandas' own
    assignment hashes every value against every category: a third of a 20,000-patient CAPOX roster's time);
    ``dose_exact`` (Fractions' text, or the Fractions) as they are; a number column in its type."""
    import numpy as np
    import pandas as pd

    series = frame[name]
    if not isinstance(series.dtype, pd.CategoricalDtype):
        if inverse is not None:
            values = values[inverse]
        frame.iloc[rows, frame.columns.get_loc(name)] = values if name == "dose_exact" else values.astype(series.dtype)
        return
    coded = series.array
    again, uniques = pd.factorize(values, use_na_sentinel=True)  # None: -1, a missing value's code too
    inverse = again if inverse is None else np.where(inverse < 0, -1, again[inverse])  # two texts may be one
    where = coded.categories.get_indexer(pd.Index(uniques, dtype=object))
    new = np.flatnonzero(where < 0)
    where[new] = len(coded.categories) + np.arange(len(new))
    categories = coded.categories.append(pd.Index(uniques[new], dtype=object)) if len(new) else coded.categories
    codes = coded.codes.copy()
    codes[rows] = np.where(inverse < 0, -1, where[inverse])
    frame[name] = pd.Categorical.from_codes(codes, categories=categories, validate=False)


def drop_left_out(frame: pd.DataFrame, left_out: Mapping[str, frozenset[str]]) -> pd.DataFrame:
    """``frame`` without the rows of the components each patient's plan leaves out (``left_out``: by patient id,
    the component ids, :func:`~regimen.clinical.renal_adjust.leaving_out`)."""

    if not left_out or not len(frame):
        return frame
    dropped = {p: dict.fromkeys(c, True) for p, c in left_out.items()}
    gone, _, _ = _per_patient_and_component(frame, dropped, False, bool)
    if not gone.any():
        return frame
    return frame[~gone].reset_index(drop=True)


def left_out_checks(x: CohortExpander, members: np.ndarray, good: np.ndarray, ids: PatientIds) -> list[int]:
    """For the expander's sample check: a member of a template's group (``members``, indices into ``good``) for
    each set of components a member's plan leaves out, so that every way of dropping rows is checked against
    'regimen expand'."""
    import numpy as np

    if not x._renal_warnings:
        return []
    firsts: dict[frozenset[str], int] = {}
    for m in members[np.isin(good[members], list(x._renal_warnings))].tolist():
        firsts.setdefault(x._left_out[ids[int(good[m])]], m)
    return list(firsts.values())


def template_patient(x: CohortExpander, patient: Patient) -> Patient:
    """The patient whose plan is a template of rows: without the kidney values while a chunk's drugs left out are
    dropped from the rows (a plan that leaves a drug out has none of its rows to give the others)."""
    return dataclasses.replace(patient, scr_mg_dl=None, gfr_ml_min=None) if x._left_out else patient


def kidney_frame(x: CohortExpander, frame: pd.DataFrame) -> pd.DataFrame:
    """The vectorised rows with the chunk's kidney values applied: each member's bands, the drugs left out dropped."""
    apply_bands(frame, x._bands, x.rounding, x.regimen)
    return drop_left_out(frame, x._left_out)


def kidney_sample(
    x: CohortExpander, sample: pd.DataFrame, counts: np.ndarray, which: list[int], good: np.ndarray, ids: PatientIds
) -> tuple[pd.DataFrame, np.ndarray]:
    """The sample check's rows (of the members ``which``, ``counts`` rows each) as :func:`kidney_frame` gives them,
    and each member's count of rows left."""
    sample = kidney_frame(x, sample)
    if not x._left_out:
        return sample, counts
    left = sample[ID_COLUMN].value_counts()
    kept = counts.copy()
    kept[which] = [int(left.get(ids[int(good[k])], 0)) for k in which]
    return sample, kept


def kidney_rows(
    x: CohortExpander,
    good: np.ndarray,
    cols: dict[str, Column],
    start: Column | None,
    ids: PatientIds,
    first_row: int,
    coded: bool = False,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """A roster's kidney values on a regimen with renal tables (:class:`~regimen.engine.cohort.expander.
    CohortExpander`'s chunk ``good``): the patients :func:`read_kidneys` leaves to expand() one at a time, the others
    vectorised, their bands applied to their rows and the drugs left out dropped; the rows in roster order, and the
    problems of those refused. ``coded``: the text columns may be :class:`pandas.Categorical` (for a file's sink:
    a frame of str objects cost a 20,000-patient CAPOX roster a third of its time and twice the memory)."""
    import numpy as np
    import pandas as pd

    why = f"the roster's kidney values, for the renal tables of {x.regimen.id}"
    readings = read_kidneys(x.regimen, cols, good) if x.options is None else KidneyReadings(np.ones(len(good), bool))
    slow = readings.exact.copy()
    frames, more = [], pd.DataFrame(columns=list(ERROR_COLUMNS))
    if (~slow).any():
        x._bands = {ids[int(good[i])]: bands for i, bands in readings.scaled.items()}
        # a drug left out: its rows and its tied care's dropped, and the plan's warnings said, once per distinct
        # kidney text and rows (the same words as renal_plan's)
        said: dict[tuple[Any, ...], tuple[str, frozenset[str]]] = {}
        for i in readings.scaled:
            stopped = readings.stopped(i)
            if not stopped:
                continue
            key = tuple(sorted((c, id(b), t) for c, (b, t) in stopped.items()))
            if key not in said:
                warnings, gone = leaving_out(x.regimen, stopped)
                said[key] = ("; ".join(warnings), frozenset(gone))
            pos = int(good[i])
            x._renal_warnings[pos], x._left_out[ids[pos]] = said[key]
        try:
            frames.append(x._rows(good[~slow], cols, start, ids, coded))
        except (_NotVectorisable, PatientError):  # as the whole chunk would be: every patient one at a time
            slow[:] = True
        finally:
            x._bands, x._left_out, x._renal_warnings = {}, {}, {}
    if slow.any():
        x._note(f"rows computed one patient at a time ({why}: those whose plan they change and the bands of the "
                "vectorised rows cannot show)")  # fmt: skip
        each, more = x._rows_each(good[slow], cols, start, ids, first_row)
        frames.append(each)
    return in_roster_order(frames, ID_COLUMN, {ids[int(p)]: i for i, p in enumerate(good)}), more


def in_roster_order(frames: list[pd.DataFrame], id_column: str, position: Mapping[Any, int]) -> pd.DataFrame:
    """The rows of ``frames`` (each patient's rows together, in order) as one frame in roster order: by each row's
    patient's ``position`` (a run's patient ids are distinct), the order within a patient kept."""
    import numpy as np

    kept = [f for f in frames if len(f)]
    if len(kept) <= 1:  # one part's rows are in roster order already
        return kept[0] if kept else frames[0]
    frame = _joined(kept)
    where = np.asarray([position[x] for x in frame[id_column].tolist()], dtype=np.int64)
    order = np.argsort(where, kind="stable")
    return frame.take(order).reset_index(drop=True)


def _joined(frames: list[pd.DataFrame]) -> pd.DataFrame:
    """The frames one after the other; a text column coded in one (:class:`pandas.Categorical`) stays coded, its
    categories those of every frame (pandas.concat would turn it into objects)."""
    import numpy as np
    import pandas as pd

    columns: dict[str, Any] = {}
    for name in frames[0].columns:
        parts = [f[name] for f in frames]
        if not any(isinstance(p.dtype, pd.CategoricalDtype) for p in parts):
            columns[name] = pd.concat(parts, ignore_index=True)
            continue
        coded = [_coded(p) for p in parts]
        categories = pd.Index(np.concatenate([c.to_numpy(dtype=object) for _, c in coded]), dtype=object).unique()
        # each frame's codes into the categories of all: code -1 (missing) takes the last entry, -1 too
        codes = [np.append(categories.get_indexer(c.astype(object)), -1)[k] for k, c in coded]
        columns[name] = pd.Categorical.from_codes(np.concatenate(codes), categories=categories, validate=False)
    return pd.DataFrame(columns)


__all__ = [
    "KidneyReadings",
    "apply_bands",
    "drop_left_out",
    "in_roster_order",
    "kidney_frame",
    "kidney_rows",
    "kidney_sample",
    "left_out_checks",
    "read_kidneys",
    "template_patient",
]
