"""The clinical options of ``regimen expand``: parsed here, so the command itself stays small.

The options store their values in the click context (``expose_value=False``); :func:`options_from_context`
turns them into :class:`~regimen.clinical.prepare.ClinicalOptions` and the patient's renal values.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

import click

from regimen.cli.options import META
from regimen.clinical.body_size import BSA_FORMULAS
from regimen.clinical.choices import build_options
from regimen.clinical.options import GFR_METHODS, ClinicalOptions
from regimen.model import DOSING_WEIGHTS

F = TypeVar("F", bound=Callable[..., Any])


def _store(ctx: click.Context, param: click.Parameter, value: Any) -> None:
    ctx.meta.setdefault(META, {})[param.name] = value


def _option(*names: str, **kwargs: Any) -> Callable[[F], F]:
    return click.option(*names, expose_value=False, callback=_store, **kwargs)


def _spec(*names: str, **kwargs: Any) -> tuple[tuple[str, ...], dict[str, Any]]:
    return names, kwargs


#: Every clinical option of ``regimen expand``, as (names, click.option keywords).
_SPECS: list[tuple[tuple[str, ...], dict[str, Any]]] = [
    _spec(
        "--scr",
        metavar="SCR",
        help="Serum creatinine: mg/dL, or with a unit ('97 umol/L'). Shows Cockcroft–Gault and CKD-EPI 2021.",
    ),
    _spec(
        "--gfr",
        metavar="ML_MIN",
        help="A measured GFR in mL/min, used for AUC dosing and renal dose tables instead of an estimate.",
    ),
    _spec(
        "--bsa-formula",
        type=click.Choice(list(BSA_FORMULAS)),
        default="mosteller",
        show_default=True,
        help="Formula for BSA from --height and --weight when --bsa is not given (schlich needs --sex).",
    ),
    _spec(
        "--bsa-cap",
        metavar="M2",
        help="Cap the BSA used for doses per m² (never a default; ASCO advises "
        "full doses). The working shows uncapped and capped BSA.",
    ),
    _spec(
        "--dosing-weight",
        type=click.Choice(list(DOSING_WEIGHTS)),
        help="Body weight for doses per kg "
        "(default actual; 'ideal' is Devine). A regimen that states one cannot be overridden.",
    ),
    _spec(
        "--adjusted-factor",
        metavar="F",
        default="0.4",
        show_default=True,
        help="Factor of the adjusted body weight: IBW + F × (actual − IBW).",
    ),
    _spec(
        "--gfr-method",
        type=click.Choice(list(GFR_METHODS)),
        default="cockcroft-gault",
        show_default=True,
        help="GFR estimate for AUC (Calvert) dosing.",
    ),
    _spec(
        "--gfr-cap",
        metavar="ML_MIN|none",
        default="125",
        show_default=True,
        help="Cap of the GFR in Calvert dosing (FDA 2010), at most 300; 'none' lifts it, with a warning.",
    ),
    _spec(
        "--scr-floor",
        metavar="MG_DL",
        default="0.7",
        show_default=True,
        help="For AUC (Calvert) dosing, warn when the serum creatinine is under this (a low creatinine inflates "
        "the GFR); the FDA 2010 figure is 0.8.",
    ),
    _spec(
        "--scr-floor-apply",
        is_flag=True,
        help="Round a serum creatinine under --scr-floor up to it for the GFR estimates (said in the working).",
    ),
    _spec(
        "--dose-level",
        multiple=True,
        metavar="N|DRUG=N",
        help="Dose level the regimen defines, e.g. -1 for "
        "every drug that has levels, or oxaliplatin=-1 for one drug (repeatable).",
    ),
    _spec(
        "--dose-percent",
        multiple=True,
        metavar="DRUG=PCT%",
        help="Give DRUG at PCT% of its full dose (after the regimen's maximum doses, before rounding), e.g. "
        "oxaliplatin=80% gives 80 % of the dose (repeatable; the % sign is required).",
    ),
    _spec(
        "--reduce-by",
        multiple=True,
        metavar="DRUG=PCT%",
        help="Reduce DRUG's full dose by PCT%, e.g. oxaliplatin=20% gives 80 % of the dose (repeatable; the % sign "
        "is required).",
    ),
    _spec(
        "--confirm",
        is_flag=True,
        help="Confirm a change of dose to less than 50 % or more than 100 % of the full dose.",
    ),
    # The old spelling, refused with the new ones: its name said "reduce by" and it meant "give".
    _spec("--reduce", multiple=True, hidden=True),
    _spec(
        "--round",
        "round_to",
        multiple=True,
        metavar="DRUG=AMOUNT",
        help="Round DRUG's doses to multiples "
        "of AMOUNT, e.g. idarubicin=0.5mg (repeatable), within the rounding threshold.",
    ),
    _spec(
        "--formulary",
        metavar="FILE",
        type=click.Path(dir_okay=False),
        help="Vial sizes per drug (TOML) for --vial-round and --band.",
    ),
    _spec("--vial-round", is_flag=True, help="Round doses to whole vials of the formulary within the threshold."),
    _spec("--round-threshold", metavar="PCT", help="Largest deviation rounding may make (default 10%, HOPA)."),
    _spec(
        "--band",
        metavar="PCT",
        help="Round to whole vials within ±PCT (NHS England dose banding: 6% for "
        "standard chemotherapy, 10% for biologics); implies --vial-round.",
    ),
    _spec(
        "--prior",
        multiple=True,
        metavar="'DRUG DOSE'",
        help="Earlier cumulative anthracycline dose, e.g. 'doxorubicin 240 mg/m2' (repeatable).",
    ),
    _spec(
        "--anthracycline-table",
        metavar="NAME|FILE",
        help="Doxorubicin-equivalent factor table: esc-2022, ighg-2025, or a .toml file.",
    ),
    _spec(
        "--anthracycline-limit",
        metavar="MG_M2",
        help="Warn when planned + prior doxorubicin-equivalent exceeds this many mg/m² (no default).",
    ),
    _spec("--strict", is_flag=True, help="Treat every warning as an error: one line, exit 1, no output file."),
]


OPTIONS: list[Callable[[F], F]] = [_option(*names, **kwargs) for names, kwargs in _SPECS]

#: The run-wide options a cohort takes (same definitions, same parsing). Left out: --scr and --gfr (a roster's
#: scr_mgdl and gfr_mlmin columns), --prior and the anthracycline options (per-patient history).
COHORT_OPTIONS = (
    "--bsa-formula",
    "--bsa-cap",
    "--dosing-weight",
    "--adjusted-factor",
    "--gfr-method",
    "--gfr-cap",
    "--scr-floor",
    "--scr-floor-apply",
    "--dose-level",
    "--dose-percent",
    "--reduce-by",
    "--confirm",
    "--reduce",
    "--round",
    "--formulary",
    "--vial-round",
    "--round-threshold",
    "--band",
    "--strict",
)
_COHORT_HELP = {
    "--bsa-formula": "BSA formula for roster rows with height_cm but no bsa_m2 (schlich needs a sex column).",
    "--dosing-weight": "Body weight for doses per kg (default actual; 'ideal' is Devine; ideal, adjusted and lean "
    "need height_cm and sex columns). A regimen that states one cannot be overridden.",
    "--strict": "Reject (errors file) every patient whose plan carries a warning; the others are written.",
}


def clinical_options(fn: F) -> F:
    for option in reversed(OPTIONS):
        fn = option(fn)
    return fn


def cohort_clinical_options(formulary: bool = True) -> Callable[[F], F]:
    """The options of :data:`COHORT_OPTIONS` (``formulary=False``: the command has its own --formulary)."""
    specs = [
        (names, {**kwargs, "help": _COHORT_HELP.get(names[0], kwargs.get("help"))})
        for names, kwargs in _SPECS
        if names[0] in COHORT_OPTIONS and (formulary or names[0] != "--formulary")
    ]

    def decorate(fn: F) -> F:
        for names, kwargs in reversed(specs):
            fn = _option(*names, **kwargs)(fn)
        return fn

    return decorate


def options_from_context() -> tuple[ClinicalOptions, dict[str, str | None]]:
    """The run's ClinicalOptions, and the renal patient values (scr, gfr) for make_patient."""
    values: dict[str, Any] = click.get_current_context().meta.get(META, {})
    return build_options(values), {"scr": values.get("scr"), "gfr": values.get("gfr")}


def cohort_options_from_context(formulary: str | None = None) -> ClinicalOptions | None:
    """The cohort run's ClinicalOptions, or None when every option is at its default (the plain engine).

    ``formulary``: the command's own --formulary (``regimen supply``), used for --vial-round and --band too
    (and only then, so that a forecast without rounding runs the plain engine).
    """
    values: dict[str, Any] = dict(click.get_current_context().meta.get(META, {}))
    if formulary is not None and (values.get("vial_round") or values.get("band")):
        values["formulary"] = formulary
    options = build_options(values)
    return None if options == ClinicalOptions() else options


__all__ = [
    "COHORT_OPTIONS",
    "build_options",
    "clinical_options",
    "cohort_clinical_options",
    "cohort_options_from_context",
    "options_from_context",
]
