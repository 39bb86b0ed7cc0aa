"""Codes of drugs and routes from standard terminologies (RxNorm; SNOMED CT and EDQM routes), read from
``protocol/data/codes.toml``, where each code's source and licence are recorded. A drug or route the file does not
list has no code: callers write its text only, and never a guessed code."""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

DATA = Path(__file__).with_name("data") / "codes.toml"


@dataclass(frozen=True, slots=True)
class Coding:
    """One code: its system (a FHIR code system URI), the code and how the system names it."""

    system: str
    code: str
    display: str | None = None


@cache
def _table() -> dict[str, Any]:
    with DATA.open("rb") as f:
        return tomllib.load(f)


def _system(source: str) -> str:
    return str(_table()["source"][source]["system"])


def drug_codings(drug: str) -> tuple[Coding, ...]:
    """The codes of a drug by its name as regimen files write it ('cisplatin'); () when none is listed."""
    entry = _table()["drug"].get(drug.strip().lower())
    if not entry:
        return ()
    return (Coding(_system("rxnorm"), str(entry["rxnorm"]), drug.strip().lower()),)


def route_codings(route: str) -> tuple[Coding, ...]:
    """The codes of a route as regimen files write it ('IV', 'oral'); () when none is listed."""
    entry = _table()["route"].get(route.strip().lower())
    if not entry:
        return ()
    out = [Coding(_system("snomed-route"), str(entry["snomed"]), entry.get("snomed_display"))]
    if "edqm" in entry:
        out.append(Coding(_system("edqm"), str(entry["edqm"]), entry.get("edqm_display")))
    return tuple(out)


__all__ = ["Coding", "drug_codings", "route_codings"]
