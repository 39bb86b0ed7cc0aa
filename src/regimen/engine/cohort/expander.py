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
import gc
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from functools import partial
from typing import TYPE_CHECKING, Any, Literal

from regimen.clinical.adjust import Adjustments
from regimen.clinical.body_size import BSA_FORMULAS
from regimen.clinical.gfr import Gfr
from regimen.clinical.patient import read_sex
from regimen.clinical.prepare import (
    ClinicalOptions,
    Prepared,
    StrictError,
    component_weight_key,
)
from regimen.clinical.renal_adjust import not_checked_note, renal_drugs
from regimen.engine.cohort.calvert import CalvertBlocks
from regimen.engine.cohort.kidney import kidney_frame, kidney_rows, kidney_sample, left_out_checks, template_patient
from regimen.engine.cohort.roster import (
    COLUMNS,
    ERROR_COLUMNS,
    ID_COLUMN,
    MEASURES,
    START_COLUMN,
    CohortError,
    Column,
    PatientIds,
    RowProblem,
    read_column,
    read_creatinine,
    read_date,
    read_number,
)
from regimen.engine.cohort.rowtable import OUTPUT_COLUMNS, _Columns, _RowTable
from regimen.engine.cohort.templates import TemplateBlocks, _doses_by_auc, _plain, _Template
from regimen.engine.cohort.values import (
    _DEFAULT_OPTIONS,
    _ESTIMATE,
    _PATIENT_FIELD,
    _RENAL,
    _factorize_rows,
    _NotVectorisable,
    _Remembered,
)
from regimen.engine.expand import expand
from regimen.engine.outcomes import condition_values
from regimen.engine.plan import Plan
from regimen.engine.requirements import requirements
from regimen.engine.row_frames import empty_frame, frame_records, records_frame, table_records
from regimen.engine.rows import csv_records
from regimen.errors import PatientError, option
from regimen.model import OrganBand, Patient, Regimen
from regimen.quantities.exact import DEFAULT_ROUNDING, Rounding

if TYPE_CHECKING:  # pragma: no cover
    import numpy as np
    import pandas as pd
    import pyarrow as pa


#: How a chunk's rows are handed on (:meth:`CohortExpander.expand`): text as objects (False), as categoricals (True),
#: or the rows as an Arrow table ("arrow").
Coding = bool | Literal["arrow"]


# ---- the expander ----------------------------------------------------------------------------------


@dataclass
class CohortExpander(CalvertBlocks, TemplateBlocks):
    """Expands roster chunks for one regimen; distinct values and templates are remembered across chunks."""

    regimen: Regimen
    cycles: int | Mapping[str, int] | None = None
    cycle_length: int | None = None
    rounding: Rounding = DEFAULT_ROUNDING
    options: ClinicalOptions | None = None  # the run's clinical options (None: the defaults)
    needs: list[str] = field(init=False)
    notes: list[str] = field(init=False, default_factory=list)
    # per (template, basis), per body value: where the block's rows are in the run's row table, worked out once
    _blocks: dict[tuple[Any, ...], dict[tuple[Any, ...], int]] = field(init=False, default_factory=dict, repr=False)
    # per (dose rule, basis, body value): the dose fields of plain dosing, coded for the row table (shared by every
    # template the rule is in: the rows of patients over and under 60 dose the same per day)
    _worked: dict[tuple[Any, ...], tuple[int | float, ...]] = field(init=False, default_factory=dict, repr=False)
    # per (check, id of a value): the value and the warning text of its check (:func:`range_warning`,
    # :func:`age_warnings`), made once per run; every chunk holds most of the run's distinct values again
    _said: dict[tuple[str, int], tuple[Any, str | None]] = field(init=False, default_factory=dict, repr=False)
    # per set of values (:data:`_RENAL`): prepare()'s warnings, or the message refusing them (:meth:`_prepare`)
    _prepared: dict[tuple[Any, ...], tuple[list[str], Gfr | None] | str] = field(
        init=False, default_factory=dict, repr=False
    )
    # for a target AUC: the GFR of each hundredth of a mL/min estimated in columns, and each GFR by its text (a block's
    # key), made once per run
    _gfrs: dict[int, Gfr] = field(init=False, default_factory=dict, repr=False)
    _gfr_texts: dict[str, Gfr] = field(init=False, default_factory=dict, repr=False)
    # per signature: the row table's first row of the Calvert block of each GFR estimated in columns, at its
    # hundredths of a mL/min (-1: none yet; :class:`CalvertBlocks`)
    _gfr_blocks: dict[tuple[Any, ...], np.ndarray] = field(init=False, default_factory=dict, repr=False)
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
    # renal tables (not of an AUC dose): the run's note without the roster's kidney values, and with them
    _kidney_notes: tuple[str, str] | None = field(init=False, default=None, repr=False)
    # while a chunk's kidney values are applied: each member's renal bands, by patient id (cohort.kidney)
    _bands: dict[str, tuple[str, dict[str, OrganBand]]] = field(init=False, default_factory=dict, repr=False)
    # and the drugs they leave out: the components, by patient id, and the plan's warnings, by roster position
    _left_out: dict[str, frozenset[str]] = field(init=False, default_factory=dict, repr=False)
    _renal_warnings: dict[int, str] = field(init=False, default_factory=dict, repr=False)
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
        # renal tables (capecitabine's, cisplatin's): applied from each patient's kidney values when the roster has
        # them (scr_mgdl with age, sex and weight_kg, or gfr_mlmin), by that patient's own plan; else not checked
        given = (
            f"{COLUMNS['scr']} (with {COLUMNS['age']}, {COLUMNS['sex']} and {COLUMNS['weight']}) or {COLUMNS['gfr']}"
        )
        kidney = not_checked_note(self.regimen, f"add {given} to the roster")
        if kidney is not None and self._auc:  # an AUC dose reads the kidney columns anyway: said once, as before
            self._note(kidney)
        elif kidney is not None:
            self._kidney_notes = (
                kidney,
                f"renal dose adjustments of {', '.join(renal_drugs(self.regimen))} applied by each patient's plan from "
                f"the roster's {given}; a patient without them is planned at the full dose, with the warning that "
                "kidney function was not checked",
            )
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
        id_texts: PatientIds | None = None,
    ) -> tuple[Any, pd.DataFrame]:
        """Rows for a roster chunk and its problems. ``first_row`` numbers the chunk's first roster row;
        ``reject`` is a mask of rows already rejected by the caller (their problems reported by it). The rows are a
        DataFrame whose text columns hold str objects (None for missing); ``coded=True``: they may come as
        :class:`pandas.Categorical` (for a sink that writes them as they are: a CSV file); ``coded="arrow"``: the
        rows may come as a :class:`pyarrow.Table` of :func:`~regimen.engine.row_frames.coded_schema` instead (for a
        Parquet file). ``id_texts``: the chunk's ids (:class:`PatientIds`), when the caller has them.
        Safe to call from several threads at once: one chunk is expanded at a time.

        The cyclic garbage collector is paused while a chunk is expanded, and left as the caller had it: what a chunk
        makes per distinct value and keeps for the run (a target AUC's GFRs, their texts and blocks: a few thousand
        a chunk) set off full collections, each scanning every object of the process (pandas, pyarrow, pint) for
        a tenth of a 100k-patient AUC run's time (issue 29); a chunk's garbage is collected after it."""
        with self._lock:
            collecting = gc.isenabled()
            gc.disable()
            try:
                return self._expand_chunk(roster, first_row, reject, coded, id_texts)
            finally:
                if collecting:
                    gc.enable()

    def _expand_chunk(
        self,
        roster: pd.DataFrame,
        first_row: int,
        reject: np.ndarray | None,
        coded: Coding,
        id_texts: PatientIds | None,
    ) -> tuple[Any, pd.DataFrame]:
        import numpy as np
        import pandas as pd

        available = [str(c) for c in roster.columns]
        self.required_columns(available)
        # the roster's kidney values, for a regimen with renal tables: read, and each patient's plan applies them
        kidney = self._kidney_notes is not None and (COLUMNS["scr"] in available or COLUMNS["gfr"] in available)
        if self._kidney_notes is not None:
            self._note(self._kidney_notes[1] if kidney else self._kidney_notes[0])
        ids = id_texts if id_texts is not None else PatientIds.read(roster[ID_COLUMN])
        problems: list[RowProblem] = []
        bad = ids.missing()  # the usual chunk has an id in every row, found in C
        problems += [
            (first_row + int(pos), "", ID_COLUMN, "missing: give every row a patient_id") for pos in np.flatnonzero(bad)
        ]
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
                    *([k for k in _RENAL if COLUMNS[k] in available] if self._auc or kidney else []),
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
            estimate = self._estimated_gfr(cols, bad)
            if estimate is not None:
                cols[_ESTIMATE] = estimate
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
            if kidney:  # a renal band by each patient's clearance: those it changes expanded one at a time
                frame, more = kidney_rows(self, good, cols, start, ids, first_row, bool(coded))
                return frame, pd.concat([errors, more], ignore_index=True) if len(more) else errors
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

    def _rows(
        self, good: np.ndarray, cols: dict[str, Column], start: Column | None, ids: PatientIds, coded: Coding = False
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
            rep = template_patient(self, self._patient(cols, int(good[f])))
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
        checks: list[int] = []
        # 2. per group: structure broadcast, numbers looked up per distinct body value
        for g, (signature, template, rep) in groups.items():
            members = np.flatnonzero(group_of == g)
            pos = offsets[members][:, None] + np.arange(len(template.records))[None, :]
            out.fill_dates(pos, start_ord[members], template)
            for basis in dict.fromkeys(template.bases):
                # a target AUC's GFRs estimated in columns: blocks by the GFR's hundredths, else by a body key
                starts = (
                    self._gfr_starts(signature, template, cols, good[members])
                    if basis == "auc" and _ESTIMATE in cols
                    else None
                )
                if starts is None or (starts < 0).any():  # the others by their body values' keys
                    left = np.arange(len(members)) if starts is None else np.flatnonzero(starts < 0)
                    codes, keys = self._body_keys(cols, good[members[left]], basis)
                    found = self._block_starts(signature, template, basis, keys, rep)[codes]
                    if starts is None:
                        starts = found
                    else:
                        starts[left] = found
                for i, j in enumerate(j for j, b in enumerate(template.bases) if b == basis):
                    out.rows[pos[:, j]] = starts + i  # member m's row j is row i of its body value's block
                if basis == "auc" and _ESTIMATE in cols:  # one whose GFR is worked out in columns, one by prepare()
                    estimated = cols[_ESTIMATE].codes[good[members]] >= 0
                    checks += [
                        int(members[w[0]]) for w in (np.flatnonzero(estimated), np.flatnonzero(~estimated)) if len(w)
                    ]
                if basis == "bsa":  # check one patient of each way the BSA is given
                    checks += [
                        int(members[np.flatnonzero(codes == c)[0]])
                        for c in {k[0]: i for i, k in enumerate(keys)}.values()
                    ]
            checks.append(int(members[0]))
            checks += left_out_checks(self, members, good, ids)
        # 3. the plan's own warnings, per patient, on each of the patient's rows
        # a run rejects every copy of a repeated id: the ids written are distinct (checked in C), each its own code
        out.set_ids(ids.taken(good), counts, distinct=ids.distinct)
        out.set_per_patient("plan_warnings", self._plan_warnings(cols, good, group_of, groups), counts)
        table = out.arrow() if coded == "arrow" else None
        self._check(out, table, good, offsets, counts, cols, start, ids, sorted(set(checks)))
        if table is not None:
            return table
        return kidney_frame(self, out.frame(coded is True))  # a roster's kidney values: bands, drugs left out

    def _check(
        self,
        out: _Columns,
        table: pa.Table | None,
        good: np.ndarray,
        offsets: np.ndarray,
        counts: np.ndarray,
        cols: dict[str, Column],
        start: Column | None,
        ids: PatientIds,
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
        sample = out.frame(at=at) if table is None else None
        sample, kept = kidney_sample(self, sample, counts, which, good, ids) if sample is not None else (None, counts)
        got = table_records(table.take(at)) if table is not None else frame_records(sample)
        for k in which:
            pos = int(good[k])
            when = start.values[start.codes[pos]] if start is not None and start.codes[pos] >= 0 else None
            plan = self._expand(self._patient(cols, pos), start=when)
            expected = csv_records(plan)
            mine, got = got[: int(kept[k])], got[int(kept[k]) :]
            if [{**e, ID_COLUMN: ids[pos]} for e in expected] != mine:
                raise _NotVectorisable("the vectorised rows differed from 'regimen expand' for a sample patient")

    def _rows_each(
        self, good: np.ndarray, cols: dict[str, Column], start: Column | None, ids: PatientIds, first_row: int
    ) -> tuple[pd.DataFrame, pd.DataFrame]:
        """The exact fallback: one :func:`expand` per patient (a patient it rejects becomes a problem row)."""
        import pandas as pd

        records: list[dict[str, Any]] = []
        problems: list[RowProblem] = []
        for pos in good:
            when = start.values[start.codes[pos]] if start is not None and start.codes[pos] >= 0 else None
            try:
                plan = self._expand(self._patient(cols, int(pos)), start=when, strict=True)
                undecided(plan)  # a cohort's row is of one plan: not a value's outcomes (a supply would add them up)
                rows = [{ID_COLUMN: ids[pos], **record} for record in csv_records(plan)]
            except (PatientError, StrictError) as exc:
                problems.append((first_row + int(pos), ids[pos], "", exc.message))
                continue
            records.extend(rows)
        return records_frame(records, OUTPUT_COLUMNS), pd.DataFrame(problems, columns=list(ERROR_COLUMNS))

    def _note(self, text: str) -> None:
        if text not in self.notes:
            self.notes.append(text)


def undecided(plan: Plan) -> None:
    """Refuse a patient whose plan shows each outcome of a value the roster does not give (the sex, with a
    creatinine that the sexes' renal doses differ by): their rows are not one plan."""
    conditions = list(dict.fromkeys(r.condition for r in plan.administrations if r.condition))
    if conditions:
        names = list(dict.fromkeys(n for c in conditions for n in condition_values(c)))
        raise PatientError(
            f"the doses depend on a value this row does not give: some are given only if "
            f"{' or only if '.join(conditions)}; fill in "
            f"{' and '.join(COLUMNS.get(n, n) for n in names) if names else 'that value'}"
        )


__all__ = ["OUTPUT_COLUMNS", "CohortExpander"]
