"""Before each cycle: the cycle's values against the regimen's gates and modification table, and a proposal per
drug (go, delay, reduce, omit or stop) with the rule that fired and its source (issue 27). Pure functions: nothing
is recorded here; a course records what a person accepts.

Also the relative dose intensity (RDI) per drug: the dose given per week over the dose planned per week, the
standard measure of delivered chemotherapy (Hryniuk W, Goodyear M. The calculation of received dose intensity.
J Clin Oncol 1990;8(12):1935-7; Lyman GH. Impact of chemotherapy dose intensity on cancer patient outcomes.
J Natl Compr Canc Netw 2009;7(1):99-108). Delays lengthen the weeks, reductions lower the dose: both lower it.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Literal

from regimen.clinical.renal_adjust import not_checked_note, reading
from regimen.errors import RegimenError
from regimen.model import Administration, Component, Condition, Modification, OrganBand, Regimen, Step
from regimen.model.care import Comparison
from regimen.protocol.describe import step_text
from regimen.quantities.exact import format_fraction
from regimen.quantities.labs import TESTS, ULN, LabValue
from regimen.quantities.units import ParsedDose, parse_dose

Proposal = Literal["go", "delay", "reduce", "omit", "stop"]
#: The strongest proposal wins for a drug: stop > omit > delay > reduce > go.
STRENGTH: dict[str, int] = {"go": 0, "reduce": 1, "delay": 2, "omit": 3, "stop": 4}


class GateError(RegimenError):
    """A value that cannot be compared with the regimen's threshold as given."""


@dataclass(frozen=True, slots=True)
class Check:
    """One gate: the value against its threshold; ``met`` is None when the value was not given."""

    condition: Condition
    source: str
    value: LabValue | None
    met: bool | None

    def line(self) -> str:
        if self.value is None:
            return f"{self.condition.text}: not given ({self.source})"
        verdict = "met" if self.met else "NOT MET"
        via = f" ({self.value.working})" if self.value.working else ""
        return f"{self.condition.test} {self.value.shown}{via} — needs {self.condition.text}: {verdict} ({self.source})"


@dataclass(frozen=True, slots=True)
class Fired:
    """A line of the modification table whose conditions all hold, and the step it gives (``then`` after the
    stated number of delays)."""

    modification: Modification
    step: Step
    why: str
    #: a row of the drug's renal table ([[component.renal]]), read at the cycle's CrCl: a plan applies it from the
    #: kidney value in force, so a course records the creatinine rather than a dose change for it
    renal: bool = False

    def line(self) -> str:
        return f"if {self.modification.text}: {step_text(self.step)}{self.why} ({self.modification.source})"


@dataclass(frozen=True, slots=True)
class DrugProposal:
    component: str
    drug: str
    proposal: Proposal
    steps: tuple[Fired, ...] = ()  # a reduction's steps with the lowest dose first: the one a decision records
    #: several reductions fired whose doses cannot be compared (a dose level the component does not define, a dose
    #: of another basis): no one of them is the proposal's, the prescriber records the dose
    undecided: bool = False

    def waits(self, held: str | None) -> bool:
        """Whether this drug waits with a cycle held back by ``held`` (its own proposal is weaker than a delay)."""
        return held is not None and STRENGTH[self.proposal] < STRENGTH["delay"]

    def line(self, held: str | None = None) -> str:
        """The drug's proposal; ``held``: the gates not met that hold the whole cycle back (no rule answers them),
        so that a drug no rule touches reads 'waits with the cycle', never 'go' under a cycle that waits."""
        waits = self.waits(held)
        if not self.steps:
            return f"{self.component}: WAITS with the cycle ({held} not met)" if waits else f"{self.component}: go"
        rules = "; ".join(f.line() for f in self.steps)
        line = f"{self.component}: {self.proposal.upper()} — {rules}"
        return f"{line}; and it WAITS with the cycle ({held} not met)" if waits else line


@dataclass(frozen=True, slots=True)
class CycleCheck:
    """The whole evaluation of one cycle."""

    regimen: str
    cycle: int
    checks: tuple[Check, ...]
    fired: tuple[Fired, ...]
    drugs: tuple[DrugProposal, ...]
    unmatched: tuple[Check, ...] = ()  # gates not met for which the table gives no rule
    delay_days: int | None = None  # the longest delay proposed
    notes: tuple[str, ...] = field(default=())
    warnings: tuple[str, ...] = field(
        default=()
    )  # a kidney function not checked where the regimen's doses depend on it
    phase: str | None = None  # the cycle's phase, in a regimen of phases

    @property
    def label(self) -> str:
        """The cycle as the commands take it: '3', or 'ac:3' in a regimen of phases."""
        return f"{self.phase}:{self.cycle}" if self.phase else str(self.cycle)

    @property
    def proposal(self) -> Proposal:
        strongest: Proposal = max((d.proposal for d in self.drugs), key=STRENGTH.__getitem__, default="go")
        # a gate the table does not answer holds the whole cycle back: it waits, whatever a rule does to one drug
        return "delay" if self.unmatched and STRENGTH[strongest] < STRENGTH["stop"] else strongest

    @property
    def held(self) -> str | None:
        """The gates not met that hold the whole cycle back (no rule answers them for every drug), or None."""
        if self.proposal == "delay" and self.unmatched:
            return ", ".join(c.condition.text for c in self.unmatched)
        return None

    def drug_lines(self) -> list[str]:
        """Each drug's proposal as it reads under this cycle's: a drug waits with a cycle that a gate holds back."""
        return [d.line(self.held) for d in self.drugs]

    @property
    def complete(self) -> bool:
        """Every gate had its value."""
        return all(c.value is not None for c in self.checks)


def _compare(condition: Condition, value: LabValue) -> bool:
    if (condition.unit == ULN) != (value.unit == ULN):
        want = (
            "a multiple of the upper limit of normal (e.g. '1.2 x ULN')"
            if condition.unit == ULN
            else (f"{TESTS[condition.test].unit}")
        )
        raise GateError(
            f"{condition.test} {value.text!r}: the regimen compares it as {condition.text}: give it as {want}"
        )
    return condition.holds(value.value, value.persistent)


def _matches(key: str, component: str, drug: str) -> bool:
    return key.lower() in (component, drug.lower())


def _phase_of(regimen: Regimen, phase: str | None) -> str | None:
    """The phase a check is for: one of the regimen's, required in a regimen of several; None in a regimen of one
    phase (every gate and modification applies to its cycles)."""
    ids = [p.id for p in regimen.phases]
    if phase is None:
        if len(ids) > 1:
            raise GateError(f"{regimen.id} has phases ({', '.join(ids)}): say the cycle's phase, e.g. {ids[0]}:1")
        return None
    if phase not in ids:
        raise GateError(f"{regimen.id} has no phase {phase!r} (it has {', '.join(ids)})")
    return phase if regimen.phased else None


def evaluate(
    regimen: Regimen,
    cycle: int,
    values: Mapping[str, LabValue],
    delays: Mapping[str, int] | None = None,
    phase: str | None = None,
    planned: Fraction | None = None,
) -> CycleCheck:
    """The cycle's ``values`` (by test name) against ``regimen``'s gates and modification table.

    ``phase``: the cycle's phase (required in a regimen of several): only the gates and modifications of that
    phase (or of every phase) are evaluated, and only its anticancer drugs get a proposal.

    ``delays``: how many times this cycle has already been delayed for each modification (by its condition
    text), for the table's "after N delays" lines. Every gate is shown with its value (or as not given); every
    modification whose conditions all hold fires; each anticancer drug gets the strongest proposal of the
    steps that apply to it. A gate not met for which no modification fires proposes a delay with no interval:
    the table does not say what to do, a prescriber decides. The row of a drug's renal table that holds at a CrCl
    given fires as a rule (:func:`_renal_rows`); ``planned``: a course's kidney value in force, whose rows its
    planned doses already have."""
    if cycle < 1:
        raise GateError(f"cycle {cycle}: cycles are numbered from 1")
    unknown = set(values) - set(TESTS)
    if unknown:
        raise GateError(f"unknown test {sorted(unknown)[0]!r}: use one of {', '.join(TESTS)}")
    phase = _phase_of(regimen, phase)
    delays = delays or {}
    checks = []
    for gate in (g for g in regimen.gates if g.applies(phase)):
        value = values.get(gate.condition.test)
        met = None if value is None else _compare(gate.condition, value)
        checks.append(Check(gate.condition, gate.source, value, met))
    fired: list[Fired] = []
    modifications = [m for m in regimen.modifications if m.applies(phase)]
    for mod in modifications:
        given = [values.get(c.test) for c in mod.when]
        if any(v is None for v in given):
            continue
        if all(_compare(c, v) for c, v in zip(mod.when, given, strict=True) if v is not None):
            count = delays.get(mod.text, 0)
            if mod.then is not None and mod.after_delays is not None and count >= mod.after_delays:
                fired.append(Fired(mod, mod.then, f" (after {count} delays for it)"))
            else:
                fired.append(Fired(mod, mod.step, ""))
    crcl = values.get("crcl")
    in_plan: list[str] = []
    if crcl is not None:
        fired += _renal_rows(regimen, phase, crcl, planned, in_plan)
    drugs = []
    reductions: list[str] = []  # what is proposed where several rules reduce one drug
    for comp in (c for p in regimen.phases if phase in (None, p.id) for c in p.components):
        if comp.supportive:
            continue
        mine = tuple(f for f in fired if not f.step.drugs or any(_matches(k, comp.id, comp.drug) for k in f.step.drugs))
        strongest: Proposal = max((f.step.action for f in mine), key=STRENGTH.__getitem__, default="go")
        undecided = False
        if strongest == "reduce" and len(mine) > 1:
            mine, said = _lowest_first(mine, comp)
            undecided = said is None
            reductions.append(
                said
                or f"{comp.id}: {len(mine)} rules reduce it and their doses cannot be compared: "
                "the prescriber records the dose ('course dose'), and accepting the proposal is refused"
            )
        drugs.append(DrugProposal(comp.id, comp.drug, strongest, mine, undecided))
    # a gate not met is answered by the table only when, for each anticancer drug, a rule on its test fired for that
    # drug (mFOLFOX6: ANC < 0.5 omits the 5-FU bolus; that rule says nothing of the oxaliplatin the gate holds back);
    # a renal table's row answers no gate (EP below 45 mL/min: the source leaves the cycle to the prescriber)
    covered = {
        test
        for test in {c.condition.test for c in checks}
        if drugs
        and all(any(test in {c.test for c in f.modification.when} for f in d.steps if not f.renal) for d in drugs)
    }
    unmatched = tuple(c for c in checks if c.met is False and c.condition.test not in covered)
    delay = max((f.step.delay_days or 0 for f in fired if f.step.action == "delay"), default=0) or None
    notes = []
    missing = [c.condition.test for c in checks if c.value is None]
    if missing:
        notes.append(f"not given, so not checked: {', '.join(missing)}")
    if unmatched:
        notes.append(
            "a gate is not met and the regimen's table gives no rule for it that covers every drug: the cycle waits "
            "for the prescriber "
            f"({', '.join(c.condition.text for c in unmatched)})"
        )
    # a value given that no gate or rule of this cycle reads (ABVD's neutrophils: its protocol gives it regardless of
    # them): said, so that a count typed in is not taken as checked
    read_here = {c.condition.test for c in checks} | {c.test for m in modifications for c in m.when}
    ungated = [f"{test} {value.shown}" for test, value in values.items() if test not in read_here and test != "crcl"]
    if ungated:
        notes.append(f"read by no gate or rule of {regimen.id}, so not holding the cycle: {', '.join(ungated)}")
    # what the source says beside a rule that fired (its criterion in words, a choice left to the prescriber)
    notes += [f"if {f.modification.text}: {f.modification.note}" for f in fired if f.modification.note]
    notes += reductions + in_plan
    kidney = (
        None
        if "crcl" in values
        else not_checked_note(regimen, "give the creatinine (with age, weight, sex) or the CrCl")
    )
    warnings = (kidney,) if kidney else ()
    return CycleCheck(
        regimen.id, cycle, tuple(checks), tuple(fired), tuple(drugs), unmatched, delay, tuple(notes), warnings, phase
    )


def _bounds(band: OrganBand) -> tuple[tuple[Comparison, Fraction | None], ...]:
    return ((">=", band.min), ("<=", band.max), ("<", band.below))


def _renal_rows(
    regimen: Regimen, phase: str | None, crcl: LabValue, planned: Fraction | None, notes: list[str]
) -> list[Fired]:
    """The row of each anticancer drug's renal table that holds at the cycle's CrCl, as a rule that fired: a
    percentage or a dose of its own reduces the drug, 'avoid' or 'contraindicated' omits it this cycle. A check
    without them proposed 'go' for capecitabine at a CrCl of 25 mL/min, which its table contraindicates.
    ``planned``: the kidney value a course's doses were made at; a row that already holds there is in its doses
    (said in ``notes``), not proposed again."""
    out = []
    for comp in (c for p in regimen.phases if phase in (None, p.id) for c in p.components):
        band = reading(comp, crcl.value)[0] if comp.renal and not comp.supportive else None
        if band is None:
            continue
        if planned is not None and band.holds(planned):
            notes.append(
                f"{comp.id}: its renal row {band.range_text()} ({band.action_text()}) holds at the CrCl in force "
                f"({format_fraction(planned)} mL/min) too: the planned doses have it already"
            )
            continue
        when = tuple(
            Condition("crcl", op, bound, f"crcl {op} {format_fraction(bound, grouping=False)}", unit="mL/min")
            for op, bound in _bounds(band)
            if bound is not None
        )
        if band.stop is not None:
            step = Step("omit", (comp.id,))
        elif band.dose is not None:
            step = Step("reduce", (comp.id,), dose=parse_dose(band.dose))
        else:
            step = Step("reduce", (comp.id,), percent=band.percent)
        rule = Modification(when, step, f"renal table: {band.source}", note=band.note)
        out.append(Fired(rule, step, f" ({band.stop})" if band.stop else "", renal=True))
    return out


def step_share(step: Step, comp: Component) -> Fraction | None:
    """The share of ``comp``'s full dose, in per cent, that a reduction ``step`` gives (75 for 75 %): its percentage,
    its dose level's, or its own dose over the full dose (65 of 85 mg/m²: 1300/17); None when it cannot be worked
    out (a dose level the component does not define, a dose on another basis than the full dose's)."""
    if step.percent is not None:
        return step.percent
    dose = step.dose
    if step.level is not None:
        level = next((lv for lv in comp.levels if lv.level == step.level), None)
        if level is None:
            return None
        if level.percent is not None:
            return level.percent
        dose = level.dose
    full = comp.dose
    if dose is None or not isinstance(full, ParsedDose) or dose.unit.basis != full.unit.basis:
        return None
    return dose.canonical / full.canonical * 100


def _lowest_first(steps: tuple[Fired, ...], comp: Component) -> tuple[tuple[Fired, ...], str | None]:
    """Several reductions of one drug that fired, the one giving the lowest dose first (the rows of a table apply
    each alone: a bilirubin row at 75 % and a creatinine row at 50 % give 50 %, not 75 %, nor 75 % of 50 %), and
    what the check says of it; None when their doses cannot be compared."""
    shares = [step_share(f.step, comp) for f in steps]
    known = [s for s in shares if s is not None]
    if len(known) < len(shares):
        return steps, None
    order = sorted(range(len(steps)), key=lambda i: known[i])  # stable: the file's order among equal doses
    lowest = known[order[0]]
    said = ", ".join(f"{format_fraction(s)} %" for s in known)
    return tuple(steps[i] for i in order), (
        f"{comp.id}: {len(steps)} rules reduce it ({said}): the lowest dose, {format_fraction(lowest)} % of the full "
        "dose, is proposed (each rule applies alone; they are not multiplied)"
    )


def refuse_nothing_to_check(regimen: Regimen) -> None:
    """A cycle check needs something to check: gates, a modification table, or renal tables (the kidney)."""
    if not (regimen.gates or regimen.modifications or any(c.renal for c in regimen.components())):
        raise GateError(
            f"{regimen.id} states no gates, no modification table and no renal table: there is nothing to check against"
        )


# ---- relative dose intensity ----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class DoseIntensity:
    """One drug's relative dose intensity: (given / given weeks) / (planned / planned weeks)."""

    drug: str
    unit: str
    planned: Fraction
    planned_days: int
    given: Fraction
    given_days: int

    @property
    def rdi(self) -> Fraction:
        if self.planned == 0:
            raise GateError(f"{self.drug}: nothing was planned, so its dose intensity is not defined")
        return (self.given / self.given_days) / (self.planned / self.planned_days)

    def working(self) -> str:
        def weekly(amount: Fraction, days: int) -> str:
            return (
                f"{format_fraction(amount)} {self.unit} over {format_fraction(Fraction(days, 7))} weeks = "
                f"{format_fraction(amount * 7 / days)} {self.unit}/week"
            )

        return (
            f"{self.drug}: given {weekly(self.given, self.given_days)} ÷ planned "
            f"{weekly(self.planned, self.planned_days)} = {format_fraction(self.rdi * 100)} % (RDI)"
        )


def _by_drug(rows: Iterable[Administration]) -> dict[tuple[str, str], Fraction]:
    out: dict[tuple[str, str], Fraction] = {}
    for r in rows:
        if r.role == "anticancer":
            out[(r.drug, r.dose_unit)] = out.get((r.drug, r.dose_unit), Fraction(0)) + r.dose
    return out


def dose_intensity(
    planned: Iterable[Administration], planned_days: int, given: Iterable[Administration], given_days: int
) -> list[DoseIntensity]:
    """The RDI of each anticancer drug: the ``given`` rows over ``given_days`` (first day of the course to the end
    of its last cycle, delays included) against the ``planned`` rows over ``planned_days`` (the planned cycles'
    days). A drug planned but never given has an RDI of 0 %."""
    if planned_days < 1 or given_days < 1:
        raise GateError("dose intensity needs the planned and given durations in days (at least 1)")
    plan, done = _by_drug(planned), _by_drug(given)
    extra = set(done) - set(plan)
    if extra:
        drug, unit = sorted(extra)[0]
        raise GateError(f"{drug} ({unit}) was given but is not in the plan: its intensity has no planned dose")
    return [
        DoseIntensity(drug, unit, amount, planned_days, done.get((drug, unit), Fraction(0)), given_days)
        for (drug, unit), amount in plan.items()
    ]


__all__ = [
    "STRENGTH",
    "Check",
    "CycleCheck",
    "DoseIntensity",
    "DrugProposal",
    "Fired",
    "GateError",
    "dose_intensity",
    "evaluate",
    "refuse_nothing_to_check",
    "step_share",
]
