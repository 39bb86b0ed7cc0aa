"""Renal-function formulas and the carboplatin dose, used for dose calculation.

Pure functions on plain numbers (float in, float out), validated as in :mod:`regimen.clinical.body_size`:
serum creatinine (SCr) in mg/dL, age in years, weight in kg, GFR / creatinine clearance in mL/min
(Cockcroft-Gault, Calvert) or mL/min/1.73 m² (CKD-EPI).

Sources
-------

* Cockcroft DW, Gault MH. Prediction of creatinine clearance from serum
  creatinine. Nephron 1976;16(1):31-41.
* Inker LA, Eneanya ND, Coresh J, et al. New creatinine- and cystatin C-based
  equations to estimate GFR without race. N Engl J Med 2021;385:1737-49
  (CKD-EPI 2021 creatinine equation).
* Calvert AH, Newell DR, Gumbrell LA, et al. Carboplatin dosage: prospective
  evaluation of a simple formula based on renal function. J Clin Oncol
  1989;7(11):1748-56.  The default GFR cap of 125 mL/min follows the US FDA
  carboplatin dosing communication (2010).
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, TypeVar

from regimen.clinical.body_size import age_value, positive, scr_value, sex_value, weight_value

if TYPE_CHECKING:  # pragma: no cover
    import numpy as np

__all__ = [
    "calvert",
    "ckd_epi_2021",
    "ckd_epi_2021_bound",
    "cockcroft_gault",
    "cockcroft_gault_array",
    "scr_umol_to_mg_dl",
]

#: A number or a numpy array of them: the formulas below are written once for both.
N = TypeVar("N", float, "np.ndarray")

SCR_UMOL_PER_MG_DL = 88.42


# --------------------------------------------------------------------------
# Renal function and carboplatin
# --------------------------------------------------------------------------


def scr_umol_to_mg_dl(scr_umol_l: float) -> float:
    """Convert serum creatinine from µmol/L to mg/dL (÷ 88.42)."""
    x = positive("serum creatinine", scr_umol_l, "µmol/L")
    return x / SCR_UMOL_PER_MG_DL


#: Cockcroft-Gault's factor for women.
CG_FEMALE = 0.85


def _cockcroft_gault(age: N, weight_kg: N, scr_mg_dl: N) -> N:
    """(140 − age)·W / (72·SCr): one expression, so that a number and a numpy array give the same IEEE result."""
    crcl: N = (140.0 - age) * weight_kg / (72.0 * scr_mg_dl)
    return crcl


def cockcroft_gault(age: float, weight_kg: float, scr_mg_dl: float, sex: str) -> float:
    """Creatinine clearance in mL/min: (140 − age)·W / (72·SCr), ×0.85 if female."""
    a, w, c, s = age_value(age), weight_value(weight_kg), scr_value(scr_mg_dl), sex_value(sex)
    crcl = _cockcroft_gault(a, w, c)
    return crcl * CG_FEMALE if s == "female" else crcl


def cockcroft_gault_array(
    age: np.ndarray, weight_kg: np.ndarray, scr_mg_dl: np.ndarray, female: np.ndarray
) -> np.ndarray:
    """:func:`cockcroft_gault` of many patients at once (numpy float arrays of values already read and checked, as a
    cohort reads them; ``female`` a bool array): the same floats, bit for bit, as the function gives each."""
    import numpy as np

    crcl = _cockcroft_gault(age, weight_kg, scr_mg_dl)
    result: np.ndarray = np.where(female, crcl * CG_FEMALE, crcl)
    return result


#: CKD-EPI 2021's (κ, α) for women and for men.
CKD_EPI_FEMALE = (0.7, -0.241)
CKD_EPI_MALE = (0.9, -0.302)


def ckd_epi_2021(scr_mg_dl: float, age: float, sex: str) -> float:
    """eGFR in mL/min/1.73 m², CKD-EPI 2021 creatinine equation (race-free).

    142 · min(SCr/κ, 1)^α · max(SCr/κ, 1)^−1.200 · 0.9938^age · (1.012 if female),
    κ = 0.7 (F) / 0.9 (M), α = −0.241 (F) / −0.302 (M).
    """
    c, a, s = scr_value(scr_mg_dl), age_value(age), sex_value(sex)
    female = s == "female"
    kappa, alpha = CKD_EPI_FEMALE if female else CKD_EPI_MALE
    ratio = c / kappa
    egfr = 142.0 * math.pow(min(ratio, 1.0), alpha) * math.pow(max(ratio, 1.0), -1.200) * math.pow(0.9938, a)
    return egfr * 1.012 if female else egfr


def ckd_epi_2021_bound(scr_mg_dl: np.ndarray, female: np.ndarray) -> np.ndarray:
    """An upper bound of :func:`ckd_epi_2021` for many patients (numpy arrays): the equation with its age factor
    (0.9938^age, at most 1) and its high-creatinine factor (at most 1) left out. Enough to tell which patients'
    eGFR cannot be near a limit, without a float that must match the function's bit for bit."""
    import numpy as np

    kappa = np.where(female, CKD_EPI_FEMALE[0], CKD_EPI_MALE[0])
    alpha = np.where(female, CKD_EPI_FEMALE[1], CKD_EPI_MALE[1])
    bound: np.ndarray = 142.0 * np.power(np.minimum(scr_mg_dl / kappa, 1.0), alpha) * np.where(female, 1.012, 1.0)
    return bound


def calvert(target_auc: float, gfr_ml_min: float, gfr_cap: float | None = 125.0) -> tuple[float, float]:
    """Carboplatin dose (mg) by Calvert: AUC × (GFR + 25).

    GFR is capped at ``gfr_cap`` mL/min (default 125; ``None`` disables the
    cap).  Returns ``(dose_mg, gfr_used)``.
    """
    auc = positive("target AUC", target_auc, "mg/mL·min")
    gfr = positive("GFR", gfr_ml_min, "mL/min")
    if gfr_cap is not None:
        cap = positive("GFR cap", gfr_cap, "mL/min")
        gfr = min(gfr, cap)
    return auc * (gfr + 25.0), gfr
