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

from regimen.clinical.body_size import age_value, positive, scr_value, sex_value, weight_value

__all__ = ["calvert", "ckd_epi_2021", "cockcroft_gault", "scr_umol_to_mg_dl"]

SCR_UMOL_PER_MG_DL = 88.42


# --------------------------------------------------------------------------
# Renal function and carboplatin
# --------------------------------------------------------------------------


def scr_umol_to_mg_dl(scr_umol_l: float) -> float:
    """Convert serum creatinine from µmol/L to mg/dL (÷ 88.42)."""
    x = positive("serum creatinine", scr_umol_l, "µmol/L")
    return x / SCR_UMOL_PER_MG_DL


def cockcroft_gault(age: float, weight_kg: float, scr_mg_dl: float, sex: str) -> float:
    """Creatinine clearance in mL/min: (140 − age)·W / (72·SCr), ×0.85 if female."""
    a, w, c, s = age_value(age), weight_value(weight_kg), scr_value(scr_mg_dl), sex_value(sex)
    crcl = (140.0 - a) * w / (72.0 * c)
    return crcl * 0.85 if s == "female" else crcl


def ckd_epi_2021(scr_mg_dl: float, age: float, sex: str) -> float:
    """eGFR in mL/min/1.73 m², CKD-EPI 2021 creatinine equation (race-free).

    142 · min(SCr/κ, 1)^α · max(SCr/κ, 1)^−1.200 · 0.9938^age · (1.012 if female),
    κ = 0.7 (F) / 0.9 (M), α = −0.241 (F) / −0.302 (M).
    """
    c, a, s = scr_value(scr_mg_dl), age_value(age), sex_value(sex)
    female = s == "female"
    kappa = 0.7 if female else 0.9
    alpha = -0.241 if female else -0.302
    ratio = c / kappa
    egfr = 142.0 * math.pow(min(ratio, 1.0), alpha) * math.pow(max(ratio, 1.0), -1.200) * math.pow(0.9938, a)
    return egfr * 1.012 if female else egfr


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
