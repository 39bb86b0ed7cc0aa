"""Cohorts: one regimen expanded for every patient of a roster, vectorised over the roster.

How it stays exact and fast
---------------------------
A plan's row structure (which drug on which day of which cycle) depends only on which variants apply,
and a row's dose depends only on the dose rule and one body value (weight or BSA). So:

1. each roster column is factorised (``pandas.factorize``) and every *distinct* value is read and checked
   once, by the same code as ``regimen expand`` (:func:`regimen.clinical.patient.read_measure`, same limits);
2. patients are grouped by the variants their rule values select; each group is expanded once by
   :func:`regimen.engine.expand.expand` for a representative patient, giving the row template;
3. each row's dose, rate and working are computed once per (dose rule, distinct body value) by
   :func:`regimen.engine.expand.dose_for_day` — exact :class:`~fractions.Fraction` arithmetic, rounded half up
   for display exactly as a single plan is — and broadcast to every patient with numpy indexing.

Python work therefore grows with the number of *distinct* values (a roster recorded to 0.1 kg and
0.01 m² has at most a few thousand), and per-patient work is numpy/pandas only. A roster whose values
are all distinct still gives identical numbers; it is just slower. If a group's template row does not
match ``dose_for_day`` for its own representative (a feature this decomposition does not cover), the
chunk falls back to expanding each patient with :func:`~regimen.engine.expand.expand`, and says so in the notes.

Output rows are those of ``regimen expand --format csv``, with ``patient_id`` first, in roster order.
Rows the engine cannot use are rejected, never dropped silently: see :class:`CohortResult.errors`.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import re
import sys
import warnings
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from fractions import Fraction
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any

from regimen.clinical.patient import AGE, BSA, HEIGHT, WEIGHT, Measure, read_measure, read_sex
from regimen.clinical.prepare import ClinicalOptions, Prepared, StrictError, component_weight_key
from regimen.engine.expand import choose_variant, dose_for_day, expand, requirements
from regimen.engine.plan import Plan
from regimen.engine.rows import ROW_FIELDS, row_record
from regimen.errors import PatientError, RegimenError, render
from regimen.export.io import atomic_target
from regimen.model import Administration, AucDose, Component, Patient, Regimen
from regimen.quantities.exact import DEFAULT_ROUNDING, Rounding

if TYPE_CHECKING:  # pragma: no cover
    import numpy as np
    import pandas as pd

ID_COLUMN = "patient_id"
START_COLUMN = "start_date"
#: Roster column for each patient value the engine knows (units in the names).
COLUMNS: dict[str, str] = {"weight": "weight_kg", "bsa": "bsa_m2", "age": "age", "height": "height_cm", "sex": "sex"}
MEASURES: dict[str, Measure] = {"weight": WEIGHT, "bsa": BSA, "age": AGE, "height": HEIGHT}
OUTPUT_COLUMNS: tuple[str, ...] = (ID_COLUMN, *ROW_FIELDS)
ERROR_COLUMNS: tuple[str, ...] = ("row", ID_COLUMN, "column", "problem")
#: Output columns holding JSON numbers (int or float); written to CSV as ``regimen expand`` writes them.
NUMBER_COLUMNS: tuple[str, ...] = ("dose", "rate", "duration_h", "infusion_hours")

_PLAIN_NUMBER = re.compile(r"[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?")
_ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")


class CohortError(RegimenError):
    """A roster that cannot be used at all (a missing column, an unreadable file)."""


class RejectedRowsWarning(UserWarning):
    """Some roster rows were rejected by :func:`expand_cohort`; they are listed in ``frame.attrs['errors']``."""


@dataclass(frozen=True, slots=True)
class CohortResult:
    """Rows for the expanded patients, and the rejected roster rows with their problems."""

    frame: pd.DataFrame  # columns OUTPUT_COLUMNS, one row per drug per treatment day per patient
    errors: pd.DataFrame  # columns ERROR_COLUMNS, one row per problem (a patient may have several)
    patients_in: int
    expanded: int
    notes: tuple[str, ...] = ()

    @property
    def rejected(self) -> int:
        return self.patients_in - self.expanded

    def summary(self) -> str:
        """'patients in = expanded + rejected', with the numbers."""
        return (f"patients in = expanded + rejected: {self.patients_in:,} = {self.expanded:,} + "
                f"{self.rejected:,}")


# ---- reading distinct values -----------------------------------------------------------------------

def _as_text(raw: object) -> str | None:
    """A roster cell as the text a person would have typed; None when empty."""
    if raw is None:
        return None
    if isinstance(raw, float):  # numpy float64 too; same reading as make_patient: repr, never binary noise
        if raw != raw:
            return None
        return repr(float(raw)) if raw not in (float("inf"), float("-inf")) else str(raw)
    if isinstance(raw, (dt.date, dt.datetime)):
        return raw.isoformat()
    text = str(raw).strip()
    return text or None


def _read_number(text: str, m: Measure) -> Fraction:
    """A body value read and checked exactly as ``regimen expand`` reads --weight/--bsa/--age/--height."""
    if _PLAIN_NUMBER.fullmatch(text):  # the common case, without the unit machinery: same exact value
        value = Fraction(Decimal(text))
        return read_measure(value, m)[0]
    return read_measure(text, m)[0]


def _read_date(text: str) -> dt.date:
    stem = text[:10] if len(text) > 10 and text[10:] in ("T00:00:00", " 00:00:00") else text
    if not _ISO_DATE.fullmatch(stem):
        raise PatientError(f"start date {text!r} is not a date: write it as YYYY-MM-DD, e.g. 2026-01-05")
    try:
        return dt.date.fromisoformat(stem)
    except ValueError:
        raise PatientError(f"start date {text!r} does not exist: give a real calendar date (YYYY-MM-DD)") from None


@dataclass
class _Column:
    """One roster column of a chunk: a code per patient (-1 = missing or invalid) and its distinct values."""

    codes: np.ndarray
    values: list[Any]


def _read_column(series: pd.Series, reader: Callable[[str], Any], name: str, first_row: int,
                 ids: list[str], problems: list[tuple[int, str, str, str]], required: bool) -> _Column:
    import numpy as np
    import pandas as pd

    codes, uniques = pd.factorize(series, use_na_sentinel=True)
    codes = np.asarray(codes, dtype=np.int64)
    values: list[Any] = []
    bad: dict[int, str] = {}
    for i, raw in enumerate(uniques):
        text = _as_text(raw)
        if text is None:
            bad[i] = ""
            values.append(None)
            continue
        try:
            values.append(reader(text))
        except RegimenError as exc:
            bad[i] = exc.message  # rendered for the reader when the problems are written
            values.append(None)
    missing = codes < 0
    if bad:
        empty = [i for i, msg in bad.items() if msg == ""]
        missing |= np.isin(codes, empty)
        for i, msg in bad.items():
            if msg:
                for pos in np.flatnonzero(codes == i):
                    problems.append((first_row + int(pos), ids[pos], name, msg))
        codes = np.where(np.isin(codes, list(bad)), -1, codes)
    if required:
        for pos in np.flatnonzero(missing):
            problems.append((first_row + int(pos), ids[pos], name, f"missing: this regimen needs {name}"))
    return _Column(codes, values)


# ---- the template of one variant group -------------------------------------------------------------

@dataclass
class _Template:
    """The rows of one variant group's plan, and what each row's numbers depend on."""

    plan: Plan
    records: list[dict[str, Any]]  # row_record of each row, warnings joined as in CSV
    keys: list[tuple[Any, ...]]  # per row: (dose, continuous, duration) for dose_for_day
    bases: list[str]  # per row: "weight", "bsa" or "flat" (anything else: not vectorised)


#: Row fields that are fixed by the template (the same for every patient of a variant group).
_STRUCTURE = ("phase", "cycle", "day", "course_day", "drug", "component", "dose_unit", "route", "method")
_FLOATS = ("dose", "rate", "duration_h", "infusion_day", "infusion_days", "infusion_hours")
_INTS = ("cycle", "day", "course_day")
_ADJUSTMENTS = ("max_dose", "max_daily", "max_per_cycle", "round_to", "dosing_weight")


def _csv_record(plan: Plan, row: Administration) -> dict[str, Any]:
    rec = row_record(plan, row)
    rec["warnings"] = "; ".join(rec["warnings"])
    return rec


def _row_rule(regimen: Regimen, row: Administration, patient: Patient) -> tuple[tuple[Any, ...], str]:
    phase = next(p for p in regimen.phases if p.id == row.phase)
    comp: Component = phase.component(row.component)
    variant = choose_variant(comp, patient, row.cycle)
    dose = variant.dose if variant is not None and variant.dose is not None else comp.dose
    duration = variant.duration_hours if variant is not None and variant.duration_hours is not None \
        else comp.duration_hours
    return (dose, comp.method == "continuous infusion", duration), str(dose.unit.basis)


def _plain(regimen: Regimen) -> bool:
    """No per-row adjustment in the regimen file (caps, rounding, dose levels, dosing weights)."""
    if getattr(regimen, "dosing_weight", None) is not None:
        return False
    return not any(getattr(c, name, None) for c in regimen.components() for name in (*_ADJUSTMENTS, "levels"))


def _refuse_auc(regimen: Regimen) -> None:
    """AUC (Calvert) doses need each patient's creatinine or GFR, which rosters do not carry: refuse them."""
    for comp in regimen.components():
        doses = [comp.dose, *(v.dose for v in comp.variants), *(lv.dose for lv in comp.levels)]
        if any(isinstance(d, AucDose) for d in doses):
            raise CohortError(f"{regimen.id} doses {comp.drug} by AUC (Calvert), which needs each patient's serum "
                              "creatinine or GFR: cohorts do not support AUC dosing; use 'regimen expand' with --scr "
                              "or --gfr per patient")


class _NotVectorisable(Exception):
    """A regimen feature the per-value decomposition does not cover: expand patient by patient."""


# ---- the expander ----------------------------------------------------------------------------------

@dataclass
class CohortExpander:
    """Expands roster chunks for one regimen; distinct values and templates are remembered across chunks."""

    regimen: Regimen
    bsa_formula: str | None = None
    cycles: int | Mapping[str, int] | None = None
    cycle_length: int | None = None
    rounding: Rounding = DEFAULT_ROUNDING
    options: ClinicalOptions | None = None  # the run's clinical options (None: the defaults)
    needs: list[str] = field(init=False)
    notes: list[str] = field(init=False, default_factory=list)
    _blocks: dict[tuple[Any, ...], list[dict[str, Any]]] = field(init=False, default_factory=dict, repr=False)
    _templates: dict[tuple[Any, ...], _Template] = field(init=False, default_factory=dict, repr=False)
    _rule_names: list[str] = field(init=False, default_factory=list, repr=False)
    _options: Any = field(init=False, default=None, repr=False)
    _strict: Any = field(init=False, default=None, repr=False)  # the options with strict=True, under --strict
    _weight_body: bool = field(init=False, default=False, repr=False)  # a dosing weight from height and sex
    _plain: bool = field(init=False, default=True, repr=False)

    def __post_init__(self) -> None:
        from regimen.clinical.body_size import BSA_FORMULAS

        self.needs = requirements(self.regimen)
        names: set[str] = set()
        for comp in self.regimen.components():
            for v in comp.variants:
                names |= v.when.names - {"cycle"}
        self._rule_names = [k for k in COLUMNS if k in names]
        self._plain = _plain(self.regimen)
        _refuse_auc(self.regimen)
        if self.options is not None:
            if self.bsa_formula is not None and self.bsa_formula != self.options.bsa_formula:
                raise CohortError(f"bsa_formula {self.bsa_formula!r} and options.bsa_formula "
                                  f"{self.options.bsa_formula!r} differ: give one")
            self.bsa_formula = self.options.bsa_formula
            self._set_options(self.options)
        elif self.bsa_formula is not None:
            if self.bsa_formula not in BSA_FORMULAS:
                raise CohortError(f"unknown BSA formula {self.bsa_formula!r}: use one of {', '.join(BSA_FORMULAS)}")
            self._options = ClinicalOptions(bsa_formula=self.bsa_formula)
        self._dosing_weight_needs()

    def _set_options(self, options: ClinicalOptions) -> None:
        """Check the run's choices against the regimen once (as expand() would for every patient)."""
        from regimen.clinical.adjust import Adjustments

        run = Prepared(patient=Patient())
        Adjustments.for_run(self.regimen, options, run)  # unknown drugs, undefined dose levels: stop the run
        for warning in run.warnings:  # the run's own warnings (an example formulary), said once
            self._note(warning)
        if options.bsa_cap is not None:
            self._note("--bsa-cap: a capped patient's rows show the uncapped and capped BSA in their working; the "
                       "plan's cap warning is not a row warning (--strict rejects capped patients)")
        self._options = dataclasses.replace(options, strict=False)
        if options.strict:
            self._strict = options
            self._note("--strict: patients whose plans carry a warning are rejected (errors file); the others are "
                       "written")

    def _dosing_weight_needs(self) -> None:
        """Ideal, adjusted and lean body weights need each patient's height and sex: roster columns."""
        options = self._options or ClinicalOptions()
        keys = {component_weight_key(self.regimen, c, options) for c in self.regimen.components()
                if any(d.unit.basis == "weight" for d in [c.dose, *(v.dose for v in c.variants if v.dose)])}
        if keys - {"actual"}:
            self._weight_body = True
            self.needs = [k for k in COLUMNS if k in {*self.needs, "weight", "height", "sex"}]

    def _bsa_note(self) -> None:
        from regimen.clinical.body_size import BSA_FORMULAS

        if "bsa" in self.needs:
            formula = BSA_FORMULAS[self.bsa_formula or "mosteller"]
            self._note(f"rows without {COLUMNS['bsa']}: BSA from {COLUMNS['weight']} and {COLUMNS['height']} "
                       f"by the {formula.name} formula, {formula.equation} ({formula.citation}), as "
                       "'regimen expand' computes it")

    def _expand(self, patient: Patient, start: dt.date | None = None, strict: bool = False) -> Plan:
        options = self._strict if strict and self._strict is not None else self._options
        kwargs: dict[str, Any] = {"options": options} if options is not None else {}
        return expand(self.regimen, patient, start=start, cycles=self.cycles, cycle_length=self.cycle_length,
                      rounding=self.rounding, **kwargs)

    # -- columns --
    def required_columns(self, available: list[str]) -> list[str]:
        """Roster columns this regimen needs; raises :class:`CohortError` naming any that are absent."""
        cols = [ID_COLUMN]
        for need in self.needs:
            if need == "bsa" and COLUMNS["bsa"] not in available and COLUMNS["height"] in available:
                cols.append(COLUMNS["weight"])  # BSA from height and weight
            else:
                cols.append(COLUMNS[need])
        missing = [c for c in dict.fromkeys(cols) if c not in available]
        if missing:
            hint = ""
            if COLUMNS["bsa"] in missing:
                hint = (f" (or give {COLUMNS['height']} and {COLUMNS['weight']}: BSA by --bsa-formula, Mosteller by "
                        "default)")
            elif self._weight_body and {COLUMNS["height"], COLUMNS["sex"]} & set(missing):
                hint = (f" (the ideal, adjusted and lean body weights need each patient's {COLUMNS['height']} and "
                        f"{COLUMNS['sex']})")
            raise CohortError(f"roster has no column {', '.join(missing)} (needed by {self.regimen.id}): add "
                              f"{'it' if len(missing) == 1 else 'them'}{hint}")
        return cols

    def expand(self, roster: pd.DataFrame, first_row: int = 1,
               reject: np.ndarray | None = None) -> tuple[pd.DataFrame, pd.DataFrame]:
        """Rows for a roster chunk and its problems. ``first_row`` numbers the chunk's first roster row;
        ``reject`` is a mask of rows already rejected by the caller (their problems reported by it)."""
        import numpy as np
        import pandas as pd

        available = [str(c) for c in roster.columns]
        self.required_columns(available)
        ids = [(_as_text(v) or "") for v in roster[ID_COLUMN].tolist()]
        problems: list[tuple[int, str, str, str]] = [
            (first_row + pos, "", ID_COLUMN, "missing: give every row a patient_id") for pos, pid in enumerate(ids)
            if not pid]
        bad = np.array([not pid for pid in ids], dtype=bool)
        if reject is not None:
            bad |= np.asarray(reject, dtype=bool)

        height_bsa = "bsa" in self.needs and COLUMNS["height"] in available
        if height_bsa:
            self._bsa_note()
        wanted = list(dict.fromkeys([*self.needs, *self._rule_names, *(["weight", "height"] if height_bsa else []),
                                     *(["sex"] if height_bsa and self.bsa_formula == "schlich" else []),
                                     # --strict: every value given, as 'regimen expand' would check its warnings
                                     *([k for k in COLUMNS if COLUMNS[k] in available] if self._strict else [])]))
        cols: dict[str, _Column] = {}
        for key in wanted:
            name = COLUMNS[key]
            if name not in roster.columns:
                continue  # only bsa_m2 may be absent here (BSA from height and weight)
            reader: Callable[[str], Any] = read_sex if key == "sex" else partial(_read_number, m=MEASURES[key])
            required = key in self.needs and not (key == "bsa" and height_bsa)
            cols[key] = _read_column(roster[name], reader, name, first_row, ids, problems, required)
        for key in self.needs:
            if key == "bsa" and height_bsa:
                given = cols["bsa"].codes >= 0 if "bsa" in cols else np.zeros(len(roster), dtype=bool)
                computable = (cols["weight"].codes >= 0) & (cols["height"].codes >= 0)
                # a value that did not read is reported under its own column; here: nothing to work with
                blank = self._blank(roster, COLUMNS["bsa"]) & (self._blank(roster, COLUMNS["height"])
                                                               | self._blank(roster, COLUMNS["weight"]))
                for pos in np.flatnonzero(~given & ~computable & blank):
                    problems.append((first_row + int(pos), ids[pos], COLUMNS["bsa"],
                                     f"missing: give {COLUMNS['bsa']}, or {COLUMNS['height']} and {COLUMNS['weight']}"))
                bad |= ~given & ~computable
            else:
                bad |= cols[key].codes < 0
        start: _Column | None = None
        if START_COLUMN in roster.columns:
            # an empty start date means "no dates for this patient"; an unreadable one is a problem
            start = _read_column(roster[START_COLUMN], _read_date, START_COLUMN, first_row, ids, problems, False)
        errors = pd.DataFrame(sorted(problems), columns=list(ERROR_COLUMNS)).astype({"row": "int64"})
        if len(errors):  # a row is rejected when any of its problems is reported
            bad[errors["row"].to_numpy() - first_row] = True
        good = np.flatnonzero(~bad)
        try:
            if self._strict is not None:
                raise _NotVectorisable("--strict")
            frame = self._rows(good, cols, start, ids)
        except _NotVectorisable as why:
            self._note(f"rows computed one patient at a time ({why})")
            frame, more = self._rows_each(good, cols, start, ids, first_row)
            if len(more):
                errors = pd.concat([errors, more], ignore_index=True) if len(errors) else more
        return frame, errors

    @staticmethod
    def _blank(roster: pd.DataFrame, column: str) -> np.ndarray:
        import numpy as np

        if column not in roster.columns:
            return np.ones(len(roster), dtype=bool)
        return np.array([_as_text(v) is None for v in roster[column].tolist()], dtype=bool)

    # -- templates --
    def _patient(self, cols: dict[str, _Column], pos: int) -> Patient:
        def value(key: str) -> Any:
            col = cols.get(key)
            return None if col is None or col.codes[pos] < 0 else col.values[col.codes[pos]]

        return Patient(weight_kg=value("weight"), bsa_m2=value("bsa"), age_years=value("age"),
                       height_cm=value("height"), sex=value("sex"))

    def _template(self, patient: Patient) -> tuple[tuple[Any, ...], _Template]:
        plan = self._expand(patient)
        try:
            signature = tuple(
                (c.id, cycle, next((i for i, v in enumerate(c.variants) if v is choose_variant(c, patient, cycle)),
                                   -1))
                for p in self.regimen.phases for c in p.components for cycle in range(1, plan.cycles[p.id] + 1))
        except PatientError as exc:  # a rule on a value the engine derives (a BSA from height)
            raise _NotVectorisable(f"a variant rule needs a value computed per patient: {exc}") from None
        if signature in self._templates:
            return signature, self._templates[signature]
        keys, bases = [], []
        for row in plan.administrations:
            key, basis = _row_rule(self.regimen, row, patient)
            if basis not in ("weight", "bsa", "flat"):
                raise _NotVectorisable(f"{row.drug}: a dose per {basis}")
            keys.append(key)
            bases.append(basis)
        template = _Template(plan, [_csv_record(plan, r) for r in plan.administrations], keys, bases)
        self._templates[signature] = template
        return signature, template

    def _block(self, signature: tuple[Any, ...], template: _Template, basis: str, body: tuple[Any, ...],
               patient: Patient) -> list[dict[str, Any]]:
        """Records of the template's rows of one basis, for one body value (``body``: how it is given)."""
        memo = (signature, basis, body)
        hit = self._blocks.get(memo)
        if hit is not None:
            return hit
        rows = [j for j, b in enumerate(template.bases) if b == basis]
        out: list[dict[str, Any]] = []
        if self._plain and self._options is None and body[0] != "height":
            # plain dosing: each row is dose_for_day of its rule and the body value, as in expand()
            for j in rows:
                dose, continuous, duration = template.keys[j]
                work = dose_for_day(dose, continuous, duration, patient, self.rounding)
                row = dataclasses.replace(template.plan.administrations[j], dose=work.amount, rate=work.rate,
                                          duration_hours=work.hours, calculation=work.calculation)
                out.append(_csv_record(template.plan, row))
        else:
            # anything else (caps, rounding, a BSA from height): the engine itself, for a patient with this value
            plan = self._expand(patient)
            if len(plan.administrations) != len(template.records) or any(
                    (r.phase, r.cycle, r.day, r.component) != (t.phase, t.cycle, t.day, t.component)
                    for r, t in zip(plan.administrations, template.plan.administrations, strict=True)):
                raise _NotVectorisable("the rows of a plan depend on a body value")
            out = [_csv_record(plan, plan.administrations[j]) for j in rows]
        self._blocks[memo] = out
        return out

    def _body_keys(self, cols: dict[str, _Column], members: np.ndarray, basis: str) -> tuple[np.ndarray, list[Any]]:
        """Per member, a code of its body value for ``basis`` (weight; BSA given or from height), and the keys."""
        import numpy as np
        import pandas as pd

        if basis == "flat":
            return np.zeros(len(members), dtype=np.int64), [("flat",)]
        if basis == "weight" and self._weight_body:  # a dosing weight from weight, height and sex
            wc, hc, sc = (cols[k].codes[members] for k in ("weight", "height", "sex"))
            codes, uniques = pd.factorize(pd.MultiIndex.from_arrays([wc, hc, sc]))
            return np.asarray(codes, dtype=np.int64), [
                ("given", cols["weight"].values[w], cols["height"].values[h], cols["sex"].values[x])
                for w, h, x in uniques]
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
        triples = pd.MultiIndex.from_arrays([np.where(given, bsa, -1), np.where(given, -1, w),
                                             np.where(given, -1, h), np.where(given, -1, s)])
        codes, uniques = pd.factorize(triples)
        def value(key: str, code: int) -> Any:
            return cols[key].values[code] if code >= 0 else None

        # keys are exact values, never chunk-local codes: blocks are remembered across chunks
        keys = [("given", value("bsa", b)) if b >= 0 else ("height", value("weight", wc), value("height", hc),
                                                           value("sex", sc)) for b, wc, hc, sc in uniques]
        return np.asarray(codes, dtype=np.int64), keys

    @staticmethod
    def _body_patient(rep: Patient, basis: str, key: tuple[Any, ...]) -> Patient:
        if key[0] == "flat":
            return rep
        if basis == "weight" and len(key) == 4:
            return dataclasses.replace(rep, weight_kg=key[1], height_cm=key[2], sex=key[3])
        if basis == "weight":
            return dataclasses.replace(rep, weight_kg=key[1])
        if key[0] == "given":
            return dataclasses.replace(rep, bsa_m2=key[1])
        _, weight, height, sex = key
        return dataclasses.replace(rep, bsa_m2=None, weight_kg=weight, height_cm=height,
                                   sex=sex if sex is not None else rep.sex)

    def _rows(self, good: np.ndarray, cols: dict[str, _Column], start: _Column | None,
              ids: list[str]) -> pd.DataFrame:
        import numpy as np

        if len(good) == 0:
            return empty_frame()
        # 1. variant groups: patients with the same rule values share a template
        rule_codes = [cols[k].codes[good] for k in self._rule_names]
        if rule_codes:
            _, first, inverse = np.unique(np.stack(rule_codes, axis=1), axis=0, return_index=True,
                                          return_inverse=True)
            inverse = inverse.reshape(-1)
        else:
            first, inverse = np.array([0]), np.zeros(len(good), dtype=np.int64)
        signatures: dict[tuple[Any, ...], int] = {}
        combo_group: list[int] = []
        groups: dict[int, tuple[tuple[Any, ...], _Template, Patient]] = {}
        for f in first:
            rep = self._patient(cols, int(good[f]))
            signature, template = self._template(rep)
            g = signatures.setdefault(signature, len(signatures))
            groups.setdefault(g, (signature, template, rep))
            combo_group.append(g)
        group_of = np.asarray(combo_group, dtype=np.int64)[inverse]
        counts = np.array([len(groups[g][1].records) for g in range(len(groups))], dtype=np.int64)[group_of]
        offsets = np.concatenate([[0], np.cumsum(counts)[:-1]]).astype(np.int64)
        out = _Columns(int(counts.sum()))
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
            out.fill_ids_dates(pos, id_arr[members], start_ord[members], template)
            for basis in dict.fromkeys(template.bases):
                codes, keys = self._body_keys(cols, good[members], basis)
                blocks = [self._block(signature, template, basis, key, self._body_patient(rep, basis, key))
                          for key in keys]
                rows = [j for j, b in enumerate(template.bases) if b == basis]
                for i, j in enumerate(rows):
                    out.fill_row(pos[:, j], codes, [block[i] for block in blocks])
                if basis == "bsa":  # check one patient of each way the BSA is given
                    checks += [int(members[np.flatnonzero(codes == c)[0]]) for c in
                               {k[0]: i for i, k in enumerate(keys)}.values()]
            checks.append(int(members[0]))
        frame = out.frame()
        self._check(frame, good, offsets, counts, cols, start, ids, sorted(set(checks)))
        return frame

    def _check(self, frame: pd.DataFrame, good: np.ndarray, offsets: np.ndarray, counts: np.ndarray,
               cols: dict[str, _Column], start: _Column | None, ids: list[str], which: list[int]) -> None:
        """Self-check: sample patients' rows must equal expand() for them, field by field."""
        for k in which:
            pos = int(good[k])
            when = start.values[start.codes[pos]] if start is not None and start.codes[pos] >= 0 else None
            plan = self._expand(self._patient(cols, pos), start=when)
            expected = [_csv_record(plan, r) for r in plan.administrations]
            got = frame_records(frame.iloc[int(offsets[k]):int(offsets[k] + counts[k])])
            if [{**e, ID_COLUMN: ids[pos]} for e in expected] != got:
                raise _NotVectorisable("the vectorised rows differed from 'regimen expand' for a sample patient")

    def _rows_each(self, good: np.ndarray, cols: dict[str, _Column], start: _Column | None, ids: list[str],
                   first_row: int) -> tuple[pd.DataFrame, pd.DataFrame]:
        """The exact fallback: one :func:`expand` per patient (a patient it rejects becomes a problem row)."""
        import pandas as pd

        records: list[dict[str, Any]] = []
        problems: list[tuple[int, str, str, str]] = []
        for pos in good:
            when = start.values[start.codes[pos]] if start is not None and start.codes[pos] >= 0 else None
            try:
                plan = self._expand(self._patient(cols, int(pos)), start=when, strict=True)
            except (PatientError, StrictError) as exc:
                problems.append((first_row + int(pos), ids[pos], "", exc.message))
                continue
            records.extend({ID_COLUMN: ids[pos], **_csv_record(plan, r)} for r in plan.administrations)
        frame = typed_frame(pd.DataFrame.from_records(records, columns=list(OUTPUT_COLUMNS))) if records \
            else empty_frame()
        return frame, pd.DataFrame(problems, columns=list(ERROR_COLUMNS))

    def _note(self, text: str) -> None:
        if text not in self.notes:
            self.notes.append(text)


def frame_records(frame: pd.DataFrame) -> list[dict[str, Any]]:
    """Rows of a cohort frame as plain records: numbers as in row_record (168, 21.82), None for empty."""
    import pandas as pd

    out = []
    for rec in frame.astype(object).to_dict("records"):
        clean: dict[str, Any] = {}
        for k, v in rec.items():
            if v is None or (isinstance(v, float) and v != v) or v is pd.NA:
                clean[k] = None
            elif isinstance(v, float) and v.is_integer():
                clean[k] = int(v)
            else:
                clean[k] = v
        out.append(clean)
    return out


class _Columns:
    """Preallocated output columns, filled by numpy indexing."""

    def __init__(self, n: int) -> None:
        import numpy as np

        self.n = n
        self.cols: dict[str, np.ndarray] = {}
        for c in OUTPUT_COLUMNS:
            if c in _INTS:
                self.cols[c] = np.zeros(n, dtype=np.int64)
            elif c in _FLOATS:
                self.cols[c] = np.full(n, np.nan)
            elif c != "date":
                self.cols[c] = np.full(n, None, dtype=object)
        self.date_ord = np.full(n, -1, dtype=np.int64)

    def fill_ids_dates(self, pos: np.ndarray, ids: np.ndarray, start_ord: np.ndarray, t: _Template) -> None:
        import numpy as np

        self.cols[ID_COLUMN][pos] = np.broadcast_to(ids[:, None], pos.shape)
        course = np.asarray([r.course_day for r in t.plan.administrations], dtype=np.int64)
        dated = start_ord >= 0
        self.date_ord[pos[dated]] = start_ord[dated][:, None] + course[None, :] - 1

    def fill_row(self, pos: np.ndarray, codes: np.ndarray, records: list[dict[str, Any]]) -> None:
        """One template row for every member: ``records[codes[i]]`` is member i's record."""
        import numpy as np

        for c, target in self.cols.items():
            if c == ID_COLUMN:
                continue
            values = [r.get(c) for r in records]
            numeric = c in _FLOATS or c in _INTS
            if numeric:
                values = [float("nan") if v is None else v for v in values]
            if all(v == values[0] or (v != v and values[0] != values[0]) for v in values[1:]):
                target[pos] = values[0]
            else:
                arr = np.asarray(values, dtype=float if numeric else object)
                target[pos] = arr[codes]

    def frame(self) -> pd.DataFrame:
        import numpy as np
        import pandas as pd

        dates = np.full(self.n, None, dtype=object)
        dated = self.date_ord >= 0
        if dated.any():
            uniq, inv = np.unique(self.date_ord[dated], return_inverse=True)
            text = np.asarray([dt.date.fromordinal(int(o)).isoformat() for o in uniq], dtype=object)
            dates[dated] = text[inv.reshape(-1)]
        data = {c: dates if c == "date" else self.cols[c] for c in OUTPUT_COLUMNS}
        return typed_frame(pd.DataFrame(data, columns=list(OUTPUT_COLUMNS)))


def typed_frame(frame: pd.DataFrame) -> pd.DataFrame:
    """The output dtypes: ints for cycle/day, nullable ints for infusion day counts, floats for numbers."""
    frame = frame.astype({"cycle": "int64", "day": "int64", "course_day": "int64", "infusion_day": "Int64",
                          "infusion_days": "Int64", "dose": "float64", "rate": "float64", "duration_h": "float64",
                          "infusion_hours": "float64"})
    return frame


def empty_frame() -> pd.DataFrame:
    import pandas as pd

    return typed_frame(pd.DataFrame({c: pd.Series([], dtype=object) for c in OUTPUT_COLUMNS}))


# ---- whole rosters -----------------------------------------------------------------------------------

def duplicate_rows(ids: pd.Series) -> pd.Series:
    """Mask of rows whose patient_id appears more than once (all of them: no copy is preferred)."""
    text = ids.map(_as_text)
    return text.notna() & text.duplicated(keep=False)


def duplicate_message(patient_id: str, times: int) -> str:
    return f"patient_id {patient_id!r} appears {times} times: give each patient one row"


def duplicate_problems(ids: pd.Series, first_row: int = 1,
                       counts: Mapping[str, int] | None = None) -> list[tuple[int, str, str, str]]:
    """Problems for rows whose id repeats: within ``ids``, or (``counts``) in a whole roster read elsewhere."""
    import numpy as np

    text = ids.map(_as_text)
    if counts is None:
        mask = duplicate_rows(ids).to_numpy()
        counts = text[mask].value_counts().to_dict()
    else:
        mask = text.isin(list(counts)).to_numpy()
    return [(first_row + int(pos), str(text.iloc[pos]), ID_COLUMN, duplicate_message(str(text.iloc[pos]),
                                                                                     counts[text.iloc[pos]]))
            for pos in np.flatnonzero(mask)]


def iter_cohort(expander: CohortExpander, roster: pd.DataFrame, chunk_size: int = 50_000,
                first_row: int = 1) -> Iterator[tuple[pd.DataFrame, pd.DataFrame, int]]:
    """(rows, problems, patients in the chunk) per chunk of ``roster``; duplicates are checked over the whole."""
    import pandas as pd

    if ID_COLUMN not in roster.columns:
        raise CohortError(f"roster has no column {ID_COLUMN}: add one, with one row per patient")
    dup = duplicate_rows(roster[ID_COLUMN]).to_numpy()
    dup_problems = pd.DataFrame(duplicate_problems(roster[ID_COLUMN], first_row), columns=list(ERROR_COLUMNS))
    for lo in range(0, max(len(roster), 1), chunk_size):
        chunk = roster.iloc[lo:lo + chunk_size]
        rows, problems = expander.expand(chunk, first_row + lo, dup[lo:lo + chunk_size])
        mine = dup_problems[(dup_problems["row"] >= first_row + lo) & (dup_problems["row"] < first_row + lo
                                                                         + len(chunk))]
        if len(mine):
            problems = pd.concat([problems, mine], ignore_index=True) if len(problems) else mine
            problems = problems.sort_values(["row", "column"], kind="stable", ignore_index=True)
        yield rows, problems, len(chunk)


def cohort(regimen: Regimen, roster: pd.DataFrame, *, bsa_formula: str | None = None,
           cycles: int | Mapping[str, int] | None = None, cycle_length: int | None = None,
           rounding: Rounding = DEFAULT_ROUNDING, options: ClinicalOptions | None = None) -> CohortResult:
    """Expand ``regimen`` for every row of ``roster``: rows, rejected rows, and the counts.

    ``options``: the run's clinical options, as for :func:`regimen.engine.expand.expand` (every patient's rows are
    those of ``expand(regimen, patient, options=options)``); with ``strict``, patients whose plans carry a
    warning are rejected."""
    import pandas as pd

    expander = CohortExpander(regimen, bsa_formula=bsa_formula, cycles=cycles, cycle_length=cycle_length,
                              rounding=rounding, options=options)
    frames, errors = [], []
    for rows, problems, _ in iter_cohort(expander, roster, chunk_size=max(len(roster), 1)):
        frames.append(rows)
        errors.append(problems)
    frame = frames[0] if len(frames) == 1 else pd.concat(frames, ignore_index=True)
    error_frame = rendered(errors[0]) if errors else pd.DataFrame(columns=list(ERROR_COLUMNS))
    rejected = error_frame["row"].nunique()
    return CohortResult(frame=frame, errors=error_frame, patients_in=len(roster),
                        expanded=len(roster) - rejected, notes=tuple(expander.notes))


def expand_cohort(regimen: Regimen, roster: pd.DataFrame, **options: Any) -> pd.DataFrame:
    """Expand ``regimen`` for every row of ``roster`` and return the rows (columns :data:`OUTPUT_COLUMNS`).

    Rejected roster rows are not dropped silently: a :class:`RejectedRowsWarning` is issued and
    ``frame.attrs`` holds ``patients_in``, ``expanded``, ``rejected`` and ``errors`` (a list of
    ``{row, patient_id, column, problem}`` records). Use :func:`cohort` for a :class:`CohortResult`.
    """
    result = cohort(regimen, roster, **options)
    frame = result.frame
    frame.attrs.update(patients_in=result.patients_in, expanded=result.expanded, rejected=result.rejected,
                       errors=result.errors.to_dict("records"), notes=list(result.notes))
    if result.rejected:
        first = result.errors.iloc[0]
        warnings.warn(f"{result.rejected} of {result.patients_in} roster rows rejected (first: row {first['row']}, "
                      f"{first['column']}: {first['problem']}); see frame.attrs['errors']",
                      RejectedRowsWarning, stacklevel=2)
    return frame


# ---- files -------------------------------------------------------------------------------------------

def _kind(path: str | Path, what: str) -> str:
    suffix = Path(path).suffix.lower()
    if suffix in (".csv", ".parquet", ".pq"):
        return "parquet" if suffix != ".csv" else "csv"
    raise CohortError(f"{what} {path}: use a .csv or .parquet file name")


def need_pyarrow() -> None:
    try:
        import pyarrow  # noqa: F401
    except ImportError:
        raise CohortError("Parquet needs pyarrow: pip install 'regimen[parquet]'") from None


def read_roster(path: str | Path) -> pd.DataFrame:
    """A roster from CSV (every cell read as text, nothing guessed) or Parquet."""
    import pandas as pd

    p = Path(path)
    if not p.is_file():
        raise CohortError(f"{p}: no such roster file; check the path")
    if _kind(p, "roster") == "csv":
        try:
            return pd.read_csv(p, dtype=str, keep_default_na=False, na_filter=False, skipinitialspace=True)
        except (pd.errors.ParserError, UnicodeDecodeError, pd.errors.EmptyDataError) as exc:
            raise CohortError(f"{p}: not a readable CSV roster ({str(exc).strip().splitlines()[0]}); save it as "
                              "UTF-8 CSV with a header row") from None
    need_pyarrow()
    return pd.read_parquet(p)


def csv_text(frame: pd.DataFrame) -> pd.DataFrame:
    """The frame with numbers as ``regimen expand --format csv`` writes them: 168, 21.82, never 168.0."""
    import numpy as np
    import pandas as pd

    out = frame.copy(deep=False)
    for c in NUMBER_COLUMNS:
        if c not in out.columns:
            continue
        codes, uniques = pd.factorize(out[c], use_na_sentinel=True)
        text = np.asarray([str(int(u)) if float(u).is_integer() else repr(float(u)) for u in uniques] + [""],
                          dtype=object)
        out[c] = text[codes]
    return out


class FrameWriter:
    """Appends frames to one CSV or Parquet file (row groups), written atomically when closed."""

    def __init__(self, path: str | Path) -> None:
        self.kind = _kind(path, "output")
        if self.kind == "parquet":
            need_pyarrow()
        self._ctx = atomic_target(path)
        self._tmp = self._ctx.__enter__()
        self._handle: Any = None
        self._parquet: Any = None
        self.rows = 0

    def write(self, frame: pd.DataFrame) -> None:
        if self.kind == "csv":
            if self._handle is None:
                self._handle = open(self._tmp, "w", encoding="utf-8", newline="")
                csv_text(frame.iloc[:0]).to_csv(self._handle, index=False, lineterminator="\n")
            if len(frame):
                csv_text(frame).to_csv(self._handle, index=False, header=False, lineterminator="\n")
        else:
            import pyarrow as pa
            import pyarrow.parquet as pq

            table = pa.Table.from_pandas(frame, preserve_index=False)
            if self._parquet is None:
                self._parquet = pq.ParquetWriter(self._tmp, table.schema)
            self._parquet.write_table(table.cast(self._parquet.schema))
        self.rows += len(frame)

    def close(self, ok: bool = True) -> None:
        if self.kind == "csv" and self._handle is None and ok:
            self.write(empty_frame())
        if self.kind == "parquet" and self._parquet is None and ok:
            self.write(empty_frame())
        if self._handle is not None:
            self._handle.close()
        if self._parquet is not None:
            self._parquet.close()
        if ok:
            self._ctx.__exit__(None, None, None)
        else:
            exc = RegimenError("cancelled")
            try:
                self._ctx.__exit__(type(exc), exc, None)
            except RegimenError:
                pass


def write_frame(frame: pd.DataFrame, path: str | Path) -> None:
    """Write a whole frame to CSV or Parquet (by extension), atomically."""
    writer = FrameWriter(path)
    try:
        writer.write(frame)
    except BaseException:
        writer.close(ok=False)
        raise
    writer.close()


def errors_path_for(output: str | Path) -> Path:
    """Where the errors file goes by default: beside the output, ``OUT-stem.errors.csv``."""
    p = Path(output)
    return p.with_name(p.stem + ".errors.csv")


@dataclass(frozen=True, slots=True)
class RunSummary:
    patients_in: int
    expanded: int
    rows: int
    errors_path: Path
    notes: tuple[str, ...]

    @property
    def rejected(self) -> int:
        return self.patients_in - self.expanded

    def lines(self, regimen_id: str, output: str | Path) -> list[str]:
        out = [*self.notes,
               f"{regimen_id}: patients in = expanded + rejected: {self.patients_in:,} = {self.expanded:,} + "
               f"{self.rejected:,}; {self.rows:,} rows written to {output}"]
        if self.rejected:
            out.append(f"rejected rows and their problems: {self.errors_path}")
        return out


def rendered(errors: pd.DataFrame, name: Callable[[str], str] | None = None) -> pd.DataFrame:
    """The problems with the inputs they name shown by ``name`` (default: the library's parameter names)."""
    out = errors.copy()
    out["problem"] = [render(str(m), name) for m in out["problem"]]
    return out


def _run(regimen: Regimen, roster_path: str | Path, sink: Callable[[pd.DataFrame], None], errors_path: Path, *,
         bsa_formula: str | None, cycles: int | Mapping[str, int] | None, cycle_length: int | None,
         chunk_size: int, progress: bool | None, options: ClinicalOptions | None = None,
         option_name: Callable[[str], str] | None = None) -> RunSummary:
    """Expand ROSTER chunk by chunk into ``sink``; write the errors file; count patients in, expanded, rejected."""
    import click
    import pandas as pd

    roster = read_roster(roster_path)
    expander = CohortExpander(regimen, bsa_formula=bsa_formula, cycles=cycles, cycle_length=cycle_length,
                              options=options)
    expander.required_columns([str(c) for c in roster.columns])
    if progress is None:
        progress = sys.stderr.isatty() and len(roster) > chunk_size
    problems: list[pd.DataFrame] = []
    rows = 0
    chunks = iter_cohort(expander, roster, chunk_size=chunk_size)
    bar = click.progressbar(length=len(roster), label=f"Expanding {regimen.id}", file=sys.stderr) if progress \
        else None
    try:
        for frame, errs, n in chunks:
            sink(frame)
            rows += len(frame)
            if len(errs):
                problems.append(errs)
            if bar is not None:
                bar.update(n)
    finally:
        if bar is not None:
            bar.render_finish()
    errors = pd.concat(problems, ignore_index=True) if problems else pd.DataFrame(columns=list(ERROR_COLUMNS))
    if len(errors) or errors_path.exists():  # never leave a stale errors file from an earlier run
        with atomic_target(errors_path) as tmp:
            rendered(errors, option_name).to_csv(tmp, index=False, lineterminator="\n")
    rejected = int(errors["row"].nunique())
    return RunSummary(patients_in=len(roster), expanded=len(roster) - rejected, rows=rows, errors_path=errors_path,
                      notes=tuple(expander.notes))


def run_cohort_file(regimen: Regimen, roster_path: str | Path, output: str | Path, *,
                    errors_path: str | Path | None = None, bsa_formula: str | None = None,
                    cycles: int | Mapping[str, int] | None = None, cycle_length: int | None = None,
                    chunk_size: int = 50_000, progress: bool | None = None,
                    options: ClinicalOptions | None = None,
                    option_name: Callable[[str], str] | None = None) -> RunSummary:
    """ROSTER file -> OUT file (+ errors file), in chunks: memory stays bounded by a chunk's rows.

    OUT is written atomically (a temporary file beside it, renamed when complete)."""
    writer = FrameWriter(output)
    try:
        summary = _run(regimen, roster_path, writer.write,
                       Path(errors_path) if errors_path is not None else errors_path_for(output),
                       bsa_formula=bsa_formula, cycles=cycles, cycle_length=cycle_length, chunk_size=chunk_size,
                       progress=progress, options=options, option_name=option_name)
    except BaseException:
        writer.close(ok=False)
        raise
    writer.close()
    return summary


def supply_rows(regimen: Regimen, roster_path: str | Path, sink: Callable[[pd.DataFrame], None], *,
                errors_path: str | Path | None = None, bsa_formula: str | None = None,
                cycles: int | Mapping[str, int] | None = None, cycle_length: int | None = None,
                chunk_size: int = 50_000, options: ClinicalOptions | None = None,
                option_name: Callable[[str], str] | None = None) -> RunSummary:
    """Cohort rows for a supply forecast, chunk by chunk into ``sink`` (errors file beside the roster by default)."""
    where = Path(errors_path) if errors_path is not None else errors_path_for(roster_path)
    return _run(regimen, roster_path, sink, where, bsa_formula=bsa_formula, cycles=cycles, cycle_length=cycle_length,
                chunk_size=chunk_size, progress=False, options=options, option_name=option_name)


__all__ = [
    "COLUMNS",
    "ERROR_COLUMNS",
    "OUTPUT_COLUMNS",
    "CohortError",
    "CohortExpander",
    "CohortResult",
    "RejectedRowsWarning",
    "cohort",
    "expand_cohort",
    "read_roster",
    "run_cohort_file",
    "supply_rows",
    "write_frame",
]
