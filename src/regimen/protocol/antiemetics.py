"""What the antiemetic guidelines recommend for each emetogenic risk class, to show beside a regimen's risk.

A regimen file records its emetogenic risk with the guideline that classes it (``emetogenic_risk``) and, where a
source states them, its antiemetic components (``role = "supportive"``, ``kind = "antiemetic"``). Most protocol
libraries leave the antiemetics to local policy, so most files encode none; then ``regimen show`` says
what the guidelines recommend for the regimen's class, so the gap is visible, never filled with a guessed dose.

Source of the classes' recommendations (agents, not doses): MASCC/ESMO antiemetic guideline 2016 (Roila F, et al.
Ann Oncol 2016;27 suppl 5:v119-v133) and the ASCO antiemetics guideline (Basch E, et al. J Clin Oncol
2011;29:4189-98), as tabulated side by side in Table 3 of the PubMed Central article PMC5277198
(https://pmc.ncbi.nlm.nih.gov/articles/PMC5277198/table/T3): high (including anthracycline-cyclophosphamide
combinations), moderate, low, minimal. For the moderate class ASCO 2011 allows an NK1 receptor antagonist in
addition; the text follows MASCC/ESMO 2016 (a 5-HT3 receptor antagonist with dexamethasone) and says so.
"""

from __future__ import annotations

from collections.abc import Sequence

from regimen.model import Component, EmetogenicRisk

GUIDANCE_SOURCE = "MASCC/ESMO 2016 and ASCO 2011, as tabulated in PMC5277198, Table 3"

#: The acute-phase prophylaxis each class calls for (day 1 of each cycle), by agent class; no dose is given here.
RECOMMENDED: dict[str, str] = {
    "high": "an NK1 receptor antagonist + a 5-HT3 receptor antagonist + dexamethasone",
    "moderate": "a 5-HT3 receptor antagonist + dexamethasone (MASCC/ESMO 2016; ASCO 2011 allows an NK1 receptor "
    "antagonist in addition)",
    "low": "one agent: dexamethasone, a 5-HT3 receptor antagonist or a dopamine receptor antagonist",
    "minimal": "no routine prophylaxis",
}


def antiemetic_lines(risk: EmetogenicRisk | None, components: Sequence[Component]) -> list[str]:
    """One line: what the class calls for, and whether the file encodes antiemetics (which, by id), gives the low
    class's one agent through a supportive dexamethasone of another kind (a premedication), or leaves them to local
    policy. Empty when the file states no emetogenic risk."""
    if risk is None:
        return []
    called_for = RECOMMENDED[risk.level]
    encoded = [c.id for c in components if c.supportive and c.kind == "antiemetic"]
    if encoded:
        return [f"Antiemetics for {risk.level} emetic risk: {called_for} ({GUIDANCE_SOURCE}); encoded in this file: "
                f"{', '.join(encoded)}."]  # fmt: skip
    if risk.level == "minimal":
        return [f"Antiemetics for minimal emetic risk: {called_for} ({GUIDANCE_SOURCE})."]
    # The low class names dexamethasone as its one agent: a premedication that gives it (weekly paclitaxel's) is that
    # agent, and the file adds no second one, so the line says so rather than "prescribe per local policy".
    covering = [c for c in components if c.supportive and c.drug == "dexamethasone"]
    if risk.level == "low" and covering:
        given = ", ".join(f"{c.id} ({c.kind})" for c in covering)
        return [f"Antiemetics for low emetic risk: {called_for} ({GUIDANCE_SOURCE}); no antiemetic of its own is "
                f"encoded: the file's dexamethasone is that one agent: {given}."]  # fmt: skip
    return [
        f"Antiemetics: not encoded in this file (prescribe per local policy). For {risk.level} emetic risk the "
        f"guidelines call for {called_for} ({GUIDANCE_SOURCE})."
    ]


__all__ = ["GUIDANCE_SOURCE", "RECOMMENDED", "antiemetic_lines"]
