"""What must be known before the first dose (issue 27): each requirement met, waived or not applicable, and the
DPYD result's change of the fluoropyrimidine dose.

DPYD: CPIC guideline for dihydropyrimidine dehydrogenase genotype and fluoropyrimidine dosing, 2017 update
(Amstutz U, et al. Clin Pharmacol Ther 2018;103(2):210-216), with its November 2018 update on the CPIC website:
a normal metabolizer (activity score 2) gets the label dose; an intermediate metabolizer (activity score 1 or 1.5)
gets a 50 % starting dose (the 2017 text gave 25-50 % for 1.5; the update made it 50 % for both, after Henricks
et al., Lancet Oncol 2018); a poor metabolizer (activity score 0 or 0.5) should avoid fluorouracil and its
prodrugs. The change applies to the full dose as it would be given, after the protocol's caps, like any change of
dose (:mod:`regimen.clinical.adjust`); 50 % needs no confirmation (:mod:`regimen.clinical.dose_change`).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from fractions import Fraction
from typing import Literal

from regimen.clinical.dose_change import DoseChange
from regimen.errors import RegimenError, option
from regimen.model import Component, Regimen, Requirement
from regimen.quantities.exact import format_fraction

#: Drugs whose dose the DPYD result changes (fluorouracil and its oral prodrugs), as CPIC names them.
FLUOROPYRIMIDINES = ("fluorouracil", "capecitabine", "tegafur")
CPIC = "CPIC 2017, updated 2018"

Phenotype = Literal["normal", "intermediate", "poor"]
_SCORE = re.compile(r"^\s*(?:(?:dpyd\s+)?activity\s+score\s*|as\s*)?([0-2](?:\.5)?)\s*$", re.IGNORECASE)
_WORDS: dict[str, Phenotype] = {
    "normal": "normal",
    "normal metabolizer": "normal",
    "intermediate": "intermediate",
    "intermediate metabolizer": "intermediate",
    "poor": "poor",
    "poor metabolizer": "poor",
}


class PretreatmentError(RegimenError):
    """A pre-treatment result that cannot be read or forbids the treatment."""


@dataclass(frozen=True, slots=True)
class Dpyd:
    """A DPYD result: the phenotype, and the activity score when it was given."""

    phenotype: Phenotype
    activity_score: Fraction | None = None

    def describe(self) -> str:
        score = f" (activity score {format_fraction(self.activity_score)})" if self.activity_score is not None else ""
        return f"DPYD {self.phenotype} metabolizer{score}"

    def change(self) -> DoseChange | None:
        """The change of the fluoropyrimidine dose CPIC gives: 50 % for an intermediate metabolizer; none for a
        normal one. A poor metabolizer is refused: CPIC says to avoid fluorouracil and its prodrugs."""
        if self.phenotype == "normal":
            return None
        if self.phenotype == "poor":
            raise PretreatmentError(
                f"{self.describe()}: {CPIC} says to avoid fluorouracil and its prodrugs (capecitabine); choose "
                "another regimen, or a strongly reduced dose with drug monitoring decided by the prescriber"
            )
        return DoseChange(Fraction(50))

    def working(self) -> str:
        change = self.change()
        assert change is not None
        return f"{self.describe()}: {change.describe()} ({CPIC})"


def read_dpyd(text: str) -> Dpyd:
    """'activity score 1', '1.5', 'intermediate', 'poor metabolizer' -> :class:`Dpyd`."""
    raw = " ".join(str(text).strip().lower().split())
    match = _SCORE.match(raw)
    if match is not None:
        score = Fraction(match.group(1))
        phenotype: Phenotype = "normal" if score == 2 else "intermediate" if score >= 1 else "poor"
        return Dpyd(phenotype, score)
    if raw in _WORDS:
        return Dpyd(_WORDS[raw])
    raise PretreatmentError(
        f"{option('dpyd')} {text!r} is not a DPYD result: give the activity score (e.g. 'activity score 1', 0 to 2 "
        "in steps of 0.5) or the phenotype (normal, intermediate, poor)"
    )


def is_fluoropyrimidine(comp: Component) -> bool:
    return any(name in comp.drug.lower() for name in FLUOROPYRIMIDINES)


def check_dpyd(regimen: Regimen, dpyd: Dpyd) -> None:
    """A DPYD result for a regimen without a fluoropyrimidine is a slip; a poor metabolizer is refused."""
    if not any(is_fluoropyrimidine(c) for c in regimen.components() if not c.supportive):
        raise PretreatmentError(
            f"{option('dpyd')}: {regimen.id} has no fluoropyrimidine, so a DPYD result changes no dose"
        )
    dpyd.change()


# ---- requirements met, waived or not applicable ----------------------------------------------------------

Status = Literal["met", "waived", "not applicable", "not recorded"]


@dataclass(frozen=True, slots=True)
class Recorded:
    """What was recorded for a requirement: met (with the result), waived (with a reason) or not applicable."""

    status: Literal["met", "waived", "not applicable"]
    detail: str | None = None  # the result, or the reason for a waiver

    def __post_init__(self) -> None:
        if self.status == "waived" and not (self.detail or "").strip():
            raise PretreatmentError("a requirement is waived only with a reason")


@dataclass(frozen=True, slots=True)
class RequirementStatus:
    requirement: Requirement
    status: Status
    detail: str | None = None

    @property
    def settled(self) -> bool:
        return self.status != "not recorded"

    def line(self) -> str:
        detail = f": {self.detail}" if self.detail else ""
        return f"{self.requirement.test} (before {', '.join(self.requirement.drugs)}): {self.status}{detail}"


def requirement_status(
    regimen: Regimen, recorded: Mapping[str, Recorded], dpyd: Dpyd | None = None
) -> list[RequirementStatus]:
    """Each of the regimen's requirements with what was recorded for it (by requirement id); a DPYD result given
    meets the 'dpyd' requirement. A requirement with nothing recorded is 'not recorded': the first dose waits."""
    unknown = set(recorded) - {r.id for r in regimen.requirements}
    if unknown:
        ids = ", ".join(r.id for r in regimen.requirements) or "none"
        raise PretreatmentError(f"{regimen.id} has no requirement {sorted(unknown)[0]!r}; its requirements: {ids}")
    out = []
    for req in regimen.requirements:
        found = recorded.get(req.id)
        if found is not None:
            out.append(RequirementStatus(req, found.status, found.detail))
        elif req.id == "dpyd" and dpyd is not None:
            out.append(RequirementStatus(req, "met", dpyd.describe()))
        else:
            out.append(RequirementStatus(req, "not recorded"))
    return out


def first_dose_allowed(statuses: Sequence[RequirementStatus]) -> bool:
    """The first dose may be recorded as given only when every requirement is met, waived or not applicable."""
    return all(s.settled for s in statuses)


__all__ = [
    "CPIC",
    "FLUOROPYRIMIDINES",
    "Dpyd",
    "PretreatmentError",
    "Recorded",
    "RequirementStatus",
    "check_dpyd",
    "first_dose_allowed",
    "is_fluoropyrimidine",
    "read_dpyd",
    "requirement_status",
]
