"""Kidney function acted on: a component's renal table (``[[component.renal]]``) applied to the patient's value.

The value is a measured GFR given with ``--gfr``, else the Cockcroft–Gault creatinine clearance from ``--scr``, age,
sex and actual weight (the estimate product information uses; :mod:`regimen.clinical.prepare`). It is read against
each component's rows once per run (:func:`renal_plan`):

* a row with a percentage: every dose of the drug is that percentage of the dose as it would be given, that is
  after the protocol's maximum doses and before rounding (:meth:`RenalPlan.apply`, called by
  :meth:`regimen.clinical.adjust.Adjustments.apply` between the caps and the rounding); the working says
  "renal: CrCl 43 mL/min (Cockcroft–Gault) is 30–50 mL/min: 75 % of the dose (source): 1,800 mg → 1,350 mg";
* "avoid" or "contraindicated": the drug is left out of the plan with a plan warning naming the drug, the value,
  the range and the source; under ``--strict`` it is an error;
* no row holds: the full dose, said in the notes; below the lowest bound the source states, a warning (the source
  gives no dose there, so none is made up).

A creatinine, age and weight without the sex give both sexes' clearances (the factor 0.85 or not): a table that both
read alike is applied ("CrCl 38.56 mL/min if female, 45.37 mL/min if male ... is 30–50 mL/min: 75 %"), and the plan
says the sex would not change it; where they read a table differently, the engine expands the plan once for each sex
and marks the rows that differ "sex female" / "sex male" (:func:`sex_decides`), as it does for a rule's missing value.

A creatinine without the age or without the weight (the sex given or not) gives the clearance over every value the
patient may have (:mod:`regimen.clinical.kidney_over`); where the tables read it differently, the engine expands the
plan once for each span of values they read alike ("46.3 ≤ weight ≤ 77.1 kg", :func:`over_decides`). Without both,
the clearance itself is the value not known, and the plan shows each range of it the tables read alike
("30 ≤ CrCl ≤ 50 mL/min").

Without a kidney value, a regimen with renal tables carries the note "kidney function not checked"; with a creatinine
whose clearance the engine has not yet split (the sex and the age not given, before each sex's plan), the same is a
warning naming what is missing. Liver
values are not taken by the tool: a regimen with hepatic tables says so in a note, naming the drugs.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Any, Protocol, TypeVar

from regimen.clinical.gfr import Gfr
from regimen.clinical.kidney_over import Over
from regimen.clinical.options import ClinicalOptions, StrictError
from regimen.clinical.prepare import Prepared
from regimen.clinical.tied_care import tied_to, timed_by
from regimen.errors import option
from regimen.model import Component, OrganBand, Regimen
from regimen.quantities.exact import format_fraction


def _names(drugs: list[str]) -> str:
    return ", ".join(dict.fromkeys(drugs))


def _verb(drugs: list[str]) -> str:
    return "has" if len(dict.fromkeys(drugs)) == 1 else "have"


def renal_drugs(regimen: Regimen) -> list[str]:
    """The drugs of ``regimen`` with renal dose tables, once each, in the regimen's order."""
    return list(dict.fromkeys(c.drug for c in regimen.components() if c.renal))


def not_checked_note(regimen: Regimen, how: str = "give --scr or --gfr") -> str | None:
    """The note of a plan made without a kidney value for a regimen with renal tables (also for cohorts whose
    rosters carry no kidney values, and the warning of a cycle check without one); ``how``: how to give one."""
    drugs = renal_drugs(regimen)
    if not drugs:
        return None
    return f"kidney function not checked: {_names(drugs)} {_verb(drugs)} renal dose adjustments in this regimen; {how}"


def hepatic_note(regimen: Regimen) -> str | None:
    drugs = [c.drug for c in regimen.components() if c.hepatic]
    if not drugs:
        return None
    return (
        f"liver values not checked: {_names(drugs)} {_verb(drugs)} hepatic dose adjustments in this regimen "
        f"(regimen show {regimen.id}); the tool takes no bilirubin, AST or ALT: check them by hand"
    )


def _lowest_bound(rows: tuple[OrganBand, ...]) -> Fraction | None:
    """The lowest value the rows speak of, when every row has a lower bound (else the rows reach down to 0)."""
    if any(r.min is None for r in rows):
        return None
    return min(r.min for r in rows if r.min is not None)


class Scalable(Protocol):
    """What :meth:`RenalPlan.apply` needs of a row being adjusted (:class:`regimen.clinical.adjust.PendingRow`)."""

    amount: Fraction
    steps: list[str]

    def scale(self, k: Fraction) -> None: ...


R = TypeVar("R", bound=Scalable)


@dataclass(slots=True)
class RenalPlan:
    """What each component's renal table says for this patient: the row that holds, and the kidney value it was
    read at, by component (identity). ``kidney``: the patient's value (None: none was read)."""

    kidney: Gfr | None = None
    rows: dict[int, tuple[OrganBand, Gfr]] = field(default_factory=dict)
    # supportive care the regimen file times before or after a drug left out (hydration before cisplatin): left out
    # with it, by component (identity) -> that drug
    with_drug: dict[int, str] = field(default_factory=dict)

    def apply(self, comp: Component, rows: list[R], unit: str) -> None:
        """Scale ``rows`` (one cycle of ``comp``, after the caps, before rounding) by the row that holds, or empty
        them when the row says avoid or contraindicated, or when ``comp`` is supportive care given with a drug so
        left out (the plan's warnings were given by :func:`renal_plan`)."""
        if id(comp) in self.with_drug:
            rows.clear()
            return
        found = self.rows.get(id(comp))
        if found is None:
            return
        band, kidney = found
        if band.stop is not None:
            rows.clear()
            return
        assert band.percent is not None
        said = f"renal: {kidney.text} is {band.range_text()}: {band.action_text()} ({band.source})"
        for row in rows:
            before = row.amount
            row.scale(band.percent / 100)
            row.steps.append(f"{said}: {format_fraction(before)} {unit} → {format_fraction(row.amount)} {unit}")


def renal_plan(regimen: Regimen, prepared: Prepared, options: ClinicalOptions, notes: list[str]) -> RenalPlan:
    """Read every renal table of ``regimen`` against the patient's kidney value, once per run. Notes go to
    ``notes``; warnings (a drug left out, no dose stated) to the plan's warnings; under --strict a drug left out is
    an error."""
    plan = RenalPlan(kidney=prepared.kidney)
    liver = regimen.once(hepatic_note)  # the regimen alone: once per regimen object, not once per plan
    if liver is not None:
        notes.append(liver)
    p = prepared.patient
    unstated = regimen.once(_no_renal_table)
    if unstated and (p.scr_mg_dl is not None or p.gfr_ml_min is not None):
        notes.append(unstated)
    with_rows = regimen.once(_with_renal_tables)
    if not with_rows:
        return plan
    kidneys = _kidneys(regimen, prepared, with_rows, notes)
    if kidneys is None:
        note = not_checked_note(regimen)
        assert note is not None
        missing = _missing(prepared)
        if missing:  # a creatinine was given but is not enough: a warning, never a silent full dose
            prepared.warnings.append(
                f"{note.removesuffix('; give --scr or --gfr')}: the Cockcroft–Gault clearance needs the patient's "
                f"age, sex and weight with --scr: pass {', '.join(missing)} (or a measured --gfr)"
            )
        else:
            notes.append(note)
        return plan
    for comp in with_rows:
        kidney = plan.kidney = kidneys[id(comp)]
        band, below = reading(comp, kidney.ml_min)
        if band is None:
            if below:
                prepared.warnings.append(
                    f"{comp.drug}: {kidney.text} is below {format_fraction(below)} mL/min, the lowest value its "
                    f"renal table states ({comp.renal[0].source}); no dose is stated there: the full dose is "
                    "planned, decide it by hand"
                )
            else:
                notes.append(f"renal: {kidney.text}: {comp.drug} at the full dose (no adjustment stated at this value)")
            continue
        plan.rows[id(comp)] = (band, kidney)
        if band.stop is None:
            notes.append(
                f"renal: {kidney.text} is {band.range_text()}: {comp.drug} {band.action_text()} ({band.source})"
            )
            continue
        said = stop_warning(comp, band, kidney.text)
        if options.strict:
            raise StrictError(f"{option('strict')}: {said}; resolve it or run without {option('strict')}")
        prepared.warnings.append(said)
    _leave_out_its_care(regimen, plan, prepared.warnings)
    return plan


def stop_warning(comp: Component, band: OrganBand, kidney: str) -> str:
    """The warning of ``comp`` left out of the plan by ``band`` (avoid, contraindicated) at the kidney value
    ``kidney`` (its text)."""
    return (
        f"{comp.drug} left out of the plan: {kidney} is {band.range_text()}, where its source says {band.stop} "
        f"({band.source})"
    )


def leaving_out(regimen: Regimen, stopped: Mapping[str, tuple[OrganBand, str]]) -> tuple[list[str], set[str]]:
    """The components ``stopped`` (by id: the row that leaves each out, and the kidney value's text) left out of a
    plan of ``regimen`` as :func:`renal_plan` leaves them: the plan's warnings, in its order, and the ids of every
    component left out (theirs and the supportive care tied to them). For a cohort's rows (regimen.engine.cohort.
    kidney), whose regimen's component ids are distinct."""
    plan = RenalPlan()
    warnings: list[str] = []
    for comp in regimen.once(_with_renal_tables):
        if comp.id in stopped:
            band, text = stopped[comp.id]
            plan.rows[id(comp)] = (band, Gfr(Fraction(0), Fraction(0), text))  # the value itself is not read here
            warnings.append(stop_warning(comp, band, text))
    _leave_out_its_care(regimen, plan, warnings)
    return warnings, {*stopped, *(c.id for c in regimen.components() if id(c) in plan.with_drug)}


def _leave_out_its_care(regimen: Regimen, plan: RenalPlan, warnings: list[str]) -> None:
    """Supportive care given for a drug the plan leaves out (:mod:`regimen.clinical.tied_care`: prehydration before
    mannitol before cisplatin) is left out with it. Where some supportive care is timed by the drug left out, a
    warning says what was left out and what stays: the rest follows the whole regimen and is the prescriber's to
    review (antiemetics chosen for cisplatin's emetogenic risk)."""
    for phase in regimen.phases:
        out = {c.id: c.drug for c in phase.components if (found := plan.rows.get(id(c))) and found[0].stop}
        if not out:
            continue
        tied = tied_to(phase, set(out))
        gone: dict[str, list[Component]] = {}  # by drug left out: its tied care, left out with it
        for comp in phase.components:
            if comp.id in tied:
                plan.with_drug[id(comp)] = out[tied[comp.id]]
                gone.setdefault(out[tied[comp.id]], []).append(comp)
        timed = {out[a] for c in phase.components if c.supportive and (a := timed_by(phase, c)) in out}
        kept = [c.id for c in phase.components if c.supportive and id(c) not in plan.with_drug]
        label = "" if phase.id == "main" else f"{phase.id}: "
        for drug in (d for d in dict.fromkeys(out.values()) if d in timed):
            comps = gone.get(drug, [])
            listed = "; ".join(f"{c.id} ({c.drug + ', ' if c.drug != c.id else ''}{c.timing})" for c in comps)
            said = f"supportive care given for {drug} left out with it: {listed}" if comps else ""
            if kept:
                said += "; " if said else ""
                said += (
                    f"the supportive care that stays ({', '.join(kept)}) follows the whole regimen, {drug} included: "
                    "review it for the drugs given"
                )
            if said:
                warnings.append(f"{label}{said}")


def _kidneys(
    regimen: Regimen, prepared: Prepared, with_rows: tuple[Component, ...], notes: list[str]
) -> dict[int, Gfr] | None:
    """The kidney value each component's renal table is read at (by identity), None when there is none to read.

    Without the sex (a creatinine, age and weight given), a table that either sex's clearance reads alike is read at
    both ("CrCl 38.56 mL/min if female, 45.37 mL/min if male"); one that they read differently at the sex the engine
    assumes for one of the plan's two outcomes (:func:`sex_decides`), or at none when no sex is assumed."""
    if prepared.kidney is not None:
        return {id(c): prepared.kidney for c in with_rows}
    if prepared.kidney_over is not None:
        return _by_over(regimen, prepared, with_rows, notes)
    if prepared.kidney_each_sex is not None:
        return _each_sex_over(regimen, prepared, with_rows, notes)
    pair = prepared.kidney_by_sex
    if pair is None:
        return None
    female, male = pair
    differ = {id(c) for c in _read_apart(with_rows, pair)}
    assumed = dict(prepared.patient.assumed).get("sex")
    if differ and assumed is None:
        return None
    if not differ:
        notes.append(
            f"sex not given: the Cockcroft–Gault clearance of either sex ({format_fraction(female.ml_min)} mL/min if "
            f"female, {format_fraction(male.ml_min)} mL/min if male) reads the renal table of "
            f"{_names(renal_drugs(regimen))} the same way, so the plan's doses hold for both; give --sex to record it"
        )
    both = Gfr(
        female.ml_min,
        female.used,
        f"CrCl {format_fraction(female.ml_min)} mL/min if female, {format_fraction(male.ml_min)} mL/min if male "
        "(Cockcroft–Gault; sex not given)",
    )
    chosen = female if assumed == "female" else male
    return {id(c): chosen if id(c) in differ else both for c in with_rows}


def _by_over(
    regimen: Regimen, prepared: Prepared, with_rows: tuple[Component, ...], notes: list[str]
) -> dict[int, Gfr] | None:
    """The age (or the weight) not given: the tables read alike at every value of it, or over the span of the outcome
    the engine assumes (:func:`over_decides`): the range of the clearance there, which every table reads the same
    way; None when the values read them differently and no outcome is assumed."""
    over = prepared.kidney_over
    assert over is not None
    spans = over_spans(regimen, prepared)
    assumed = dict(prepared.patient.assumed).get(ASSUMED)
    if len(spans) > 1 and assumed is None:
        return None
    at = spans[0][0] if assumed is None else Fraction(str(assumed).split(":")[0])
    if len(spans) == 1:
        lo, hi = (format_fraction(v) for v in spans[0])
        if over.direct:
            notes.append(
                f"{over.not_given} not given: the renal table of {_names(renal_drugs(regimen))} reads every "
                f"Cockcroft–Gault clearance from {lo} to {hi} mL/min the same way, so the plan's doses hold whatever "
                f"they are; give {over.options} to record them"
            )
        else:
            notes.append(
                f"{over.name} not given: the Cockcroft–Gault clearance at any {over.name} from {lo} to {hi} "
                f"{over.unit} reads the renal table of {_names(renal_drugs(regimen))} the same way, so the plan's "
                f"doses hold for every {over.name}; give --{over.name} to record it"
            )
    # each table over the run of values around the outcome's that it reads alike (wider than the outcome's, where
    # another table moves): the same row in each of those outcomes, shown once
    return {id(c): _over_span(over, c, at) for c in with_rows}


def _each_sex_over(
    regimen: Regimen, prepared: Prepared, with_rows: tuple[Component, ...], notes: list[str]
) -> dict[int, Gfr] | None:
    """Neither the sex nor the age (or the weight) given: the clearance over every value and both sexes when every
    table reads it alike there (a note says so); None when they read it differently (the engine expands each sex
    first, :func:`sex_decides`)."""
    pair = prepared.kidney_each_sex
    assert pair is not None
    if _read_differently(regimen, pair):
        return None
    name, unit = pair[0].name, pair[0].unit
    ends = [o.at(i) for o in pair for i in (o.low, o.high)]  # monotone: the least and most at the ends
    low, high = min(ends), max(ends)
    first = format_fraction(min(o.value(o.low) for o in pair))
    last = format_fraction(max(o.value(o.high) for o in pair))
    notes.append(
        f"{name} and sex not given: the Cockcroft–Gault clearance at any {name} from {first} to {last} {unit} and of "
        f"either sex ({format_fraction(low)} to {format_fraction(high)} mL/min) reads the renal table of "
        f"{_names(renal_drugs(regimen))} the same way, so the plan's doses hold for every {name} and both sexes; give "
        f"--{name} and --sex to record them"
    )
    text = f"CrCl {format_fraction(low)}–{format_fraction(high)} mL/min (Cockcroft–Gault) at any {name}, either sex"
    kidney = Gfr(low, low, f"{text} ({name} and sex not given)")
    return {id(c): kidney for c in with_rows}


def _read_differently(regimen: Regimen, pair: tuple[Over, ...]) -> bool:
    """Whether the renal tables read the clearances of ``pair`` (each sex's over a value not given) differently
    somewhere: over one sex's values, or between the sexes."""
    key = _tables_read(regimen)
    return any(len(o.runs(key)) > 1 for o in pair) or len({key(o.at(o.low)) for o in pair}) > 1


def _tables_read(regimen: Regimen) -> Callable[[Fraction], tuple[Any, ...]]:
    """What every renal table of ``regimen`` says at a clearance (:func:`reading` of each): equal where they all read
    it alike."""
    tables = regimen.once(_with_renal_tables)
    return lambda cg: tuple(reading(c, cg) for c in tables)


def _over_span(over: Over, comp: Component, at: Fraction) -> Gfr:
    """The clearance over the run of values around ``at`` (an age, a weight) at which ``comp``'s table reads it
    alike."""
    here = over.index(at)
    low, high = over.run_around(here, lambda cg: reading(comp, cg))
    ends = (over.at(low), over.at(high))  # the clearance is monotone: its least and most are at the run's ends
    if over.direct:  # the points are the clearance itself
        what = _range(over, low, high)
        return Gfr(over.at(here), over.at(here), f"CrCl {what} (Cockcroft–Gault; {over.not_given} not given)")
    first, last = format_fraction(over.value(low)), format_fraction(over.value(high))
    where = f"{over.name} {first}{over.suffix}" if low == high else f"{over.name}s {first}–{last}{over.suffix}"
    text = f"CrCl {format_fraction(min(ends))}–{format_fraction(max(ends))} mL/min (Cockcroft–Gault) at {where}"
    return Gfr(over.at(here), over.at(here), f"{text} ({over.name} not given)")


def _range(over: Over, low: int, high: int) -> str:
    """A run of clearances as a condition writes it: "≤ 29.99 mL/min", "30–50 mL/min", "≥ 50.01 mL/min"."""
    first, last = format_fraction(over.value(low)), format_fraction(over.value(high))
    if low == over.low:
        return f"≤ {last} {over.unit}"
    return f"≥ {first} {over.unit}" if high == over.high else f"{first}–{last} {over.unit}"


def over_spans(regimen: Regimen, prepared: Prepared) -> list[tuple[Fraction, Fraction]]:
    """The age (or weight) not given: the runs of its values (first, last) at which every renal table reads the
    clearance the same way, lowest first."""
    over = prepared.kidney_over
    assert over is not None
    return [(over.value(first), over.value(last)) for first, last in over.runs(_tables_read(regimen))]


def over_decides(regimen: Regimen, prepared: Prepared) -> bool:
    """A creatinine without the age or the weight (and no measured GFR), no span assumed yet: whether the renal
    tables read the clearance differently over the value not given, so that the plan must show each span's doses
    (the engine then expands the plan once for each, :func:`over_spans`)."""
    if prepared.kidney_over is None or prepared.kidney is not None:
        return False
    if ASSUMED in dict(prepared.patient.assumed) or not regimen.once(_with_renal_tables):
        return False
    return len(over_spans(regimen, prepared)) > 1


def over_warning(regimen: Regimen, prepared: Prepared, conditions: list[str]) -> str:
    """The warning of a plan whose renal doses depend on the age (or weight) not given (:func:`over_decides`)."""
    over = prepared.kidney_over
    assert over is not None
    if over.direct:
        return (
            f"{over.not_given} not given: the Cockcroft–Gault clearance cannot be worked out from the creatinine "
            f"alone, and the renal table of {_names(renal_drugs(regimen))} gives different doses by its value; rows "
            f"that depend on it are marked 'only if ...' and totals are shown for each outcome "
            f"({', '.join(conditions)}){over.grain}. Give {over.options} (or a measured --gfr) to settle it"
        )
    first, at_first, last, at_last = over.value(over.low), over.at(over.low), over.value(over.high), over.at(over.high)
    return (
        f"{over.name} not given: the Cockcroft–Gault clearance depends on it ({format_fraction(at_first)} mL/min at "
        f"{format_fraction(first)} {over.unit} to {format_fraction(at_last)} mL/min at {format_fraction(last)}), and "
        f"the renal table of {_names(renal_drugs(regimen))} reads it differently by {over.name}; rows that depend on "
        f"it are marked 'only if ...' and totals are shown for each outcome ({', '.join(conditions)})"
        f"{over.grain}. Give --{over.name} to settle it"
    )


#: The assumed value of an outcome of a value not given that a renal table reads: its span, "first:last".
ASSUMED = "kidney_over"


def reading(comp: Component, ml_min: Fraction) -> tuple[OrganBand | None, Fraction | None]:
    """What ``comp``'s renal table says at ``ml_min``: the row that holds (None: none does), and, when none does
    because the value is below every row, the lowest value the table states."""
    band = next((r for r in comp.renal if r.holds(ml_min)), None)
    if band is not None:
        return band, None
    lowest = _lowest_bound(comp.renal)
    return None, lowest if lowest is not None and ml_min < lowest else None


def sex_decides(regimen: Regimen, prepared: Prepared) -> bool:
    """A creatinine, age and weight without the sex (and no measured GFR), no sex assumed yet: whether the two
    sexes' Cockcroft–Gault clearances read some renal table of ``regimen`` differently, so that the plan must show
    each sex's doses (the engine then expands the plan once with each sex assumed, :func:`_kidneys`)."""
    if prepared.kidney is not None or "sex" in dict(prepared.patient.assumed):
        return False
    if prepared.kidney_each_sex is not None:  # the age or weight not given either: a table reading it apart
        return _read_differently(regimen, prepared.kidney_each_sex)
    pair = prepared.kidney_by_sex
    return pair is not None and bool(_read_apart(regimen.once(_with_renal_tables), pair))


def _read_apart(tables: tuple[Component, ...], pair: tuple[Gfr, Gfr]) -> list[Component]:
    """The renal tables that read the two sexes' clearances (``pair``: female, male) differently."""
    return [c for c in tables if reading(c, pair[0].ml_min) != reading(c, pair[1].ml_min)]


def sex_warning(regimen: Regimen, prepared: Prepared, conditions: list[str]) -> str:
    """The warning of a plan whose renal doses depend on the sex not given (:func:`sex_decides`)."""
    pair = prepared.kidney_each_sex
    if pair is not None:
        name = pair[0].name
        spans = "; ".join(
            f"{format_fraction(o.at(o.low))} mL/min at {format_fraction(o.value(o.low))} {o.unit} to "
            f"{format_fraction(o.at(o.high))} mL/min at {format_fraction(o.value(o.high))} if {sex}"
            for sex, o in zip(("female", "male"), pair, strict=True)
        )
        return (
            f"{name} and sex not given: the Cockcroft–Gault clearance depends on both ({spans}), and the renal table "
            f"of {_names(renal_drugs(regimen))} reads it differently by {name} or sex; rows that depend on them are "
            f"marked 'only if ...' and totals are shown for each outcome. Give --{name} and --sex to settle it"
        )
    assert prepared.kidney_by_sex is not None
    female, male = prepared.kidney_by_sex
    differ = [c.drug for c in _read_apart(regimen.once(_with_renal_tables), prepared.kidney_by_sex)]
    return (
        f"sex not given: the Cockcroft–Gault clearance is {format_fraction(female.ml_min)} mL/min if female and "
        f"{format_fraction(male.ml_min)} mL/min if male, and the renal table of {_names(differ)} reads them "
        f"differently; rows that depend on it are marked 'only if ...' and totals are shown for each outcome "
        f"({', '.join(conditions)}). Give --sex to settle it"
    )


def _no_renal_table(regimen: Regimen) -> str | None:
    """The note of a plan made with a kidney value on the anticancer drugs whose doses this regimen file gives no renal
    table for: their doses are not read against it (the file is silent, which is not the same as "no change")."""
    tabled = {c.drug for c in regimen.components() if c.renal}
    drugs = list(dict.fromkeys(c.drug for c in regimen.components() if c.role == "anticancer" and c.drug not in tabled))
    if not drugs:
        return None
    return (
        f"renal: this regimen file states no renal dose adjustment for {_names(drugs)}: "
        f"{'its dose is' if len(drugs) == 1 else 'their doses are'} not changed by the kidney value given; check "
        f"{'its' if len(drugs) == 1 else 'their'} product information"
    )


def _with_renal_tables(regimen: Regimen) -> tuple[Component, ...]:
    return tuple(c for c in regimen.components() if c.renal)


def _missing(prepared: Prepared) -> list[str]:
    """The options missing for a Cockcroft–Gault clearance when a creatinine was given (none without one)."""
    p = prepared.patient
    if p.scr_mg_dl is None:
        return []
    return [
        flag for flag, value in (("--age", p.age_years), ("--sex", p.sex), ("--weight", p.weight_kg)) if value is None
    ]


__all__ = [
    "RenalPlan",
    "hepatic_note",
    "leaving_out",
    "not_checked_note",
    "over_decides",
    "over_spans",
    "over_warning",
    "reading",
    "renal_drugs",
    "renal_plan",
    "sex_decides",
    "sex_warning",
    "stop_warning",
]
