"""The templates of a cohort run: one plan's rows per group of patients whose variants agree, what each row's dose
is worked out from (:class:`_DayRule`), and the blocks of rows of each distinct body value, put in the run's row
table (:class:`TemplateBlocks`, a part of :class:`~regimen.engine.cohort.expander.CohortExpander`).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass
from fractions import Fraction
from typing import TYPE_CHECKING, Any

from regimen.clinical.gfr import Gfr
from regimen.engine.cohort.calvert import calvert_columns, plain_calvert
from regimen.engine.cohort.dose_columns import FACTOR_UNITS, dose_columns, dose_shape
from regimen.engine.cohort.roster import (
    Column,
)
from regimen.engine.cohort.rowtable import _DOSE_AT, _RowTable
from regimen.engine.cohort.values import (
    _ESTIMATE,
    _PATIENT_FIELD,
    _RENAL,
    ValueChecks,
    _factorize_rows,
    _NotVectorisable,
    _renal_fields,
)
from regimen.engine.doses import (
    HOURS_PER_DAY,
    DayDose,
    additives_step,
    choose_variant,
    component_schedule,
    day_doses,
)
from regimen.engine.plan import Plan
from regimen.engine.rows import DOSE_FIELDS, csv_records, dose_fields, kind_of
from regimen.errors import PatientError
from regimen.model import Administration, AucDose, Patient, Regimen
from regimen.quantities.exact import Rounding

if TYPE_CHECKING:  # pragma: no cover
    import numpy as np


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
    """No per-row adjustment in the regimen file (caps, rounding, dosing weights). Dose levels the file defines do
    not count: a level is given only when the run asks for one (``--dose-level``, clinical options), and every plain
    path is taken only in a run without options (FOLFIRI's irinotecan levels cost a plan per distinct BSA, issue 29)."""
    if getattr(regimen, "dosing_weight", None) is not None:
        return False
    return not any(getattr(c, name, None) for c in regimen.components() for name in _ADJUSTMENTS)


def _doses_by_auc(regimen: Regimen) -> bool:
    """Some dose is a target AUC (Calvert): each patient's GFR, measured or estimated from the serum creatinine."""
    return any(
        isinstance(d, AucDose)
        for comp in regimen.components()
        for d in [comp.dose, *(v.dose for v in comp.variants), *(lv.dose for lv in comp.levels)]
    )


class TemplateBlocks(ValueChecks):
    """The expander's templates and blocks: a plan per variant group, and its rows per distinct body value."""

    if TYPE_CHECKING:  # the expander's (:class:`~regimen.engine.cohort.expander.CohortExpander`)
        rounding: Rounding
        _blocks: dict[tuple[Any, ...], dict[tuple[Any, ...], int]]
        _worked: dict[tuple[Any, ...], tuple[int | float, ...]]
        _coded: dict[int, tuple[np.ndarray, np.ndarray, np.ndarray]]
        _table: _RowTable
        _templates: dict[tuple[Any, ...], _Template]
        _plain: bool
        _gfr_texts: dict[str, Gfr]

        def _expand(self, patient: Patient, start: dt.date | None = None, strict: bool = False) -> Plan: ...

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
        template = _Template(plan, csv_records(plan), keys, bases, extra)
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
        # the blocks of this template and basis, by body value: a run's signature is a long tuple, hashed here once
        # rather than once per body value (issue 29: a target AUC has a body value per patient)
        blocks = self._blocks.setdefault((signature, basis), {})
        for i, key in enumerate(keys):
            hit = blocks.get(key)
            if hit is not None:
                starts[i] = hit
            elif self._plain_block(key):
                plain.append(i)
            else:
                records = self._block_records(template, basis, key, self._body_patient(rep, basis, key))
                starts[i] = blocks[key] = self._table.add(records)
        if plain:
            new = [keys[i] for i in plain]
            first, size = self._plain_blocks(template, basis, new, rep)
            for n, (i, key) in enumerate(zip(plain, new, strict=True)):
                starts[i] = blocks[key] = first + n * size
        return starts

    def _rules(self, template: _Template, basis: str) -> tuple[list[int], list[_DayRule], np.ndarray]:
        """The template's rows of one basis, their distinct dose rules (in order of first row), and each row's."""
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
        return rows, spec, np.asarray(rule_list, dtype=np.int64)

    def _plain_blocks(
        self, template: _Template, basis: str, keys: list[tuple[Any, ...]], rep: Patient
    ) -> tuple[int, int]:
        """Add the blocks of plain dosing for body values ``keys`` (none yet in the table), one after another; the
        table's row of the first, and the rows a block has. Each row is its template row with the fields that come
        from the dose (:data:`DOSE_FIELDS`: the days of one rule share one working), as in expand()."""
        import numpy as np

        rows, spec, rule_of = self._rules(template, basis)
        # the dose fields of each rule and body value: ints (the exact dose's numerator and denominator) apart from
        # the floats and text codes, so that a numerator is never taken through a float
        worked = np.zeros((len(DOSE_FIELDS), len(spec), len(keys)), dtype=np.float64)
        worked_ints = np.zeros((len(DOSE_FIELDS), len(spec), len(keys)), dtype=np.int64)
        done = np.zeros((len(spec), len(keys)), dtype=bool)
        if basis == "auc":  # Calvert doses from GFRs in hundredths: all at once
            done = self._calvert_fields(spec, keys, worked, worked_ints)
        elif basis in FACTOR_UNITS and all(len(key) == 2 for key in keys):  # by weight or BSA given: all at once
            done = self._factor_fields(spec, basis, keys, worked, worked_ints)
        for k in np.flatnonzero(~done.all(axis=0)).tolist():
            key = keys[k]
            patient: Patient | None = None  # made only when a rule's working is not yet remembered
            gfr: Gfr | None = None
            for r, rule in enumerate(spec):
                if done[r, k]:
                    continue
                memo = (*rule.key, basis, key)
                fields = self._worked.get(memo)
                if fields is None:
                    if patient is None:
                        patient = self._body_patient(rep, basis, key)
                        gfr = self._gfr_of(patient, key) if basis == "auc" else None
                    amount, rate, hours, calculation, _ = rule.work(patient, self.rounding, gfr)
                    fields = self._worked[memo] = self._table.dose_codes(
                        dose_fields(self.rounding, amount, rate, hours, calculation)
                    )
                for field_at, (kind, _) in enumerate(_DOSE_AT):
                    (worked_ints if kind == "int" else worked)[field_at, r, k] = fields[field_at]
        return self._append_blocks(template, rows, rule_of, worked, worked_ints)

    def _append_blocks(
        self, template: _Template, rows: list[int], rule_of: np.ndarray, worked: np.ndarray, worked_ints: np.ndarray
    ) -> tuple[int, int]:
        """Add a block of the template's rows ``rows`` per body value, one after another, each row with the dose
        fields of its rule (``rule_of``) for that value: ``worked`` and ``worked_ints`` (field, rule, value; text as
        codes). The table's row of the first, and the rows a block has."""
        import numpy as np

        texts, ints, floats = self._template_codes(template)
        n, size = worked.shape[2], len(rows)
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

    def _calvert_fields(
        self, spec: list[_DayRule], keys: list[tuple[Any, ...]], worked: np.ndarray, worked_ints: np.ndarray
    ) -> np.ndarray:
        """Put in ``worked`` and ``worked_ints`` (field, rule, key; as :meth:`_plain_blocks` holds them) the dose
        fields of each rule of :func:`plain_calvert` for each key whose GFR is a whole number of hundredths of a
        mL/min, all at once (:func:`calvert_columns`). Which (rule, key) were put in; the others are worked out one
        by one."""
        import numpy as np

        done = np.zeros((len(spec), len(keys)), dtype=bool)
        used = np.full(len(keys), -1, dtype=np.int64)  # each key's GFR as used (after the cap), in hundredths
        for k, key in enumerate(keys):
            gfr = self._gfr_texts.get(key[1]) if len(key) == 2 else None
            if gfr is not None and (gfr.used.numerator * 100) % gfr.used.denominator == 0:
                used[k] = gfr.used.numerator * 100 // gfr.used.denominator
        at = np.flatnonzero(used >= 0)
        texts = [keys[k][1] for k in at.tolist()]
        for r, rule in enumerate(spec):
            if not len(at) or not plain_calvert(rule):
                continue
            values = calvert_columns(rule.dose, used[at], texts, self.rounding, additives_step(rule.comp))
            if values is not None:
                self._put_fields(values, r, at, worked, worked_ints)
                done[r, at] = True
        return done

    def _factor_fields(
        self,
        spec: list[_DayRule],
        basis: str,
        keys: list[tuple[Any, ...]],
        worked: np.ndarray,
        worked_ints: np.ndarray,
    ) -> np.ndarray:
        """Put in ``worked`` and ``worked_ints`` (as :meth:`_calvert_fields` does) the dose fields of each rule whose
        dose is by weight or BSA, one a day, for every key (a value given) at once (:func:`dose_columns`); which
        (rule, key) were put in, the others worked out one by one."""
        import numpy as np

        done = np.zeros((len(spec), len(keys)), dtype=bool)
        factors = [key[1] for key in keys]
        at = np.arange(len(keys))
        for r, rule in enumerate(spec):
            shape = dose_shape(
                rule.dose,
                rule.continuous,
                rule.duration,
                rule.hours_today,
                rule.infusion_hours,
                rule.comp.times_per_day,
            )
            if shape is None or rule.dose_number is not None or str(rule.dose.unit.basis) != basis:
                continue
            values = dose_columns(shape, basis, factors, self.rounding, additives_step(rule.comp))
            if values is not None:
                self._put_fields(values, r, at, worked, worked_ints)
                done[r] = True
        return done

    def _put_fields(
        self, values: dict[str, Any], r: int, at: np.ndarray, worked: np.ndarray, worked_ints: np.ndarray
    ) -> None:
        """Put the dose fields ``values`` (arrays; text as lists of str, coded here) of rule ``r`` for the keys ``at``
        in ``worked`` and ``worked_ints``."""
        import numpy as np

        table = self._table.dictionaries
        for field_at, (name, (kind, _)) in enumerate(zip(DOSE_FIELDS, _DOSE_AT, strict=True)):
            value = values[name]
            if kind == "text":
                value = np.asarray(table[name].codes(value), dtype=np.float64)
            (worked_ints if kind == "int" else worked)[field_at, r, at] = value

    def _gfr_of(self, patient: Patient, key: tuple[Any, ...]) -> Gfr | None:
        """The GFR of a block of AUC dosing: by its text (:meth:`_gfr_keys`), else the patient's by prepare()."""
        return self._gfr_texts[key[1]] if len(key) == 2 else self._gfr(patient)

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
        return csv_records(plan, [plan.administrations[j] for j in rows])

    def _body_keys(self, cols: dict[str, Column], members: np.ndarray, basis: str) -> tuple[np.ndarray, list[Any]]:
        """Per member, a code of its body value for ``basis`` (weight; BSA given or from height), and the keys."""
        import numpy as np

        if basis == "flat":
            return np.zeros(len(members), dtype=np.int64), [("flat",)]
        if basis == "auc" and _ESTIMATE in cols:  # plain rows: one block per GFR (its text says all the rows use)
            return self._gfr_keys(cols, members)
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
            values = cols["weight"].values
            return lookup[codes], [("given", values[u]) for u in used.tolist()]
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

    def _gfr_keys(self, cols: dict[str, Column], members: np.ndarray) -> tuple[np.ndarray, list[Any]]:
        """Per member, a code of their GFR for a target AUC, and the keys ("auc", the GFR's text): the GFR worked out
        in columns (:meth:`_estimated_gfr`), else prepare()'s, once per set of values. The text names the value,
        where it comes from and its cap, so it is all a row of plain dosing needs (:attr:`_gfr_texts`)."""
        import numpy as np
        import pandas as pd

        estimate = cols[_ESTIMATE]
        codes = estimate.codes[members]
        fast = codes >= 0
        if fast.all():  # every GFR worked out in columns: the keys numbered from its codes, in C
            key_codes, used = pd.factorize(codes)
            made = self._estimated_gfrs([estimate.values[c] for c in used.tolist()])
            texts_used = [g.text for g in made]
            # a GFR's text names its value, so distinct values have distinct texts, and these are the keys and codes
            # that numbering the texts gives (checked: two values of one text are numbered by text, below)
            if len(set(texts_used)) == len(texts_used):
                self._gfr_texts.update(zip(texts_used, made, strict=True))
                return np.asarray(key_codes, dtype=np.int64), [("auc", t) for t in texts_used]
        # some GFRs by prepare() (a value near a rounding tie or a limit): each numbered as its text is, the estimates'
        # by their codes and the others' texts looked up among them, so that no text of a member is hashed
        present, numbers_fast = np.unique(codes[fast], return_inverse=True)  # the estimates the members have
        estimated = self._estimated_gfrs([estimate.values[c] for c in present.tolist()])
        texts = [g.text for g in estimated]
        number = {t: i for i, t in enumerate(texts)}
        if len(number) != len(texts):  # pragma: no cover - a GFR's text names its value: never two alike
            raise _NotVectorisable("two GFRs of one text")
        self._gfr_texts.update(zip(texts, estimated, strict=True))
        numbers = np.full(len(members), -1, dtype=np.int64)
        numbers[fast] = numbers_fast
        slow = np.flatnonzero(~fast)
        if len(slow):
            found = [cols[k].codes[members[slow]] if k in cols else np.full(len(slow), -1) for k in _RENAL]
            sets, uniques = _factorize_rows(found)
            gfrs = [self._gfr(Patient(**_renal_fields(cols, u))) for u in uniques]
            numbered = []
            for g in gfrs:
                if g is None:
                    numbered.append(-1)
                    continue
                self._gfr_texts[g.text] = g
                if g.text not in number:
                    number[g.text] = len(texts)
                    texts.append(g.text)
                numbered.append(number[g.text])
            numbers[slow] = np.asarray(numbered, dtype=np.int64)[sets]
        # numbered in order of first appearance, a member without a GFR -1: as numbering the texts themselves
        key_codes = np.full(len(members), -1, dtype=np.int64)
        known = numbers >= 0
        key_codes[known], distinct = pd.factorize(numbers[known])
        return key_codes, [("auc", texts[t]) for t in distinct.tolist()]

    @staticmethod
    def _body_patient(rep: Patient, basis: str, key: tuple[Any, ...]) -> Patient:
        if key[0] == "flat":
            return rep
        if key[0] == "auc" and len(key) == 2:  # a GFR's text: a Calvert dose needs nothing else of the patient
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


__all__ = ["TemplateBlocks"]
