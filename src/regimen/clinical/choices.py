"""Clinical options from the text a user typed (``"75%"``, ``"oxaliplatin=-1"``, ``"idarubicin=0.5mg"``).

One parser for every door: the command line's flags and the values a treatment course records (which are
replayed, as typed, each time the course is read) go through :func:`build_options`.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from fractions import Fraction
from typing import Any

from regimen.clinical.anthracycline import load_table, parse_prior
from regimen.clinical.dose_change import DoseChange, DoseChangeError, parse_change, refuse_old_reduce
from regimen.clinical.formulary import load_formulary
from regimen.clinical.options import DEFAULT_SCR_FLOOR, DEFAULT_THRESHOLD, ClinicalError, ClinicalOptions
from regimen.errors import RegimenError, option
from regimen.model import Amount
from regimen.protocol.loader import amount
from regimen.quantities.limits import LimitError, fraction_from

_PERCENT = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*%?\s*$")


def _number(text: str, option: str, example: str) -> Fraction:
    try:
        return fraction_from(text, f"{option} {text!r}")
    except LimitError as exc:
        raise ClinicalError(f"{exc.message}: give e.g. {option} {example}") from None


def percent(text: str, option: str) -> Fraction:
    """'75%' (or '75') -> 75; ``option`` names the input in the message."""
    match = _PERCENT.match(text)
    if match is None:
        raise ClinicalError(f"{option} {text!r}: give a percentage such as 75%")
    return fraction_from(match.group(1), f"{option} {text!r}")


def _pairs(values: Sequence[str], option: str, example: str) -> list[tuple[str, str]]:
    out = []
    for value in values:
        key, sep, rest = value.partition("=")
        if not sep or not key.strip() or not rest.strip():
            raise ClinicalError(f"{option} {value!r}: write DRUG=VALUE, e.g. {option} {example}")
        out.append((key.strip().lower(), rest.strip()))
    return out


def _amount(text: str, option: str) -> Amount:
    try:
        return amount(text, option)
    except ValueError as exc:
        raise ClinicalError(str(exc)) from None


def _level(text: str, given: str) -> int:
    try:
        return int(text.strip())
    except ValueError:
        raise ClinicalError(f"{option('dose_level')} {given!r}: give a whole number such as -1, or DRUG=-1") from None


def _dose_levels(values: Sequence[str]) -> dict[str, Any]:
    """A dose level for every drug with levels ("-1") and for single drugs ("oxaliplatin=-1"), repeatable."""
    plain = [v for v in values if "=" not in v]
    if len(plain) > 1:
        raise ClinicalError(
            f"{option('dose_level')}: give one level for the whole regimen, and DRUG=N for single drugs"
        )
    per_drug = {
        key: _level(level, f"{key}={level}")
        for key, level in _pairs([v for v in values if "=" in v], f"{option('dose_level')}", "oxaliplatin=-1")
    }
    return {"dose_level": _level(plain[0], plain[0]) if plain else None, "dose_levels": per_drug}


def _dose_changes(values: dict[str, Any]) -> dict[str, DoseChange]:
    """Each drug's change of dose, from ``dose_percent`` ("oxaliplatin=80%": give 80 %) and ``reduce_by``
    ("oxaliplatin=20%": give 80 %), with ``confirm`` for a change below 50 % or above 100 % of the dose. The old
    ``reduce`` is refused (its name and its meaning disagreed)."""
    refuse_old_reduce(values.get("reduce"))
    confirm = bool(values.get("confirm"))
    changes: dict[str, DoseChange] = {}
    for reading in ("dose_percent", "reduce_by"):
        for key, text in _pairs(values.get(reading) or (), option(reading), "oxaliplatin=80%"):
            if key in changes:
                raise DoseChangeError(
                    f"{option(reading)} {key}={text}: {key} already has a change of dose "
                    f"({changes[key].describe()}); give one change per drug"
                )
            changes[key] = parse_change(reading, text, confirm=confirm, drug=key)
    return changes


def build_options(values: dict[str, Any]) -> ClinicalOptions:
    """ClinicalOptions from the values of the command line (strings as typed)."""
    v = values
    cap = v.get("gfr_cap") or "125"
    threshold, label = DEFAULT_THRESHOLD, "HOPA"
    if v.get("band") and v.get("round_threshold"):
        raise ClinicalError(
            f"{option('band')} and {option('round_threshold')} both set the rounding threshold: give one"
        )
    if v.get("band"):
        threshold, label = percent(v["band"], f"{option('band')}"), "NHS England dose banding"
    elif v.get("round_threshold"):
        threshold, label = (
            percent(v["round_threshold"], f"{option('round_threshold')}"),
            "--round-threshold",  # the label of the threshold in the working, not a message
        )
    formulary = load_formulary(v["formulary"]) if v.get("formulary") else None
    vial_round = bool(v.get("vial_round") or v.get("band"))
    if vial_round and formulary is None:
        raise ClinicalError(
            f"{option('vial_round')} and {option('band')} need the vial sizes: pass {option('formulary')} FILE "
            "(an example ships as formulary/example.toml)"
        )
    return ClinicalOptions(
        bsa_formula=v.get("bsa_formula") or "mosteller",
        bsa_cap=_number(v["bsa_cap"], f"{option('bsa_cap')}", "2") if v.get("bsa_cap") else None,
        dosing_weight=v.get("dosing_weight"),
        adjusted_factor=_number(v.get("adjusted_factor") or "0.4", f"{option('adjusted_factor')}", "0.4"),
        gfr_method=v.get("gfr_method") or "cockcroft-gault",
        gfr_cap=None if cap.strip().lower() == "none" else _number(cap, f"{option('gfr_cap')}", "125"),
        scr_floor=_number(v["scr_floor"], f"{option('scr_floor')}", "0.8") if v.get("scr_floor") else DEFAULT_SCR_FLOOR,
        scr_floor_apply=bool(v.get("scr_floor_apply")),
        **_dose_levels(v.get("dose_level") or ()),
        dose_changes=_dose_changes(v),
        round_to={
            k: _amount(a, f"{option('round')}")
            for k, a in _pairs(v.get("round_to") or (), f"{option('round')}", "idarubicin=0.5mg")
        },
        formulary=formulary,
        vial_round=vial_round,
        threshold=threshold,
        threshold_label=label,
        prior=tuple(parse_prior(p) for p in v.get("prior") or ()),
        anthracycline_table=load_table(v["anthracycline_table"]) if v.get("anthracycline_table") else None,
        anthracycline_limit=_number(v["anthracycline_limit"], f"{option('anthracycline_limit')}", "450")
        if v.get("anthracycline_limit")
        else None,
        strict=bool(v.get("strict")),
    )


def parse_cycles(values: Sequence[str]) -> int | dict[str, int] | None:
    """The cycles to expand as typed: "4", or "maintenance=4" (repeatable) for regimens with phases."""
    if not values:
        return None
    by_phase: dict[str, int] = {}
    plain: int | None = None
    for value in values:
        name, _, count = value.rpartition("=")
        try:
            number = int(count)
        except ValueError:
            raise RegimenError(
                f"{option('cycles')} {value!r}: give a whole number, e.g. {option('cycles')} 4 or "
                f"{option('cycles')} maintenance=4"
            ) from None
        if number < 1:
            raise RegimenError(f"{option('cycles')} {value!r}: at least 1 cycle")
        if name:
            by_phase[name] = number
        else:
            plain = number
    if by_phase and plain is not None:
        raise RegimenError(f"{option('cycles')}: give either one number or PHASE=N values, not both")
    return by_phase or plain


__all__ = ["build_options", "parse_cycles", "percent"]
