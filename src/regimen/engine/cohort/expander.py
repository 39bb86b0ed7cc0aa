"""The vectorised expander: one regimen expanded for every patient of a roster chunk.

How it stays exact and fast
---------------------------
A plan's row structure (which drug on which day of which cycle) depends only on which variants apply,
and a row's dose depends only on the dose rule and one body value (weight or BSA). So:

1. each roster column is factorised (``pandas.factorize``) and every *distinct* value is read and checked
   once, by the same code as ``regimen expand`` (:func:`regimen.engine.cohort.roster.read_column`);
2. patients are grouped by the variants their rule values select; each group is expanded once by
   :func:`regimen.engine.expand.expand` for a representative patient, giving the row template;
3. each row's dose, rate and working are computed once per (dose rule, distinct body value) by
   :func:`regimen.engine.doses.day_doses`, what a plan's rows are made from (a pump's hours that day, each of
   several doses a day): exact :class:`~fractions.Fraction` arithmetic, rounded half up for display exactly as a
   single plan is, and broadcast to every patient with numpy indexing.

Python work therefore grows with the number of *distinct* values (a roster recorded to 0.1 kg and
0.01 m² has at most a few thousand), and per-patient work is numpy/pandas only. A roster whose values
are all distinct still gives identical numbers; it is just slower. If a group's template row does not
match ``day_doses`` for its own representative (a feature this decomposition does not cover), the
chunk falls back to expanding each patient with :func:`~regimen.engine.expand.expand`, and says so in the notes.

Output rows are those of ``regimen expand --format csv``, with ``patient_id`` first, in roster order, typed by the
row schema (:data:`regimen.engine.rows.ROW_SCHEMA`).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from fractions import Fraction
from functools import partial
from typing import TYPE_CHECKING, Any, Literal

from regimen.clinical.adjust import Adjustments
from regimen.clinical.body_size import BSA_FORMULAS
from regimen.clinical.patient import read_sex
from regimen.clinical.prepare import (
    ClinicalOptions,
    Gfr,
    Prepared,
    StrictError,
    age_warnings,
    component_weight_key,
    is_child,
    prepare,
    range_warning,
)
from regimen.clinical.renal_adjust import not_checked_note
from regimen.engine.cohort.roster import (
    COLUMNS,
    ERROR_COLUMNS,
    ID_COLUMN,
    MEASURES,
    START_COLUMN,
    CohortError,
    Column,
    RowProblem,
    cell_texts,
    read_column,
    read_creatinine,
    read_date,
    read_number,
)
from regimen.engine.doses import (
    HOURS_PER_DAY,
    DayDose,
    additives_step,
    choose_variant,
    component_schedule,
    day_doses,
)
from regimen.engine.expand import expand
from regimen.engine.plan import Plan
from regimen.engine.requirements import requirements
from regimen.engine.rows import (
    DOSE_FIELDS,
    ROW_FIELDS,
    arrow_array,
    arrow_schema,
    coded_schema,
    csv_record,
    date_column,
    dictionary_array,
    dose_fields,
    empty_frame,
    frame_records,
    kind_of,
    records_frame,
    rows_frame,
    table_records,
)
from regimen.errors import PatientError, RegimenError, option
from regimen.model import Administration, AucDose, Patient, Regimen
from regimen.quantities.exact import DEFAULT_ROUNDING, Rounding

if TYPE_CHECKING:  # pragma: no cover
    import numpy as np
    import pandas as pd
    import pyarrow as pa

#: How a chunk's rows are handed on (:meth:`CohortExpander.expand`): text as objects (False), as categoricals (True),
#: or the rows as an Arrow table ("arrow").
Coding = bool | Literal["arrow"]

#: Columns of a cohort's rows: ``patient_id``, then the row schema.
OUTPUT_COLUMNS: tuple[str, ...] = (ID_COLUMN, *ROW_FIELDS)

# ---- the template of one variant group -------------------------------------------------------------


@dataclass
class _Template:
    """The rows of one variant group's plan, and what each row's numbers depend on."""

    plan: Plan
    records: list[dict[str, Any]]  # row_record of each row, warnings joined as in CSV
    keys: list[_DayRule]  # per row: what its dose is worked out from
    bases: list[str]  # per row: "weight", "bsa" or "flat" (anything else: not vectorised)
    # the plan's warnings that do not come from the patient's values (cycles past the source's): every member's
    extra_warnings: tuple[str, ...] = ()


#: Kinds of row columns held as floats while they are filled (see :data:`regimen.engine.rows.ROW_SCHEMA`).
_NUMERIC = ("number", "count")
_ADJUSTMENTS = ("max_dose", "max_daily", "max_per_cycle", "round_to", "dosing_weight")


@dataclass(frozen=True, slots=True, eq=False)
class _DayRule:
    """What a template row's dose fields are worked out from, besides the patient's body value: the component, its
    dose and duration under the row's variant, a continuous infusion's hours that day (a 46 h pump: 24, then 22)
    and the whole infusion's, and which of several doses a day the row is. The regimen's own objects: rules compare
    by :attr:`key`."""

    comp: Any
    dose: Any
    continuous: bool
    duration: Fraction | None
    hours_today: Fraction
    infusion_hours: Fraction | None
    dose_number: int | None

    @property
    def key(self) -> tuple[Any, ...]:
        hours, whole = self.hours_today, self.infusion_hours
        return (
            id(self.comp),
            id(self.dose),
            self.continuous,
            id(self.duration),
            hours.numerator,
            hours.denominator,
            (whole.numerator, whole.denominator) if whole is not None else None,
            self.dose_number or 0,
        )

    def work(self, patient: Patient, rounding: Rounding, gfr: Gfr | None = None) -> DayDose:
        """The row's dose of the day for ``patient`` (``gfr``: theirs, for a target AUC), by :func:`day_doses`:
        exactly as the patient's plan has it."""
        doses = day_doses(
            self.comp,
            self.dose,
            self.continuous,
            self.duration,
            self.hours_today,
            patient,
            rounding,
            gfr=gfr,
            infusion_hours=self.infusion_hours,
        )
        amount, rate, hours, calculation, number = doses[(self.dose_number or 1) - 1]
        added = additives_step(self.comp)  # the plan's last step of a row of plain dosing
        return amount, rate, hours, calculation if added is None else f"{calculation}; {added}", number


def _row_rule(regimen: Regimen, row: Administration, patient: Patient) -> tuple[_DayRule, str]:
    """What a template row's numbers depend on, and the dose's basis."""
    phase = next(p for p in regimen.phases if p.id == row.phase)
    comp = phase.component(row.component)
    dose, duration = component_schedule(comp, choose_variant(comp, patient, row.cycle))
    continuous = comp.method == "continuous infusion"
    infusion = row.infusion if continuous else None
    hours, whole = (infusion.hours_today, infusion.hours) if infusion is not None else (HOURS_PER_DAY, None)
    return _DayRule(comp, dose, continuous, duration, hours, whole, row.dose_number), str(dose.unit.basis)


def _plain(regimen: Regimen) -> bool:
    """No per-row adjustment in the regimen file (caps, rounding, dose levels, dosing weights)."""
    if getattr(regimen, "dosing_weight", None) is not None:
        return False
    return not any(getattr(c, name, None) for c in regimen.components() for name in (*_ADJUSTMENTS, "levels"))


def _doses_by_auc(regimen: Regimen) -> bool:
    """Some dose is a target AUC (Calvert): each patient's GFR, measured or estimated from the serum creatinine."""
    return any(
        isinstance(d, AucDose)
        for comp in regimen.components()
        for d in [comp.dose, *(v.dose for v in comp.variants), *(lv.dose for lv in comp.levels)]
    )


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


# ---- the expander ----------------------------------------------------------------------------------


@dataclass
class CohortExpander:
    """Expands roster chunks for one regimen; distinct values and templates are remembered across chunks."""

    regimen: Regimen
    cycles: int | Mapping[str, int] | None = None
    cycle_length: int | None = None
    rounding: Rounding = DEFAULT_ROUNDING
    options: ClinicalOptions | None = None  # the run's clinical options (None: the defaults)
    needs: list[str] = field(init=False)
    notes: list[str] = field(init=False, default_factory=list)
    # per (template, basis, body value): where the block's rows are in the run's row table, worked out once
    _blocks: dict[tuple[Any, ...], int] = field(init=False, default_factory=dict, repr=False)
    # per (dose rule, basis, body value): the dose fields of plain dosing, coded for the row table (shared by every
    # template the rule is in: the rows of patients over and under 60 dose the same per day)
    _worked: dict[tuple[Any, ...], tuple[int | float, ...]] = field(init=False, default_factory=dict, repr=False)
    # per (check, value): the warning text of one value's check (:func:`range_warning`, :func:`age_warnings`), made
    # once per run; every chunk holds most of the run's distinct values again
    _said: dict[tuple[str, Any], str | None] = field(init=False, default_factory=dict, repr=False)
    # per set of values (:data:`_RENAL`): prepare()'s warnings, or the message refusing them (:meth:`_prepare`)
    _prepared: dict[tuple[Any, ...], tuple[list[str], Gfr | None] | str] = field(
        init=False, default_factory=dict, repr=False
    )
    # per template: its rows coded for the row table (texts, ints, floats: a column per row)
    _coded: dict[int, tuple[np.ndarray, np.ndarray, np.ndarray]] = field(init=False, default_factory=dict, repr=False)
    _table: _RowTable = field(init=False, default_factory=lambda: _RowTable(), repr=False)
    # each roster column's reader, remembering what it read (a value recurs in every chunk)
    _readers: dict[str, Callable[[str], Any]] = field(init=False, default_factory=dict, repr=False)
    _templates: dict[tuple[Any, ...], _Template] = field(init=False, default_factory=dict, repr=False)
    _rule_names: list[str] = field(init=False, default_factory=list, repr=False)
    # the template of each set of rule values (when every rule reads roster columns only): a plan per set per run
    _by_rules: dict[tuple[Any, ...], tuple[tuple[Any, ...], _Template]] | None = field(
        init=False, default=None, repr=False
    )
    _options: ClinicalOptions | None = field(init=False, default=None, repr=False)
    _strict: ClinicalOptions | None = field(init=False, default=None, repr=False)  # the options, when strict
    _weight_body: bool = field(init=False, default=False, repr=False)  # a dosing weight from height and sex
    _plain: bool = field(init=False, default=True, repr=False)
    _auc: bool = field(init=False, default=False, repr=False)  # a dose by target AUC: the GFR per patient
    # held while a chunk is expanded: everything above is remembered across chunks and grows as they come (the row
    # table most of all), and Dask's local scheduler runs a run's tasks on threads sharing one expander (issue 26:
    # two tasks appending to the row table at once broke it, or gave rows the self-check had to catch). Chunks are
    # expanded one at a time; reading roster parts and writing rows, the tasks' other work, go on beside it
    _lock: threading.Lock = field(init=False, default_factory=threading.Lock, repr=False, compare=False)

    def __post_init__(self) -> None:
        self.needs = requirements(self.regimen)
        names: set[str] = set()
        for comp in self.regimen.components():
            for v in comp.variants:
                names |= v.when.names - {"cycle"}
        self._rule_names = [k for k in COLUMNS if k in names]
        if names <= set(COLUMNS):
            self._by_rules = {}
        self._plain = _plain(self.regimen)
        self._auc = _doses_by_auc(self.regimen)
        kidney = not_checked_note(self.regimen)  # a roster carries no creatinine: the renal tables are not applied
        if kidney is not None:
            self._note(kidney)
        if self.options is not None:
            self._set_options(self.options)
        self._dosing_weight_needs()

    def __getstate__(self) -> dict[str, Any]:
        """Pickled for Dask's worker processes without the lock (a lock does not pickle; each copy gets its own)."""
        state = dict(self.__dict__)
        del state["_lock"]
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        self._lock = threading.Lock()

    @property
    def bsa_formula(self) -> str:
        """The formula of a BSA computed from height and weight (the run's option; Mosteller by default)."""
        return self.options.bsa_formula if self.options is not None else _DEFAULT_OPTIONS.bsa_formula

    def _set_options(self, options: ClinicalOptions) -> None:
        """Check the run's choices against the regimen once (as expand() would for every patient)."""
        run = Prepared(patient=Patient())
        Adjustments.for_run(self.regimen, options, run)  # unknown drugs, undefined dose levels: stop the run
        for warning in run.warnings:  # the run's own warnings (an example formulary), said once
            self._note(warning)
        if options.bsa_cap is not None:
            self._note(
                f"{option('bsa_cap')}: a capped patient's rows show the uncapped and capped BSA in their "
                f"working; the plan's cap warning is not a row warning ({option('strict')} rejects capped "
                "patients)"
            )
        self._options = dataclasses.replace(options, strict=False)
        if options.strict:
            self._strict = options
            self._note(
                f"{option('strict')}: patients whose plans carry a warning are rejected (errors file); the "
                "others are written"
            )

    def _dosing_weight_needs(self) -> None:
        """Ideal, adjusted and lean body weights need each patient's height and sex: roster columns."""
        options = self._options or _DEFAULT_OPTIONS
        keys = {
            component_weight_key(self.regimen, c, options)
            for c in self.regimen.components()
            if any(d.unit.basis == "weight" for d in [c.dose, *(v.dose for v in c.variants if v.dose)])
        }
        if keys - {"actual"}:
            self._weight_body = True
            self.needs = [k for k in COLUMNS if k in {*self.needs, "weight", "height", "sex"}]

    def _bsa_note(self) -> None:
        if "bsa" in self.needs:
            formula = BSA_FORMULAS[self.bsa_formula]
            self._note(
                f"rows without {COLUMNS['bsa']}: BSA from {COLUMNS['weight']} and {COLUMNS['height']} "
                f"by the {formula.name} formula, {formula.equation} ({formula.citation}), as "
                "'regimen expand' computes it"
            )

    def _expand(self, patient: Patient, start: dt.date | None = None, strict: bool = False) -> Plan:
        options = self._strict if strict and self._strict is not None else self._options
        kwargs: dict[str, Any] = {"options": options} if options is not None else {}
        return expand(
            self.regimen,
            patient,
            start=start,
            cycles=self.cycles,
            cycle_length=self.cycle_length,
            rounding=self.rounding,
            **kwargs,
        )

    # -- columns --
    def required_columns(self, available: list[str]) -> list[str]:
        """Roster columns this regimen needs; raises :class:`CohortError` naming any that are absent."""
        cols = [ID_COLUMN]
        for need in self.needs:
            if need == "bsa" and COLUMNS["bsa"] not in available and COLUMNS["height"] in available:
                cols.append(COLUMNS["weight"])  # BSA from height and weight
            else:
                cols.append(COLUMNS[need])
        if self._auc and COLUMNS["gfr"] not in available:  # the GFR estimated from the creatinine
            cols += [COLUMNS[k] for k in self._estimate_needs()]
        missing = [c for c in dict.fromkeys(cols) if c not in available]
        if missing:
            hint = ""
            if self._auc and COLUMNS["scr"] in missing:
                hint = (
                    f" (AUC dosing: each patient's measured GFR in {COLUMNS['gfr']}, or their serum creatinine in "
                    f"{COLUMNS['scr']} with {', '.join(COLUMNS[k] for k in self._estimate_needs()[1:])})"
                )
            if COLUMNS["bsa"] in missing:
                hint = (
                    f" (or give {COLUMNS['height']} and {COLUMNS['weight']}: BSA by {option('bsa_formula')}, "
                    "Mosteller by default)"
                )
            elif self._weight_body and {COLUMNS["height"], COLUMNS["sex"]} & set(missing):
                hint = (
                    f" (the ideal, adjusted and lean body weights need each patient's {COLUMNS['height']} and "
                    f"{COLUMNS['sex']})"
                )
            raise CohortError(
                f"roster has no column {', '.join(missing)} (needed by {self.regimen.id}): add "
                f"{'it' if len(missing) == 1 else 'them'}{hint}"
            )
        return cols

    def _estimate_needs(self) -> list[str]:
        """The values a GFR is estimated from (as ``regimen expand`` estimates it, by the run's method)."""
        method = (self._options or _DEFAULT_OPTIONS).gfr_method
        return ["scr", "age", "sex", "weight" if method == "cockcroft-gault" else "bsa"]

    def expand(
        self,
        roster: pd.DataFrame,
        first_row: int = 1,
        reject: np.ndarray | None = None,
        coded: Coding = False,
        id_texts: list[str | None] | None = None,
    ) -> tuple[Any, pd.DataFrame]:
        """Rows for a roster chunk and its problems. ``first_row`` numbers the chunk's first roster row;
        ``reject`` is a mask of rows already rejected by the caller (their problems reported by it). The rows are a
        DataFrame whose text columns hold str objects (None for missing); ``coded=True``: they may come as
        :class:`pandas.Categorical` (for a sink that writes them as they are: a CSV file); ``coded="arrow"``: the
        rows may come as a :class:`pyarrow.Table` of :func:`~regimen.engine.rows.coded_schema` instead (for a
        Parquet file). ``id_texts``: the chunk's ids as :func:`cell_texts` reads them, when the caller has them.
        Safe to call from several threads at once: one chunk is expanded at a time."""
        with self._lock:
            return self._expand_chunk(roster, first_row, reject, coded, id_texts)

    def _expand_chunk(
        self,
        roster: pd.DataFrame,
        first_row: int,
        reject: np.ndarray | None,
        coded: Coding,
        id_texts: list[str | None] | None,
    ) -> tuple[Any, pd.DataFrame]:
        import numpy as np
        import pandas as pd

        available = [str(c) for c in roster.columns]
        self.required_columns(available)
        read = id_texts if id_texts is not None else cell_texts(roster[ID_COLUMN])
        ids = [t or "" for t in read]
        problems: list[RowProblem] = [
            (first_row + pos, "", ID_COLUMN, "missing: give every row a patient_id")
            for pos, pid in enumerate(ids)
            if not pid
        ]
        bad = np.array([not pid for pid in ids], dtype=bool)
        if reject is not None:
            bad |= np.asarray(reject, dtype=bool)

        height_bsa = "bsa" in self.needs and COLUMNS["height"] in available
        if height_bsa:
            self._bsa_note()
        wanted = list(
            dict.fromkeys(
                [
                    *self.needs,
                    *self._rule_names,
                    *(["weight", "height"] if height_bsa else []),
                    *(["sex"] if COLUMNS["sex"] in available else []),  # a BSA formula may need it
                    # the age, whenever given: eligibility and the usual ranges of adults or children (the plan's
                    # warnings, as 'regimen expand --age' gives them), the limits of weight with height
                    *(["age"] if COLUMNS["age"] in available else []),
                    # body values given though this regimen does not dose by them: checked (usual ranges, weight
                    # with height) as 'regimen expand' checks every value it is given
                    *(k for k in ("weight", "bsa") if COLUMNS[k] in available),
                    *(["height"] if COLUMNS["height"] in available and COLUMNS["weight"] in available else []),
                    # --strict: every value given, as 'regimen expand' would check its warnings
                    *([k for k in COLUMNS if COLUMNS[k] in available] if self._strict else []),
                    # a dose by target AUC: the values its GFR is worked out from
                    *([k for k in _RENAL if COLUMNS[k] in available] if self._auc else []),
                ]
            )
        )
        cols: dict[str, Column] = {}
        for key in wanted:
            name = COLUMNS[key]
            if name not in roster.columns:
                continue  # only bsa_m2 may be absent here (BSA from height and weight)
            reader = self._readers.get(key)
            if reader is None:
                reader = self._readers[key] = _Remembered(
                    read_sex
                    if key == "sex"
                    else read_creatinine
                    if key == "scr"
                    else partial(read_number, m=MEASURES[key])
                )
            required = key in self.needs and not (key == "bsa" and height_bsa)
            cols[key] = read_column(roster[name], reader, name, first_row, ids, problems, required)
        for key in self.needs:
            if key == "bsa" and height_bsa:
                given = cols["bsa"].codes >= 0 if "bsa" in cols else np.zeros(len(roster), dtype=bool)
                computable = (cols["weight"].codes >= 0) & (cols["height"].codes >= 0)
                # a value that did not read is reported under its own column; here: nothing to work with
                blank = self._blank(roster, COLUMNS["bsa"]) & (
                    self._blank(roster, COLUMNS["height"]) | self._blank(roster, COLUMNS["weight"])
                )
                for pos in np.flatnonzero(~given & ~computable & blank):
                    problems.append(
                        (
                            first_row + int(pos),
                            ids[pos],
                            COLUMNS["bsa"],
                            f"missing: give {COLUMNS['bsa']}, or {COLUMNS['height']} and {COLUMNS['weight']}",
                        )
                    )
                bad |= ~given & ~computable
            else:
                bad |= cols[key].codes < 0
        if self._auc:
            bad |= self._without_gfr(roster, cols, first_row, ids, problems)
        if self._prepares_each() and self._strict is None:
            bad |= self._refused(cols, bad, first_row, ids, problems)
        start: Column | None = None
        if START_COLUMN in roster.columns:
            # an empty start date means "no dates for this patient"; an unreadable one is a problem
            start = read_column(roster[START_COLUMN], read_date, START_COLUMN, first_row, ids, problems, False)
        errors = pd.DataFrame(sorted(problems), columns=list(ERROR_COLUMNS)).astype({"row": "int64"})
        if len(errors):  # a row is rejected when any of its problems is reported
            bad[errors["row"].to_numpy() - first_row] = True
        good = np.flatnonzero(~bad)
        try:
            if self._strict is not None:
                raise _NotVectorisable(option("strict"))
            try:
                frame = self._rows(good, cols, start, ids, coded)
            except PatientError as exc:  # a row's outputs refused (an exact dose beyond 64 bits): one by one
                raise _NotVectorisable(f"a patient's values are refused: {exc.message}") from None
        except _NotVectorisable as why:
            self._note(f"rows computed one patient at a time ({why})")
            frame, more = self._rows_each(good, cols, start, ids, first_row)
            if len(more):
                errors = pd.concat([errors, more], ignore_index=True) if len(errors) else more
        return frame, errors

    def _without_gfr(
        self, roster: pd.DataFrame, cols: dict[str, Column], first_row: int, ids: list[str], problems: list[RowProblem]
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
        blank = self._blank(roster, COLUMNS["gfr"]) & np.logical_or.reduce(
            [self._blank(roster, COLUMNS[k]) for k in needs]
        )
        said = f"missing: AUC dosing needs {COLUMNS['gfr']}, or {COLUMNS['scr']} with " + ", ".join(
            COLUMNS[k] for k in needs[1:]
        )
        for pos in np.flatnonzero(without & blank):
            problems.append((first_row + int(pos), ids[pos], COLUMNS["gfr"], said))
        result: np.ndarray = without
        return result

    @staticmethod
    def _blank(roster: pd.DataFrame, column: str) -> np.ndarray:
        import numpy as np

        if column not in roster.columns:
            return np.ones(len(roster), dtype=bool)
        return np.array([t is None for t in cell_texts(roster[column])], dtype=bool)

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

    def _signature(self, patient: Patient, cycles: Mapping[str, int]) -> tuple[Any, ...]:
        """Which variant of each component each cycle gives this patient: patients of one signature share a plan's
        rows (``cycles``: the plan's cycles per phase, the same for every patient)."""
        try:
            return tuple(
                (c.id, cycle, next((i for i, v in enumerate(c.variants) if v is choose_variant(c, patient, cycle)), -1))
                for p in self.regimen.phases
                for c in p.components
                for cycle in range(1, cycles[p.id] + 1)
            )
        except PatientError as exc:  # a rule on a value the engine derives (a BSA from height)
            raise _NotVectorisable(f"a variant rule needs a value computed per patient: {exc.message}") from None

    def _template(self, patient: Patient) -> tuple[tuple[Any, ...], _Template]:
        if self._templates and self._plain and self._options is None:
            # plain dosing: a patient whose variants are those of a template already made needs no plan of their
            # own, only the checks expand() makes of their values first (prepare). A roster holds a rule value per
            # distinct age; each used to cost a whole plan (issue 15: 72 plans, a sixth of a 100k-patient run)
            cycles = next(iter(self._templates.values())).plan.cycles
            signature = self._signature(patient, cycles)
            if signature in self._templates:
                self._prepared_warnings(patient)  # raises _NotVectorisable for values expand() refuses
                return signature, self._templates[signature]
        try:
            plan = self._expand(patient)
        except PatientError as exc:  # a patient expand() refuses: rejected one by one, in the errors file
            raise _NotVectorisable(f"a patient's values are refused: {exc.message}") from None
        signature = self._signature(patient, plan.cycles)
        if signature in self._templates:
            return signature, self._templates[signature]
        keys, bases = [], []
        for row in plan.administrations:
            key, basis = _row_rule(self.regimen, row, patient)
            if basis not in ("weight", "bsa", "flat", "auc"):
                raise _NotVectorisable(f"{row.drug}: a dose per {basis}")
            keys.append(key)
            bases.append(basis)
        own = set(self._prepared_warnings(patient))
        extra = tuple(w for w in plan.plan_warnings if w not in own)
        template = _Template(plan, [csv_record(plan, r) for r in plan.administrations], keys, bases, extra)
        self._templates[signature] = template
        return signature, template

    def _plain_block(self, body: tuple[Any, ...]) -> bool:
        """A block of plain dosing: its records differ from the template's only in :data:`DOSE_FIELDS`."""
        return self._plain and self._options is None and body[0] != "height"

    def _block_starts(
        self, signature: tuple[Any, ...], template: _Template, basis: str, keys: list[tuple[Any, ...]], rep: Patient
    ) -> np.ndarray:
        """For each body value of ``keys`` (how it is given), where the template's rows of one basis for it start
        in the run's row table (:class:`_RowTable`): worked out once per run (``rep``: the group's patient, given
        the body value when it is worked out). Plain dosing is worked out for all new values at once: one
        :func:`day_doses` per dose rule and value, then the template's coded rows repeated with their dose
        fields put in (numpy), not a record per row."""
        import numpy as np

        starts = np.empty(len(keys), dtype=np.int64)
        plain: list[int] = []
        for i, key in enumerate(keys):
            hit = self._blocks.get((signature, basis, key))
            if hit is not None:
                starts[i] = hit
            elif self._plain_block(key):
                plain.append(i)
            else:
                records = self._block_records(template, basis, key, self._body_patient(rep, basis, key))
                starts[i] = self._blocks[(signature, basis, key)] = self._table.add(records)
        if plain:
            new = [keys[i] for i in plain]
            first, size = self._plain_blocks(template, basis, new, rep)
            for n, (i, key) in enumerate(zip(plain, new, strict=True)):
                starts[i] = self._blocks[(signature, basis, key)] = first + n * size
        return starts

    def _plain_blocks(
        self, template: _Template, basis: str, keys: list[tuple[Any, ...]], rep: Patient
    ) -> tuple[int, int]:
        """Add the blocks of plain dosing for body values ``keys`` (none yet in the table), one after another; the
        table's row of the first, and the rows a block has. Each row is its template row with the fields that come
        from the dose (:data:`DOSE_FIELDS`: the days of one rule share one working), as in expand()."""
        import numpy as np

        rows = [j for j, b in enumerate(template.bases) if b == basis]
        rules: dict[tuple[int, ...], int] = {}  # each rule's number, by its key
        spec: list[_DayRule] = []  # each rule, in order of its number
        rule_list: list[int] = []  # each row's rule
        for j in rows:
            number = rules.setdefault(template.keys[j].key, len(rules))
            if number == len(spec):
                spec.append(template.keys[j])
            rule_list.append(number)
        rule_of = np.asarray(rule_list, dtype=np.int64)
        # the dose fields of each rule and body value: ints (the exact dose's numerator and denominator) apart from
        # the floats and text codes, so that a numerator is never taken through a float
        worked = np.zeros((len(DOSE_FIELDS), len(rules), len(keys)), dtype=np.float64)
        worked_ints = np.zeros((len(DOSE_FIELDS), len(rules), len(keys)), dtype=np.int64)
        for k, key in enumerate(keys):
            patient: Patient | None = None  # made only when a rule's working is not yet remembered
            gfr: Gfr | None = None
            for r, rule in enumerate(spec):
                memo = (*rule.key, basis, key)
                fields = self._worked.get(memo)
                if fields is None:
                    if patient is None:
                        patient = self._body_patient(rep, basis, key)
                        gfr = self._gfr(patient) if basis == "auc" else None
                    amount, rate, hours, calculation, _ = rule.work(patient, self.rounding, gfr)
                    fields = self._worked[memo] = self._table.dose_codes(
                        dose_fields(self.rounding, amount, rate, hours, calculation)
                    )
                for field_at, (kind, _) in enumerate(_DOSE_AT):
                    (worked_ints if kind == "int" else worked)[field_at, r, k] = fields[field_at]
        texts, ints, floats = self._template_codes(template)
        n, size = len(keys), len(rows)
        texts, ints, floats = (np.tile(a[:, rows], n) for a in (texts, ints, floats))
        rule_at, key_at = np.tile(rule_of, n), np.repeat(np.arange(n), size)
        for field_at, (kind, k) in enumerate(_DOSE_AT):
            if kind == "int":
                ints[k] = worked_ints[field_at][rule_at, key_at]
                continue
            values = worked[field_at][rule_at, key_at]
            if kind == "text":
                texts[k] = values.astype(np.int32)
            else:
                floats[k] = values
        return self._table.append(texts, ints, floats), size

    def _gfr(self, patient: Patient) -> Gfr | None:
        """The patient's GFR for a target AUC, worked out as expand() works it out (:func:`prepare`)."""
        said = self._prepare(patient)
        if isinstance(said, str):
            raise _NotVectorisable(f"a patient's values are refused: {said}")
        return said[1]

    def _template_codes(self, template: _Template) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        found = self._coded.get(id(template))
        if found is None:
            # the dose fields are each block's own: left out, so that the representative's never reach a dictionary
            # (an int column holds 0 until a block's own value is put in)
            none = {k: 0 if kind_of(k) == "int" else None for k in DOSE_FIELDS}
            undosed = [{**r, **none} for r in template.records]
            found = self._coded[id(template)] = self._table.encode(undosed)
        return found

    def _block_records(
        self, template: _Template, basis: str, body: tuple[Any, ...], patient: Patient
    ) -> list[dict[str, Any]]:
        """Records of the template's rows of one basis, for a patient of one body value."""
        rows = [j for j, b in enumerate(template.bases) if b == basis]
        # not plain dosing (caps, rounding, a BSA from height): the engine itself, for a patient with this value
        try:
            plan = self._expand(patient)
        except PatientError as exc:  # e.g. an ideal body weight under 152.4 cm: rejected one by one
            raise _NotVectorisable(f"a patient's values are refused: {exc.message}") from None
        if len(plan.administrations) != len(template.records) or any(
            (r.phase, r.cycle, r.day, r.component) != (t.phase, t.cycle, t.day, t.component)
            for r, t in zip(plan.administrations, template.plan.administrations, strict=True)
        ):
            raise _NotVectorisable("the rows of a plan depend on a body value")
        return [csv_record(plan, plan.administrations[j]) for j in rows]

    def _body_keys(self, cols: dict[str, Column], members: np.ndarray, basis: str) -> tuple[np.ndarray, list[Any]]:
        """Per member, a code of its body value for ``basis`` (weight; BSA given or from height), and the keys."""
        import numpy as np

        if basis == "flat":
            return np.zeros(len(members), dtype=np.int64), [("flat",)]
        if basis == "auc":  # every value the GFR is worked out from: the key's patient is the member
            none = np.full(len(members), -1, dtype=np.int64)
            found = [cols[k].codes[members] if k in cols else none for k in _RENAL]
            codes, uniques = _factorize_rows(found)
            return np.asarray(codes, dtype=np.int64), [("auc", *_renal_fields(cols, u).values()) for u in uniques]
        age = cols["age"].codes[members] if "age" in cols else np.full(len(members), -1, dtype=np.int64)

        def age_value(code: int) -> Any:
            return cols["age"].values[code] if code >= 0 else None

        if basis == "weight" and self._weight_body:  # a dosing weight from weight, height, sex (and age: limits)
            wc, hc, sc = (cols[k].codes[members] for k in ("weight", "height", "sex"))
            codes, uniques = _factorize_rows([wc, hc, sc, age])
            return np.asarray(codes, dtype=np.int64), [
                ("given", cols["weight"].values[w], cols["height"].values[h], cols["sex"].values[x], age_value(a))
                for w, h, x, a in uniques
            ]
        if basis == "weight":
            codes = cols["weight"].codes[members]
            used = np.unique(codes)
            lookup = np.zeros(len(cols["weight"].values), dtype=np.int64)
            lookup[used] = np.arange(len(used))
            return lookup[codes], [("given", cols["weight"].values[u]) for u in used]
        bsa = cols["bsa"].codes[members] if "bsa" in cols else np.full(len(members), -1, dtype=np.int64)
        w = cols["weight"].codes[members] if "weight" in cols else np.full(len(members), -1, dtype=np.int64)
        h = cols["height"].codes[members] if "height" in cols else np.full(len(members), -1, dtype=np.int64)
        s = cols["sex"].codes[members] if "sex" in cols else np.full(len(members), -1, dtype=np.int64)
        given = bsa >= 0
        codes, uniques = _factorize_rows(
            [
                np.where(given, bsa, -1),
                np.where(given, -1, w),
                np.where(given, -1, h),
                np.where(given, -1, s),
                np.where(given, -1, age),
            ]
        )

        def value(key: str, code: int) -> Any:
            return cols[key].values[code] if code >= 0 else None

        # keys are exact values, never chunk-local codes: blocks are remembered across chunks
        keys = [
            ("given", value("bsa", b))
            if b >= 0
            else ("height", value("weight", wc), value("height", hc), value("sex", sc), age_value(a))
            for b, wc, hc, sc, a in uniques
        ]
        return np.asarray(codes, dtype=np.int64), keys

    @staticmethod
    def _body_patient(rep: Patient, basis: str, key: tuple[Any, ...]) -> Patient:
        if key[0] == "flat":
            return rep
        if key[0] == "auc":
            return dataclasses.replace(rep, **{_PATIENT_FIELD[k]: v for k, v in zip(_RENAL, key[1:], strict=True)})
        if basis == "weight" and len(key) == 5:
            return dataclasses.replace(rep, weight_kg=key[1], height_cm=key[2], sex=key[3], age_years=key[4])
        if basis == "weight":
            return dataclasses.replace(rep, weight_kg=key[1])
        if key[0] == "given":
            return dataclasses.replace(rep, bsa_m2=key[1])
        _, weight, height, sex, age = key
        return dataclasses.replace(
            rep, bsa_m2=None, weight_kg=weight, height_cm=height, sex=sex if sex is not None else rep.sex, age_years=age
        )

    def _rows(
        self, good: np.ndarray, cols: dict[str, Column], start: Column | None, ids: list[str], coded: Coding = False
    ) -> Any:
        import numpy as np

        if len(good) == 0:
            return empty_frame(OUTPUT_COLUMNS)
        # 1. variant groups: patients with the same rule values share a template
        rule_codes = [cols[k].codes[good] for k in self._rule_names]
        if rule_codes:
            inverse, combos = _factorize_rows(rule_codes)
            first = np.zeros(len(combos), dtype=np.int64)
            first[inverse[::-1]] = np.arange(len(inverse))[::-1]  # each combination's first patient
        else:
            first, inverse = np.array([0]), np.zeros(len(good), dtype=np.int64)
        signatures: dict[tuple[Any, ...], int] = {}
        combo_group: list[int] = []
        groups: dict[int, tuple[tuple[Any, ...], _Template, Patient]] = {}
        for f in first:
            rep = self._patient(cols, int(good[f]))
            rules = tuple(getattr(rep, _PATIENT_FIELD[k]) for k in self._rule_names)
            known = self._by_rules.get(rules) if self._by_rules is not None else None
            signature, template = known if known is not None else self._template(rep)
            if self._by_rules is not None:
                self._by_rules[rules] = (signature, template)
            g = signatures.setdefault(signature, len(signatures))
            groups.setdefault(g, (signature, template, rep))
            combo_group.append(g)
        group_of = np.asarray(combo_group, dtype=np.int64)[inverse]
        counts = np.array([len(groups[g][1].records) for g in range(len(groups))], dtype=np.int64)[group_of]
        offsets = np.concatenate([[0], np.cumsum(counts)[:-1]]).astype(np.int64)
        out = _Columns(int(counts.sum()), self._table)
        start_ord = np.full(len(good), -1, dtype=np.int64)
        if start is not None:
            ords = np.array([d.toordinal() if d is not None else -1 for d in start.values] + [-1], dtype=np.int64)
            start_ord = ords[start.codes[good]]
        id_arr = np.asarray(ids, dtype=object)[good]
        checks: list[int] = []
        # 2. per group: structure broadcast, numbers looked up per distinct body value
        for g, (signature, template, rep) in groups.items():
            members = np.flatnonzero(group_of == g)
            pos = offsets[members][:, None] + np.arange(len(template.records))[None, :]
            out.fill_dates(pos, start_ord[members], template)
            for basis in dict.fromkeys(template.bases):
                codes, keys = self._body_keys(cols, good[members], basis)
                first = self._block_starts(signature, template, basis, keys, rep)[codes]
                for i, j in enumerate(j for j, b in enumerate(template.bases) if b == basis):
                    out.rows[pos[:, j]] = first + i  # member m's row j is row i of its body value's block
                if basis == "bsa":  # check one patient of each way the BSA is given
                    checks += [
                        int(members[np.flatnonzero(codes == c)[0]])
                        for c in {k[0]: i for i, k in enumerate(keys)}.values()
                    ]
            checks.append(int(members[0]))
        # 3. the plan's own warnings, per patient, on each of the patient's rows
        out.set_per_patient(ID_COLUMN, id_arr, counts)
        out.set_per_patient("plan_warnings", self._plan_warnings(cols, good, group_of, groups), counts)
        table = out.arrow() if coded == "arrow" else None
        self._check(out, table, good, offsets, counts, cols, start, ids, sorted(set(checks)))
        return table if table is not None else out.frame(coded is True)

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
        self, cols: dict[str, Column], bad: np.ndarray, first_row: int, ids: list[str], problems: list[RowProblem]
    ) -> np.ndarray:
        """Rows whose values :func:`prepare` refuses (an impossible GFR estimate, an ideal weight under 152.4 cm),
        one problem each; once per distinct set of values."""
        import numpy as np

        which = np.flatnonzero(~bad)
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
                memo = (check, v)  # looked up once: hashing a Fraction is Python code, and a chunk has thousands
                said = known.get(memo, known)  # (the dict itself: never a value, so it marks "not yet")
                if said is known:
                    said = known[memo] = make(v)
                found.append(said)
            return np.asarray([*found, None], dtype=object)

        age = codes("age")
        child = table("age", "child", is_child)[age].astype(bool) if "age" in cols else np.zeros(n, dtype=bool)
        # each part: per patient, a code into its table of texts (None: no warning); joined once per distinct
        # combination of codes, not once per patient
        parts: list[tuple[np.ndarray, np.ndarray]] = []
        for key in ("weight", "height", "bsa"):
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
        if full.any():
            which = np.flatnonzero(full)
            key_codes, uniques = _factorize_rows([codes(k)[which] for k in _RENAL])
            found: list[str | None] = []
            for values in uniques:
                patient = Patient(**_renal_fields(cols, values))
                found.append("; ".join(self._prepared_warnings(patient)))
            result[which] = np.asarray(found, dtype=object)[np.asarray(key_codes, dtype=np.int64)]

        # the template's own (cycles past the source's), after the patient's, as expand() orders them
        extras = {g: "; ".join(t.extra_warnings) for g, (_, t, _) in groups.items() if t.extra_warnings}
        for g, extra in extras.items():
            for i in np.flatnonzero(group_of == g):
                result[i] = f"{result[i]}; {extra}" if result[i] else extra
        return result

    def _check(
        self,
        out: _Columns,
        table: pa.Table | None,
        good: np.ndarray,
        offsets: np.ndarray,
        counts: np.ndarray,
        cols: dict[str, Column],
        start: Column | None,
        ids: list[str],
        which: list[int],
    ) -> None:
        """Self-check: sample patients' rows must equal expand() for them, field by field. They are read back from
        ``table`` when the rows go out as that Arrow table (what is written is what is checked), else from the
        frame."""
        import numpy as np

        if not which:
            return
        # the sampled patients' rows, read back at once
        at = np.concatenate([np.arange(offsets[k], offsets[k] + counts[k]) for k in which])
        got = table_records(table.take(at)) if table is not None else frame_records(out.frame(at=at))
        for k in which:
            pos = int(good[k])
            when = start.values[start.codes[pos]] if start is not None and start.codes[pos] >= 0 else None
            plan = self._expand(self._patient(cols, pos), start=when)
            expected = [csv_record(plan, r) for r in plan.administrations]
            mine, got = got[: int(counts[k])], got[int(counts[k]) :]
            if [{**e, ID_COLUMN: ids[pos]} for e in expected] != mine:
                raise _NotVectorisable("the vectorised rows differed from 'regimen expand' for a sample patient")

    def _rows_each(
        self, good: np.ndarray, cols: dict[str, Column], start: Column | None, ids: list[str], first_row: int
    ) -> tuple[pd.DataFrame, pd.DataFrame]:
        """The exact fallback: one :func:`expand` per patient (a patient it rejects becomes a problem row)."""
        import pandas as pd

        records: list[dict[str, Any]] = []
        problems: list[RowProblem] = []
        for pos in good:
            when = start.values[start.codes[pos]] if start is not None and start.codes[pos] >= 0 else None
            try:
                plan = self._expand(self._patient(cols, int(pos)), start=when, strict=True)
                rows = [{ID_COLUMN: ids[pos], **csv_record(plan, r)} for r in plan.administrations]
            except (PatientError, StrictError) as exc:
                problems.append((first_row + int(pos), ids[pos], "", exc.message))
                continue
            records.extend(rows)
        return records_frame(records, OUTPUT_COLUMNS), pd.DataFrame(problems, columns=list(ERROR_COLUMNS))

    def _note(self, text: str) -> None:
        if text not in self.notes:
            self.notes.append(text)


#: The columns a template row gives (all but the patient's id and the plan's warnings), by how they are held.
_ROW_TEXT = tuple(c for c in OUTPUT_COLUMNS if kind_of(c) == "text" and c not in (ID_COLUMN, "plan_warnings"))
_ROW_INTS = tuple(c for c in OUTPUT_COLUMNS if kind_of(c) == "int")
_ROW_FLOATS = tuple(c for c in OUTPUT_COLUMNS if kind_of(c) in _NUMERIC)  # NaN for missing; counts become Int64
#: Where each of :data:`DOSE_FIELDS` is held in a :class:`_RowTable`: ("text", its row of texts), ("int", ...) or
#: ("float", ...).
_DOSE_AT = tuple(
    ("text", _ROW_TEXT.index(name))
    if kind_of(name) == "text"
    else ("int", _ROW_INTS.index(name))
    if kind_of(name) == "int"
    else ("float", _ROW_FLOATS.index(name))
    for name in DOSE_FIELDS
)


class _Dictionary:
    """The distinct values of a text column and their codes (-1: missing), in order of first appearance."""

    __slots__ = ("index", "values")

    def __init__(self, values: list[str] | None = None) -> None:
        self.values: list[str] = values if values is not None else []
        self.index: dict[str, int] | None = None  # made when first asked (a chunk's ids never are)

    def code(self, value: str | None) -> int:
        if value is None:
            return -1
        if self.index is None:
            self.index = {v: i for i, v in enumerate(self.values)}
        found = self.index.get(value)
        if found is None:
            found = self.index[value] = len(self.values)
            self.values.append(value)
        return found


class _RowTable:
    """Every distinct output row of a run (a template row for one body value), as the output holds it: the codes
    of its texts (:data:`_ROW_TEXT`, into the table's dictionaries) and its numbers (:data:`_ROW_INTS`,
    :data:`_ROW_FLOATS`), one array per column. A cohort of a million patients has a few thousand such rows; a
    chunk's output is each column of this table taken at the chunk's row numbers, one numpy gather per column."""

    def __init__(self) -> None:
        import numpy as np

        self.size = 0
        self._arrow: pa.Table | None = None  # the rows as Arrow columns (:meth:`arrow`), while no row is added
        self.dictionaries = {c: _Dictionary() for c in _ROW_TEXT}
        self.texts = np.full((len(_ROW_TEXT), 256), -1, dtype=np.int32)
        self.ints = np.zeros((len(_ROW_INTS), 256), dtype=np.int64)
        self.floats = np.full((len(_ROW_FLOATS), 256), np.nan)

    def encode(self, records: list[dict[str, Any]]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """The records as the table holds rows: text codes, ints and floats, a column per record."""
        import numpy as np

        n = len(records)
        texts = np.array(
            [[self.dictionaries[c].code(r.get(c)) for r in records] for c in _ROW_TEXT], dtype=np.int32
        ).reshape(len(_ROW_TEXT), n)
        ints = np.array([[r[c] for r in records] for c in _ROW_INTS], dtype=np.int64).reshape(len(_ROW_INTS), n)
        floats = np.array(
            [[float("nan") if r.get(c) is None else r[c] for r in records] for c in _ROW_FLOATS], dtype=np.float64
        ).reshape(len(_ROW_FLOATS), n)
        return texts, ints, floats

    def dose_codes(self, fields: dict[str, Any]) -> tuple[int | float, ...]:
        """The :data:`DOSE_FIELDS` of a record as the table holds them, in the order of :data:`_DOSE_AT`: text as
        its code, an int as it is (a numerator is never taken through a float), a number as a float."""
        out: list[int | float] = []
        for name, (kind, _) in zip(DOSE_FIELDS, _DOSE_AT, strict=True):
            value = fields.get(name)
            if kind == "text":
                out.append(self.dictionaries[name].code(value))
            elif kind == "int":
                out.append(int(fields[name]))  # never missing (an exact dose's numerator or denominator)
            else:
                out.append(float("nan") if value is None else float(value))
        return tuple(out)

    def append(self, texts: np.ndarray, ints: np.ndarray, floats: np.ndarray) -> int:
        """Add coded rows (a column each, as :meth:`encode` gives them); the table's row number of the first."""
        import numpy as np

        first, self.size = self.size, self.size + texts.shape[1]
        if self.size > self.texts.shape[1]:  # grow by doubling
            cap = max(2 * self.texts.shape[1], self.size)
            self.texts = np.concatenate([self.texts, np.full((len(_ROW_TEXT), cap), -1, dtype=np.int32)], axis=1)
            self.ints = np.concatenate([self.ints, np.zeros((len(_ROW_INTS), cap), dtype=np.int64)], axis=1)
            self.floats = np.concatenate([self.floats, np.full((len(_ROW_FLOATS), cap), np.nan)], axis=1)
        self.texts[:, first : self.size] = texts
        self.ints[:, first : self.size] = ints
        self.floats[:, first : self.size] = floats
        return first

    def add(self, records: list[dict[str, Any]]) -> int:
        """Add the rows of ``records``; the table's row number of the first."""
        return self.append(*self.encode(records))

    def arrow(self) -> pa.Table:
        """The table's rows as Arrow columns of the coded schema (text: its dictionary and int32 codes; missing:
        null), made again only when rows were added: what a chunk's rows are taken from."""
        import numpy as np
        import pyarrow as pa

        if self._arrow is not None and self._arrow.num_rows == self.size:
            return self._arrow
        n = self.size
        columns: dict[str, pa.Array] = {}
        for k, c in enumerate(_ROW_TEXT):
            columns[c] = dictionary_array(self.texts[k, :n], self.dictionaries[c].values)
        for k, c in enumerate(_ROW_INTS):
            columns[c] = pa.array(self.ints[k, :n])
        for k, c in enumerate(_ROW_FLOATS):
            values = self.floats[k, :n]
            missing = np.isnan(values)
            if kind_of(c) == "count":
                values = np.where(missing, 0, values).astype(np.int64)
            columns[c] = arrow_array(values, missing)
        self._arrow = pa.table(columns)
        return self._arrow


class _Columns:
    """A chunk's output: each row's number in the run's :class:`_RowTable`, its date, and the columns of its
    patient (the id and the plan's warnings). The frame hands text on as :class:`pandas.Categorical` (which
    Parquet writes as its dictionary) or as str objects taken from the distinct values once."""

    def __init__(self, n: int, table: _RowTable) -> None:
        import numpy as np

        self.n = n
        self.table = table
        self.rows = np.zeros(n, dtype=np.int64)  # each output row's row in the table
        self.own: dict[str, tuple[np.ndarray, _Dictionary]] = {}  # the ids and the plan's warnings
        self.date_ord = np.full(n, -1, dtype=np.int64)  # date.toordinal(); -1: no date

    def fill_dates(self, pos: np.ndarray, start_ord: np.ndarray, t: _Template) -> None:
        import numpy as np

        course = np.asarray([r.course_day for r in t.plan.administrations], dtype=np.int64)
        dated = start_ord >= 0
        self.date_ord[pos[dated]] = start_ord[dated][:, None] + course[None, :] - 1

    def set_per_patient(self, column: str, values: np.ndarray, counts: np.ndarray) -> None:
        """Every row gets its patient's value: ``values`` (objects, None for missing) per patient, whose rows are
        ``counts`` consecutive rows each, in order, from the first row."""
        import numpy as np
        import pandas as pd

        codes, uniques = pd.factorize(np.asarray(values, dtype=object), use_na_sentinel=True)
        self.own[column] = (np.repeat(np.asarray(codes, dtype=np.int32), counts), _Dictionary(list(uniques)))

    def frame(self, coded: bool = False, at: np.ndarray | None = None) -> pd.DataFrame:
        """The frame of the rows (of the rows at positions ``at`` only, if given); ``coded``: its text columns as
        :class:`pandas.Categorical`."""
        import numpy as np
        import pandas as pd

        def text(codes: np.ndarray, values: list[str]) -> Any:
            if coded:
                return pd.Categorical.from_codes(codes, categories=pd.Index(values, dtype=object), validate=False)
            return np.asarray([*values, None], dtype=object)[codes]

        t = self.table
        rows = self.rows if at is None else self.rows[at]
        columns: dict[str, Any] = {
            c: text(codes if at is None else codes[at], d.values) for c, (codes, d) in self.own.items()
        }
        columns.update({c: text(t.texts[k][rows], t.dictionaries[c].values) for k, c in enumerate(_ROW_TEXT)})
        columns.update({c: t.ints[k][rows] for k, c in enumerate(_ROW_INTS)})
        columns.update({c: t.floats[k][rows] for k, c in enumerate(_ROW_FLOATS)})
        dates = date_column(self.date_ord if at is None else self.date_ord[at])
        return rows_frame({**columns, "date": dates}, OUTPUT_COLUMNS)

    def arrow(self) -> pa.Table:
        """The rows as an Arrow table of :func:`~regimen.engine.rows.coded_schema` (text as its dictionary and
        int32 codes, missing values null), built from the codes without a pandas frame in between (issue 15): the
        row table's columns taken at the chunk's row numbers by Arrow (:meth:`_RowTable.arrow`), then the patient's
        own columns and the dates. The same table as ``pyarrow.Table.from_pandas`` of :meth:`frame`, coded (a test
        holds them equal)."""
        import numpy as np
        import pyarrow as pa

        taken = self.table.arrow().take(pa.array(self.rows))
        columns: dict[str, Any] = {c: taken.column(c) for c in taken.column_names}  # chunked arrays, as they are
        for c, (codes, d) in self.own.items():
            columns[c] = dictionary_array(codes, d.values)
        days = self.date_ord
        seconds = arrow_array((days - _EPOCH_ORDINAL) * np.int64(86_400), days < 0)
        columns["date"] = seconds.view(pa.timestamp("s"))
        schema = coded_schema(arrow_schema(OUTPUT_COLUMNS))
        return pa.Table.from_arrays([columns[c] for c in OUTPUT_COLUMNS], schema=schema)


#: ``date.toordinal()`` of 1970-01-01: Arrow's timestamps count seconds from it.
_EPOCH_ORDINAL = dt.date(1970, 1, 1).toordinal()


__all__ = ["OUTPUT_COLUMNS", "CohortExpander"]
