"""The Cockcroft–Gault GFR of many patients at once (a cohort dosed by target AUC): the same value as
:func:`regimen.clinical.prepare.prepare` gives each of them, wherever that is certain.

prepare() works the estimate out in floats (:func:`regimen.clinical.renal.cockcroft_gault`) and rounds it half up
to 2 decimals from the float's shortest decimal (:func:`regimen.clinical.prepare.exact_places`). Here the floats
are the same, bit for bit (the formula is one expression, applied to numpy arrays: IEEE arithmetic in the same
order), and the rounding is numpy's, which agrees with exact_places() except within a hair of a rounding tie:
there exact_places() itself rounds the same float. A patient whose values fall where prepare() refuses them or may
(an estimate near the limit of a possible GFR, by either equation; an age the formula does not take) is marked
*uncertain*: the caller gives them to prepare() itself, one at a time, so that every patient gets prepare()'s own
answer.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from regimen.clinical import renal
from regimen.clinical.options import DERIVED_PLACES, ClinicalOptions
from regimen.clinical.patient import GFR
from regimen.clinical.prepare import exact_places

if TYPE_CHECKING:  # pragma: no cover
    import numpy as np

#: How near a rounding tie (in units of the last place kept) a float may be and still be rounded here: a float's
#: shortest decimal differs from it by less than half a unit in its last place, about 1e-13 of a GFR of 1,000.
TIE_MARGIN = 1e-6

#: Estimates above this share of the possible GFR's limit (300 mL/min) are left to prepare(), which refuses those
#: over the limit: the CKD-EPI eGFR is only bounded here, not computed bit for bit.
LIMIT_SHARE = 0.95

#: Ages the Cockcroft–Gault formula takes (:func:`regimen.clinical.body_size.age_value`): [0, 140).
AGE_END = 140.0


@dataclass(frozen=True)
class GfrEstimates:
    """Per patient: the Cockcroft–Gault GFR in hundredths of mL/min (rounded half up, as prepare() rounds it), and
    whether that is certain to be prepare()'s value (if not, the hundredths are meaningless: ask prepare())."""

    hundredths: np.ndarray  # int64
    certain: np.ndarray  # bool


def cockcroft_gault_estimates(
    age: np.ndarray,
    weight_kg: np.ndarray,
    scr_mg_dl: np.ndarray,
    female: np.ndarray,
    bsa_m2: np.ndarray,
    options: ClinicalOptions,
) -> GfrEstimates:
    """The GFR prepare() estimates for AUC dosing by Cockcroft–Gault (``options.gfr_method``), for patients with no
    measured GFR: float arrays of their values as read (exact values made floats, as prepare() makes them; NaN for a
    BSA not given) and a bool array of who is female. The serum creatinine is rounded up to the floor first when
    ``options.scr_floor_apply`` says so, as prepare() does."""
    import numpy as np

    if options.gfr_method != "cockcroft-gault":
        raise ValueError(f"estimates by {options.gfr_method} are prepare()'s alone")
    scr = np.maximum(scr_mg_dl, float(options.scr_floor)) if options.scr_floor_apply else scr_mg_dl
    with np.errstate(all="ignore"):  # values outside the formula's range are uncertain, not an error
        raw = renal.cockcroft_gault_array(age, weight_kg, scr, female)
        scaled = raw * 10.0**DERIVED_PLACES
        rounded = np.floor(scaled + 0.5)
        limit = float(GFR.high) * LIMIT_SHARE
        egfr = renal.ckd_epi_2021_bound(scr, female)
        tie = np.abs(scaled - np.floor(scaled) - 0.5) <= TIE_MARGIN
        certain = (
            (raw > 0)
            & (raw < limit)
            & (age >= 0)
            & (age < AGE_END)
            & (weight_kg > 0)
            & (scr > 0)
            & (egfr < limit)
            & ~(egfr * bsa_m2 / 1.73 >= limit)  # prepare() de-indexes the eGFR by a BSA given (NaN: none)
        )
    hundredths = np.where(certain, rounded, -1).astype(np.int64)
    # a value a hair from a rounding tie (a roster's values to 0.1 kg and 0.01 mg/dL make exact ties common: about one
    # patient in 130) is rounded by prepare()'s own rounding of the same float
    for i in np.flatnonzero(certain & tie).tolist():
        hundredths[i] = int(exact_places(float(raw[i]), DERIVED_PLACES) * 10**DERIVED_PLACES)
    return GfrEstimates(hundredths, certain)


__all__ = ["GfrEstimates", "cockcroft_gault_estimates"]
