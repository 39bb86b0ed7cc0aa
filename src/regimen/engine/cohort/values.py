"""A cohort's patient values: remembered readers, the patient of a roster row, and the checks 'regimen expand'
makes of a patient's values (refusals, the plan's warnings, a GFR), each made once per distinct value or set of
values (:class:`ValueChecks`, a part of :class:`~regimen.engine.cohort.expander.CohortExpander`).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from functools import partial
from typing import TYPE_CHECKING, Any

from regimen.clinical.gfr import COCKCROFT_GAULT, Gfr, calvert_gfrs
from regimen.clinical.gfr_columns import GfrEstimates, cockcroft_gault_estimates
from regimen.clinical.prepare import (
    ClinicalOptions,
    age_warnings,
    is_child,
    prepare,
    range_warning,
    scr_floor_warning,
)
from regimen.engine.cohort.roster import (
    COLUMNS,
    Column,
    PatientIds,
    RowProblem,
    cell_texts,
)
from regimen.errors import PatientError, RegimenError
from regimen.model import Patient, Regimen

if TYPE_CHECKING:  # pragma: no cover
    import numpy as np
    import pandas as pd

    from regimen.engine.cohort.templates import _Template


def _factorize_rows(columns: list[np.ndarray]) -> tuple[np.ndarray, list[tuple[int, ...]]]:
    """Like ``pandas.factorize`` of the rows of several code columns (codes >= -1): a code per row, and the distinct
    rows as tuples in order of first appearance. The columns are packed into one integer per row, which pandas
    factorises in C; a MultiIndex would build a tuple for every row first (issue 15)."""
    import numpy as np
    import pandas as pd

    packed = np.zeros(len(columns[0]), dtype=np.int64)
    radices = [int(c.max(initial=-1)) + 2 for c in columns]  # -1 .. max, shifted to 0 .. max + 1
    if np.prod([float(r) for r in radices]) >= 2.0**62:  # too many combinations to pack: the slow way
        codes, uniques = pd.factorize(pd.MultiIndex.from_arrays(columns))
        return np.asarray(codes, dtype=np.int64), [tuple(int(x) for x in u) for u in uniques]
    for column, radix in zip(columns, radices, strict=True):
        packed = packed * radix + (np.asarray(column, dtype=np.int64) + 1)
    codes, uniques = pd.factorize(packed)
    rows = []
    for value in np.asarray(uniques, dtype=np.int64).tolist():
        digits = []
        for radix in reversed(radices):
            value, digit = divmod(value, radix)
            digits.append(digit - 1)
        rows.append(tuple(reversed(digits)))
    return np.asarray(codes, dtype=np.int64), rows


#: The Patient field of each roster value (:data:`regimen.engine.cohort.roster.COLUMNS`).
_PATIENT_FIELD = {
    "weight": "weight_kg",
    "bsa": "bsa_m2",
    "age": "age_years",
    "height": "height_cm",
    "sex": "sex",
    "scr": "scr_mg_dl",
    "gfr": "gfr_ml_min",
}
#: What a patient's GFR is worked out from (a target AUC's body value), in :data:`COLUMNS` keys.
_RENAL = ("weight", "height", "bsa", "sex", "age", "scr", "gfr")
#: The key in a chunk's columns of the GFR worked out in columns (:meth:`ValueChecks._estimated_gfr`): a code per
#: patient into distinct :class:`Gfr` values, -1 for a patient whose GFR comes from :func:`prepare` one at a time.
_ESTIMATE = "gfr estimate"


def _renal_fields(cols: Mapping[str, Column], codes: tuple[int, ...]) -> dict[str, Any]:
    """The :class:`Patient` fields of :data:`_RENAL` for one code of each column (-1: None)."""
    return {_PATIENT_FIELD[k]: cols[k].values[c] if c >= 0 else None for k, c in zip(_RENAL, codes, strict=True)}


#: Distinct texts a reader remembers: a roster of values recorded as people record them has a few thousand.
_REMEMBERED = 100_000


class _Remembered:
    """A reader remembering each text's value or refusal (its :class:`RegimenError`), up to :data:`_REMEMBERED`
    texts. A class, not a closure, so that an expander sent to Dask workers pickles."""

    def __init__(self, reader: Callable[[str], Any]) -> None:
        self.reader = reader
        self.seen: dict[str, tuple[bool, Any]] = {}

    def __call__(self, text: str) -> Any:
        hit = self.seen.get(text)
        if hit is None:
            try:
                hit = (True, self.reader(text))
            except RegimenError as exc:
                hit = (False, exc)
            if len(self.seen) < _REMEMBERED:
                self.seen[text] = hit
        if not hit[0]:
            raise hit[1].with_traceback(None)
        return hit[1]


#: The clinical options of a run that gives none (made once: each is checked when it is made).
_DEFAULT_OPTIONS = ClinicalOptions()


class _NotVectorisable(Exception):
    """A regimen feature the per-value decomposition does not cover: expand patient by patient."""


def column_estimates(cols: Mapping[str, Column], positions: np.ndarray, *, with_bsa: bool) -> GfrEstimates:
    """The Cockcroft–Gault estimates (:func:`~regimen.clinical.gfr_columns.cockcroft_gault_estimates`, the run's
    options the defaults) of the patients at roster ``positions``, each with a creatinine, age, sex and weight: their
    values made floats as prepare() makes them (NaN for none). ``with_bsa``: a BSA given bounds the de-indexed CKD-EPI
    estimate too (AUC dosing, where prepare() works it out); else none is read."""
    import numpy as np

    def floats(key: str) -> np.ndarray:
        if key not in cols:
            return np.full(len(positions), np.nan)
        values = np.asarray([float(v) if v is not None else np.nan for v in cols[key].values] + [np.nan])
        taken: np.ndarray = values[cols[key].codes[positions]]
        return taken

    female = np.asarray([v == "female" for v in cols["sex"].values] + [False], dtype=bool)
    bsa = floats("bsa") if with_bsa else np.full(len(positions), np.nan)
    sex = female[cols["sex"].codes[positions]]
    return cockcroft_gault_estimates(floats("age"), floats("weight"), floats("scr"), sex, bsa, _DEFAULT_OPTIONS)


class ValueChecks:
    """The expander's checks of patient values, remembered across chunks."""

    if TYPE_CHECKING:  # the expander's (:class:`~regimen.engine.cohort.expander.CohortExpander`)
        regimen: Regimen
        needs: list[str]
        _said: dict[tuple[str, int], tuple[Any, str | None]]
        _prepared: dict[tuple[Any, ...], tuple[list[str], Gfr | None] | str]
        _options: ClinicalOptions | None
        _strict: ClinicalOptions | None
        _weight_body: bool
        _auc: bool
        _plain: bool
        _gfrs: dict[int, Gfr]
        _renal_warnings: dict[int, str]

        def _estimate_needs(self) -> list[str]: ...

    def _without_gfr(
        self, roster: pd.DataFrame, cols: dict[str, Column], first_row: int, ids: PatientIds, problems: list[RowProblem]
    ) -> np.ndarray:
        """Rows with no measured GFR and not all the values to estimate one: a problem each (a value that did not
        read is reported under its own column)."""
        import numpy as np

        def has(key: str) -> np.ndarray:
            col = cols.get(key)
            return col.codes >= 0 if col is not None else np.zeros(len(roster), dtype=bool)

        needs = self._estimate_needs()
        estimable = np.logical_and.reduce([has(k) for k in needs])
        without = ~has("gfr") & ~estimable
        # which cells are blank, read only for the rows without (a roster's every cell read again cost a tenth of
        # a 100k-patient AUC run)
        rows = np.flatnonzero(without)
        part = roster.iloc[rows]
        blank = self._blank(part, COLUMNS["gfr"]) & np.logical_or.reduce([self._blank(part, COLUMNS[k]) for k in needs])
        said = f"missing: AUC dosing needs {COLUMNS['gfr']}, or {COLUMNS['scr']} with " + ", ".join(
            COLUMNS[k] for k in needs[1:]
        )
        for pos in rows[blank].tolist():
            problems.append((first_row + pos, ids[pos], COLUMNS["gfr"], said))
        result: np.ndarray = without
        return result

    @staticmethod
    def _blank(roster: pd.DataFrame, column: str) -> np.ndarray:
        import numpy as np

        if column not in roster.columns:
            return np.ones(len(roster), dtype=bool)
        return np.array([t is None for t in cell_texts(roster[column])], dtype=bool)

    def _estimated_gfr(self, cols: Mapping[str, Column], bad: np.ndarray) -> Column | None:
        """For a target AUC: each patient's GFR by Cockcroft–Gault worked out in columns, as :func:`prepare` works it
        out (:func:`~regimen.clinical.gfr_columns.cockcroft_gault_estimates`), or None where this run's rows are not
        made that way (clinical options given, caps or rounding in the file: a plan per set of values). Code -1: a
        patient left to :func:`prepare` (rejected already, a measured GFR, a height given (a BSA to check against
        it), a value near a rounding tie or a limit). The values are the distinct GFRs in hundredths of a mL/min
        (ints), uncapped: a Calvert row is written from them (:mod:`~regimen.engine.cohort.calvert`), and their
        :class:`Gfr` made only where needed (:meth:`_estimated_gfrs`)."""
        import numpy as np

        if not (self._auc and self._plain and self._options is None and not self._weight_body):
            return None
        options = _DEFAULT_OPTIONS
        if options.gfr_method != "cockcroft-gault":  # pragma: no cover - the default
            return None

        def has(key: str) -> np.ndarray:
            col = cols.get(key)
            return col.codes >= 0 if col is not None else np.zeros(len(bad), dtype=bool)

        which = np.flatnonzero(
            ~bad & ~has("gfr") & ~has("height") & has("scr") & has("age") & has("sex") & has("weight")
        )

        estimates = column_estimates(cols, which, with_bsa=True)
        distinct, inverse = np.unique(estimates.hundredths[estimates.certain], return_inverse=True)
        codes = np.full(len(bad), -1, dtype=np.int64)
        codes[which[estimates.certain]] = inverse
        return Column(codes, distinct.tolist())

    def _estimated_gfrs(self, hundredths: list[int]) -> list[Gfr]:
        """The :class:`Gfr` of each GFR estimated in columns (``hundredths``: of a mL/min, as :meth:`_estimated_gfr`
        gives them), as prepare() makes it (:func:`calvert_gfrs`): each made once per run."""
        new = [h for h in dict.fromkeys(hundredths) if h not in self._gfrs]
        self._gfrs.update(zip(new, calvert_gfrs(new, COCKCROFT_GAULT, _DEFAULT_OPTIONS), strict=True))
        return [self._gfrs[h] for h in hundredths]

    # -- templates --
    def _patient(self, cols: dict[str, Column], pos: int) -> Patient:
        def value(key: str) -> Any:
            col = cols.get(key)
            return None if col is None or col.codes[pos] < 0 else col.values[col.codes[pos]]

        return Patient(
            weight_kg=value("weight"),
            bsa_m2=value("bsa"),
            age_years=value("age"),
            height_cm=value("height"),
            sex=value("sex"),
            scr_mg_dl=value("scr"),
            gfr_ml_min=value("gfr"),
        )

    def _gfr(self, patient: Patient) -> Gfr | None:
        """The patient's GFR for a target AUC, worked out as expand() works it out (:func:`prepare`)."""
        said = self._prepare(patient)
        if isinstance(said, str):
            raise _NotVectorisable(f"a patient's values are refused: {said}")
        return said[1]

    def _prepared_warnings(self, patient: Patient) -> list[str]:
        """The warnings on one patient's values, exactly as expand() collects them (:func:`prepare`)."""
        said = self._prepare(patient)
        if isinstance(said, str):
            raise _NotVectorisable(f"a patient's values are refused: {said}")
        return said[0]

    def _prepare(self, patient: Patient) -> tuple[list[str], Gfr | None] | str:
        """:func:`prepare`'s warnings on one patient's values and their GFR (for a target AUC), or the message
        refusing them; remembered per set of values (up to :data:`_REMEMBERED`): a value's checks recur in every
        chunk, and a GFR is needed for the rows and for the warnings."""
        values = tuple(getattr(patient, _PATIENT_FIELD[k]) for k in _RENAL)
        found = self._prepared.get(values)
        if found is None:
            try:
                prepared = prepare(self.regimen, patient, self._options or _DEFAULT_OPTIONS)
                found = (prepared.warnings, prepared.gfr)
            except PatientError as exc:
                found = exc.message
            if len(self._prepared) < _REMEMBERED:
                self._prepared[values] = found
        return found

    def _prepares_each(self) -> bool:
        """Every patient's values go through :func:`prepare` (a capped BSA, a dosing weight from height and sex, a
        GFR): a patient it refuses is rejected on their own, as 'regimen expand' refuses them."""
        return (self._options is not None and self._options.bsa_cap is not None) or self._weight_body or self._auc

    def _refused(
        self, cols: dict[str, Column], bad: np.ndarray, first_row: int, ids: PatientIds, problems: list[RowProblem]
    ) -> np.ndarray:
        """Rows whose values :func:`prepare` refuses (an impossible GFR estimate, an ideal weight under 152.4 cm),
        one problem each; once per distinct set of values."""
        import numpy as np

        left = ~bad if _ESTIMATE not in cols else ~bad & (cols[_ESTIMATE].codes < 0)  # the others: none refused
        which = np.flatnonzero(left)
        none = np.full(len(which), -1, dtype=np.int64)
        codes, uniques = _factorize_rows([cols[k].codes[which] if k in cols else none for k in _RENAL])
        said = [self._prepare(Patient(**_renal_fields(cols, u))) for u in uniques]
        refused = np.zeros(len(bad), dtype=bool)
        for pos, k in zip(which.tolist(), codes.tolist(), strict=True):
            if isinstance(said[k], str):
                refused[pos] = True
                problems.append((first_row + pos, ids[pos], "", str(said[k])))
        return refused

    def _plan_warnings(
        self,
        cols: dict[str, Column],
        good: np.ndarray,
        group_of: np.ndarray,
        groups: Mapping[int, tuple[tuple[Any, ...], _Template, Patient]],
    ) -> np.ndarray:
        """Per patient of ``good``: the plan's warnings joined by '; ' ('' for none), as expand() gives them.

        The value checks (:func:`range_warning`, :func:`age_warnings`) are made once per distinct value of a
        column; a patient whose BSA is computed, or checked against a computed one, or whose run caps the BSA
        or derives dosing weights, gets :func:`prepare` once per distinct set of values. The sample check
        compares the result with expand() for sampled patients."""
        import numpy as np

        n = len(good)
        none = np.full(n, -1, dtype=np.int64)

        def codes(key: str) -> np.ndarray:
            return cols[key].codes[good] if key in cols else none

        known = self._said

        def table(key: str, check: str, make: Callable[[Any], Any]) -> np.ndarray:
            # one entry per distinct value, and a last one (None) that code -1 (no value) picks
            found: list[Any] = []
            for v in cols[key].values:
                # by the value's identity, holding the value: a column's reader gives every chunk the same object for
                # a text, and hashing a Fraction is Python code (a chunk has thousands); a value met as another
                # object (another text, a copy sent to a worker) is checked again, never taken for another's
                memo = (check, id(v))
                held = known.get(memo)
                if held is None or held[0] is not v:
                    held = known[memo] = (v, make(v))
                found.append(held[1])
            return np.asarray([*found, None], dtype=object)

        age = codes("age")
        child = table("age", "child", is_child)[age].astype(bool) if "age" in cols else np.zeros(n, dtype=bool)
        # each part: per patient, a code into its table of texts (None: no warning); joined once per distinct
        # combination of codes, not once per patient
        parts: list[tuple[np.ndarray, np.ndarray]] = []
        estimated = _ESTIMATE in cols  # GFRs worked out in columns: their warnings too, in prepare()'s order
        if estimated:  # the creatinine under the floor, first (prepare()'s renal step)
            floor = _DEFAULT_OPTIONS.scr_floor
            texts = table(
                "scr",
                "scr floor",
                lambda v: scr_floor_warning(v, _DEFAULT_OPTIONS) if v is not None and v < floor else None,
            )
            parts.append((np.where(codes("scr") < 0, len(texts) - 1, codes("scr")), texts))
        for key in ("weight", "height", "bsa", *(["scr"] if estimated else [])):
            if key in cols:
                adult = table(key, f"{key} adult", partial(range_warning, key, child=False))
                # a child's ranges only where the chunk has a child (no code reaches them otherwise)
                young = (
                    table(key, f"{key} child", partial(range_warning, key, child=True))
                    if child.any()
                    else np.full(len(adult), None, dtype=object)
                )
                c = np.where(codes(key) < 0, len(adult) - 1, codes(key))
                parts.append((np.where(child, len(adult) + c, c), np.concatenate([adult, young])))
        if "age" in cols:
            texts = table("age", "eligibility", lambda v: "; ".join(age_warnings(self.regimen, v)) or None)
            parts.append((np.where(age < 0, len(texts) - 1, age), texts))
        if parts:
            # a code of a value with no warning is -1, so that the many patients without any share one combination
            said = [np.where(np.asarray([bool(t) for t in texts], dtype=bool)[c], c, -1) for c, texts in parts]
            combos, distinct = _factorize_rows(said)
            joined = [
                "; ".join(texts[k] for k, (_, texts) in zip(row, parts, strict=True) if k >= 0) for row in distinct
            ]
            result: np.ndarray = np.asarray(joined, dtype=object)[combos]
        else:
            result = np.full(n, "", dtype=object)

        w, h, b = codes("weight"), codes("height"), codes("bsa")
        full = (w >= 0) & (h >= 0) & (("bsa" in self.needs) | (b >= 0))
        if self._prepares_each():
            full[:] = True
            if estimated:  # prepare() for the patients whose GFR is its own; the others' warnings are above
                full &= codes(_ESTIMATE) < 0
        if full.any():
            which = np.flatnonzero(full)
            key_codes, uniques = _factorize_rows([codes(k)[which] for k in _RENAL])
            found: list[str | None] = []
            for values in uniques:
                patient = Patient(**_renal_fields(cols, values))
                found.append("; ".join(self._prepared_warnings(patient)))
            result[which] = np.asarray(found, dtype=object)[np.asarray(key_codes, dtype=np.int64)]

        # a roster's kidney values: the warnings of a drug they leave out (cohort.kidney), after prepare()'s, as the
        # plan's renal step gives them after the patient's values are read
        if self._renal_warnings:  # the few patients with one, found in C rather than by a step per patient
            for k in np.flatnonzero(np.isin(good, list(self._renal_warnings))).tolist():
                renal = self._renal_warnings[int(good[k])]
                result[k] = f"{result[k]}; {renal}" if result[k] else renal
        # the template's own (cycles past the source's), after the patient's, as expand() orders them
        extras = {g: "; ".join(t.extra_warnings) for g, (_, t, _) in groups.items() if t.extra_warnings}
        for g, extra in extras.items():
            for i in np.flatnonzero(group_of == g):
                result[i] = f"{result[i]}; {extra}" if result[i] else extra
        return result


__all__ = ["ValueChecks"]
