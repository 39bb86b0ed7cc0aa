"""The protocol beyond the doses, as a regimen file states it with its sources: the emetogenic risk, what must be
known before the first dose, the gates before each cycle and the modification table (issue 27). Frozen dataclasses,
like the rest of :mod:`regimen.model`, which names each of them too."""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction
from typing import Literal

from regimen.quantities.units import ParsedDose


@dataclass(frozen=True, slots=True)
class EmetogenicRisk:
    """The regimen's emetogenic risk as the cited antiemetic guideline classes it (high, moderate, low, minimal)."""

    level: str
    source: str
    note: str | None = None


@dataclass(frozen=True, slots=True)
class Requirement:
    """What must be known before the first dose of some drugs (DPYD status before a fluoropyrimidine), cited."""

    id: str  # dpyd, hepatitis-b, lvef, audiometry, or another id the file gives
    test: str  # what must be known, in words
    drugs: tuple[str, ...]  # the components (or drug names) it must be known before
    source: str
    note: str | None = None


Comparison = Literal["<", "<=", ">", ">=", "="]


@dataclass(frozen=True, slots=True)
class Condition:
    """One comparison of a pre-cycle value with a threshold, in the test's own unit: 'anc < 1.5' (×10⁹/L),
    'neuropathy >= 2 persistent' (a grade that persists between cycles)."""

    test: str
    op: Comparison
    value: Fraction
    text: str
    persistent: bool = False
    unit: str = ""  # the test's canonical unit, or '× ULN' for a multiple of the upper limit of normal

    def holds(self, value: Fraction, persistent: bool = False) -> bool:
        if self.persistent and not persistent:
            return False
        return {
            "<": value < self.value,
            "<=": value <= self.value,
            ">": value > self.value,
            ">=": value >= self.value,
            "=": value == self.value,
        }[self.op]


@dataclass(frozen=True, slots=True)
class Gate:
    """What must hold before a cycle starts: 'anc >= 1.5' (×10⁹/L), with its source."""

    condition: Condition
    source: str
    note: str | None = None
    #: The phases whose cycles it gates (a regimen of phases: dd-AC's AC phase and its paclitaxel phase have rules of
    #: their own); empty: every cycle of the regimen.
    phases: tuple[str, ...] = ()

    def applies(self, phase: str | None) -> bool:
        """Whether it gates a cycle of ``phase`` (None: a check that names no phase, which every gate applies to)."""
        return _in_scope(self.phases, phase)


def _in_scope(phases: tuple[str, ...], phase: str | None) -> bool:
    """Whether a gate or modification scoped to ``phases`` (empty: every phase) applies to a cycle of ``phase``."""
    return not phases or phase is None or phase in phases


Action = Literal["delay", "reduce", "omit", "stop"]
ACTIONS: tuple[Action, ...] = ("delay", "reduce", "omit", "stop")


@dataclass(frozen=True, slots=True)
class Step:
    """What a modification does: delay the cycle by some days, give some drugs at a dose level (or a percentage,
    or a dose of their own), omit some drugs, or stop them."""

    action: Action
    drugs: tuple[str, ...] = ()  # components or drug names; none: every anticancer drug
    delay_days: int | None = None
    level: int | None = None
    percent: Fraction | None = None
    dose: ParsedDose | None = None


@dataclass(frozen=True, slots=True)
class Modification:
    """One line of the regimen's modification table: when all its conditions hold, its step; after ``after_delays``
    delays for it, ``then`` instead (e.g. a second delay: reduce to dose level -1)."""

    when: tuple[Condition, ...]
    step: Step
    source: str
    then: Step | None = None
    after_delays: int | None = None
    note: str | None = None
    phases: tuple[str, ...] = ()  # the phases whose cycles it applies to, as :attr:`Gate.phases`

    def applies(self, phase: str | None) -> bool:
        return _in_scope(self.phases, phase)

    @property
    def text(self) -> str:
        return " and ".join(c.text for c in self.when)


__all__ = [
    "ACTIONS",
    "Action",
    "Comparison",
    "Condition",
    "EmetogenicRisk",
    "Gate",
    "Modification",
    "Requirement",
    "Step",
]
