"""Tests for regimen.clinical.body_size: BSA, dosing weights, renal function, Calvert."""

from __future__ import annotations

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from regimen.clinical import body_size as body
from regimen.clinical import renal

# dosing reference vectors, R package physiology R/bsa.R, R/bmi.R
# (coefficients as in physiology; values independently recomputed from the
# published equations and agree to < 5e-7.  Boyd uses the original gram form;
# physiology's kg form with rounded coefficient 0.0333 gives 1.834862 at
# 70 kg/170 cm, i.e. differs by ~2e-4.)
ADULT_70KG_170CM = {
    "mosteller": 1.818119,
    "dubois": 1.809708,
    "haycock": 1.825677,
    "gehan-george": 1.831289,
    "boyd": 1.834670,
    "fujimoto": 1.764293,
    "takahira": 1.824067,
    "shuter-aslani": 1.786070,
}
INFANT_3_5KG_50CM = {
    "mosteller": 0.220479,
    "dubois": 0.208616,
    "haycock": 0.224415,
    "gehan-george": 0.233760,
    "boyd": 0.229883,
    "fujimoto": 0.207273,
    "takahira": 0.210272,
    "shuter-aslani": 0.213809,
}
BSA_TOL = 1e-6

SEXES = ("male", "female")
BAD_POSITIVE = [0.0, -1.0, -70.0, math.nan, math.inf, -math.inf]


# --------------------------------------------------------------------------
# BSA reference vectors
# --------------------------------------------------------------------------


@pytest.mark.parametrize(("key", "expected"), sorted(ADULT_70KG_170CM.items()))
def test_bsa_adult_reference(key: str, expected: float) -> None:
    assert body.bsa(key, 70, 170) == pytest.approx(expected, abs=BSA_TOL)


@pytest.mark.parametrize(("key", "expected"), sorted(INFANT_3_5KG_50CM.items()))
def test_bsa_infant_reference(key: str, expected: float) -> None:
    assert body.bsa(key, 3.5, 50) == pytest.approx(expected, abs=BSA_TOL)


def test_schlich_reference() -> None:
    assert body.schlich(70, 170, "male") == pytest.approx(1.697976, abs=BSA_TOL)
    assert body.schlich(70, 170, "female") == pytest.approx(1.765425, abs=BSA_TOL)
    assert body.bsa("schlich", 70, 170, "male") == pytest.approx(1.697976, abs=BSA_TOL)
    assert body.bsa("schlich", 70, 170, "female") == pytest.approx(1.765425, abs=BSA_TOL)


def test_module_functions_match_registry() -> None:
    fns = {
        "mosteller": body.mosteller,
        "dubois": body.dubois,
        "haycock": body.haycock,
        "gehan-george": body.gehan_george,
        "boyd": body.boyd,
        "fujimoto": body.fujimoto,
        "takahira": body.takahira,
        "shuter-aslani": body.shuter_aslani,
    }
    for key, fn in fns.items():
        assert fn(70, 170) == body.BSA_FORMULAS[key].compute(70, 170, None)


def test_mosteller_exact() -> None:
    assert body.mosteller(80, 180) == pytest.approx(2.0, abs=1e-12)


def test_registry_keys_and_metadata() -> None:
    assert set(body.BSA_FORMULAS) == {
        "mosteller",
        "dubois",
        "haycock",
        "gehan-george",
        "boyd",
        "fujimoto",
        "takahira",
        "shuter-aslani",
        "schlich",
    }
    for formula in body.BSA_FORMULAS.values():
        assert formula.name and formula.equation and formula.citation
        assert formula.needs_sex == (formula.name == "Schlich")
    assert body.BSA_FORMULAS["mosteller"].name == "Mosteller"
    assert body.BSA_FORMULAS["mosteller"].equation == "√(W·H/3600)"
    with pytest.raises(AttributeError):
        body.BSA_FORMULAS["mosteller"].name = "x"  # type: ignore[misc]


def test_unknown_formula_lists_valid_names() -> None:
    with pytest.raises(ValueError) as exc:
        body.bsa("mostellar", 70, 170)
    msg = str(exc.value)
    assert "\n" not in msg
    assert "mostellar" in msg
    for key in body.BSA_FORMULAS:
        assert key in msg


def test_schlich_requires_sex() -> None:
    with pytest.raises(ValueError, match="sex"):
        body.bsa("schlich", 70, 170)
    for bad in ("M", "F", "Male", "other", ""):
        with pytest.raises(ValueError, match="'male' or 'female'"):
            body.schlich(70, 170, bad)


# --------------------------------------------------------------------------
# Regression guards for bugs seen in other implementations
# --------------------------------------------------------------------------


def test_regression_dubois_height_in_metres_admiral_2532() -> None:
    # pharmaverse/admiral #2532 (PR #2541): 0.007184 coefficient is for H in cm;
    # feeding metres gives ~0.064 m² instead of ~1.81 m².
    correct = body.dubois(70, 170)
    metres = body.dubois(70, 1.70)
    assert metres == pytest.approx(0.007184 * 70**0.425 * 1.70**0.725, rel=1e-12)
    assert not math.isclose(correct, metres, rel_tol=0.01)
    assert correct == pytest.approx(1.809708, abs=BSA_TOL)
    # the metre form with its own (rounded) coefficient 0.20247 agrees:
    assert correct == pytest.approx(0.20247 * 70**0.425 * 1.70**0.725, rel=1e-4)


def test_regression_haycock_exponents_admiral_424() -> None:
    # pharmaverse/admiral PR #424: Haycock coded as 0.024265*H*W (no exponents).
    no_exponents = 0.024265 * 170 * 70
    assert not math.isclose(body.haycock(70, 170), no_exponents, rel_tol=0.01)
    assert body.haycock(70, 170) == pytest.approx(1.825677, abs=BSA_TOL)


# --------------------------------------------------------------------------
# Dosing weights
# --------------------------------------------------------------------------


def test_ibw_devine() -> None:
    assert body.ideal_body_weight(160, "female") == pytest.approx(52.38189, abs=1e-5)
    assert body.ideal_body_weight(160, "male") == pytest.approx(56.88189, abs=1e-5)
    assert body.ideal_body_weight(160, "male", "devine") == body.ideal_body_weight(160, "male")


@pytest.mark.parametrize(
    ("method", "sex", "base"),
    [
        ("devine", "male", 50.0),
        ("devine", "female", 45.5),
        ("robinson", "male", 52.0),
        ("robinson", "female", 49.0),
        ("miller", "male", 56.2),
        ("miller", "female", 53.1),
    ],
)
def test_ibw_at_60_inches(method: str, sex: str, base: float) -> None:
    assert body.ideal_body_weight(60 * 2.54, sex, method) == pytest.approx(base, abs=1e-9)


@pytest.mark.parametrize(
    ("method", "sex", "slope"),
    [
        ("devine", "male", 2.3),
        ("devine", "female", 2.3),
        ("robinson", "male", 1.9),
        ("robinson", "female", 1.7),
        ("miller", "male", 1.41),
        ("miller", "female", 1.36),
    ],
)
def test_ibw_slope_per_inch(method: str, sex: str, slope: float) -> None:
    at70 = body.ideal_body_weight(70 * 2.54, sex, method)
    at60 = body.ideal_body_weight(60 * 2.54, sex, method)
    assert (at70 - at60) / 10 == pytest.approx(slope, abs=1e-9)


@pytest.mark.parametrize("method", ["devine", "robinson", "miller"])
def test_ibw_below_60_inches_is_an_error_not_an_extrapolation(method: str) -> None:
    # Devine female at 100 cm: 45.5 + 2.3 × (39.37 − 60) = −1.95 kg, the number this used to return
    with pytest.raises(ValueError, match=r"at least 60 in \(152\.4 cm\), got 100 cm"):
        body.ideal_body_weight(100, "female", method)
    assert body.ideal_body_weight(152.4, "female", method) > 0


def test_ibw_unknown_method() -> None:
    with pytest.raises(ValueError, match="devine"):
        body.ideal_body_weight(170, "male", "broca")


def test_adjusted_body_weight() -> None:
    assert body.adjusted_body_weight(50, 40) == pytest.approx(44.0, abs=1e-12)
    assert body.adjusted_body_weight(50, 40, factor=0.0) == pytest.approx(40.0)
    assert body.adjusted_body_weight(50, 40, factor=1.0) == pytest.approx(50.0)
    for bad in (-0.1, 1.5, math.nan, math.inf):
        with pytest.raises(ValueError, match="factor"):
            body.adjusted_body_weight(50, 40, factor=bad)


def test_lean_body_weight_janmahasatian() -> None:
    assert body.lean_body_weight(80, 150, "male") == pytest.approx(51.643454, abs=1e-6)
    bmi = 80 / 1.5**2
    expected_f = 9270 * 80 / (8780 + 244 * bmi)
    assert body.lean_body_weight(80, 150, "female") == pytest.approx(expected_f, rel=1e-12)


def test_bmi() -> None:
    assert body.bmi(100, 200) == pytest.approx(25.0, abs=1e-12)


# --------------------------------------------------------------------------
# Renal function and Calvert
# --------------------------------------------------------------------------


def test_cockcroft_gault() -> None:
    assert renal.cockcroft_gault(60, 70, 1.0, "male") == pytest.approx(77.7778, abs=1e-4)
    assert renal.cockcroft_gault(60, 70, 1.0, "female") == pytest.approx(66.1111, abs=1e-4)


def test_ckd_epi_2021() -> None:
    assert renal.ckd_epi_2021(1.0, 60, "male") == pytest.approx(86.163, abs=1e-3)
    assert renal.ckd_epi_2021(1.0, 60, "female") == pytest.approx(64.495, abs=1e-3)


def test_ckd_epi_2021_branches() -> None:
    # at SCr == kappa both min/max terms are 1: eGFR = 142 * 0.9938**age (* 1.012 F)
    assert renal.ckd_epi_2021(0.9, 50, "male") == pytest.approx(142 * 0.9938**50, rel=1e-12)
    assert renal.ckd_epi_2021(0.7, 50, "female") == pytest.approx(142 * 0.9938**50 * 1.012, rel=1e-12)
    # below kappa uses alpha, above kappa uses -1.200
    assert renal.ckd_epi_2021(0.45, 50, "male") == pytest.approx(142 * 0.5**-0.302 * 0.9938**50, rel=1e-12)
    assert renal.ckd_epi_2021(1.4, 50, "female") == pytest.approx(142 * 2.0**-1.2 * 0.9938**50 * 1.012, rel=1e-12)


def test_scr_conversion() -> None:
    assert renal.scr_umol_to_mg_dl(88.42) == pytest.approx(1.0, abs=1e-12)
    assert renal.scr_umol_to_mg_dl(176.84) == pytest.approx(2.0, abs=1e-12)


def test_calvert() -> None:
    assert renal.calvert(5, 100) == pytest.approx((625.0, 100.0))
    assert renal.calvert(6, 200) == pytest.approx((900.0, 125.0))
    assert renal.calvert(5, 200) == pytest.approx((750.0, 125.0))
    assert renal.calvert(4, 200) == pytest.approx((600.0, 125.0))
    assert renal.calvert(5, 200, gfr_cap=None) == pytest.approx((1125.0, 200.0))


def test_calvert_bad_inputs() -> None:
    for bad in BAD_POSITIVE:
        with pytest.raises(ValueError):
            renal.calvert(bad, 100)
        with pytest.raises(ValueError):
            renal.calvert(5, bad)
        with pytest.raises(ValueError):
            renal.calvert(5, 100, gfr_cap=bad)


# --------------------------------------------------------------------------
# Input validation
# --------------------------------------------------------------------------


def _assert_one_line_value_error(fn: object, *args: object) -> None:
    assert callable(fn)
    with pytest.raises(ValueError) as exc:
        fn(*args)
    msg = str(exc.value)
    assert msg and "\n" not in msg


@pytest.mark.parametrize("bad", BAD_POSITIVE)
@pytest.mark.parametrize("key", sorted(body.BSA_FORMULAS))
def test_bsa_rejects_bad_weight_and_height(key: str, bad: float) -> None:
    _assert_one_line_value_error(body.bsa, key, bad, 170, "male")
    _assert_one_line_value_error(body.bsa, key, 70, bad, "male")


@pytest.mark.parametrize("bad", BAD_POSITIVE)
def test_other_functions_reject_bad_positive_inputs(bad: float) -> None:
    _assert_one_line_value_error(body.bmi, bad, 170)
    _assert_one_line_value_error(body.bmi, 70, bad)
    _assert_one_line_value_error(body.ideal_body_weight, bad, "male")
    _assert_one_line_value_error(body.adjusted_body_weight, bad, 60)
    _assert_one_line_value_error(body.adjusted_body_weight, 70, bad)
    _assert_one_line_value_error(body.lean_body_weight, bad, 170, "male")
    _assert_one_line_value_error(body.lean_body_weight, 70, bad, "male")
    _assert_one_line_value_error(renal.cockcroft_gault, 60, bad, 1.0, "male")
    _assert_one_line_value_error(renal.cockcroft_gault, 60, 70, bad, "male")
    _assert_one_line_value_error(renal.ckd_epi_2021, bad, 60, "male")
    _assert_one_line_value_error(renal.scr_umol_to_mg_dl, bad)


@pytest.mark.parametrize("bad", [-1.0, 140.0, 200.0, math.nan, math.inf])
def test_bad_age(bad: float) -> None:
    _assert_one_line_value_error(renal.cockcroft_gault, bad, 70, 1.0, "male")
    _assert_one_line_value_error(renal.ckd_epi_2021, 1.0, bad, "male")


@pytest.mark.parametrize("bad", ["M", "Female", "unknown", "", None])
def test_unknown_sex(bad: object) -> None:
    for fn, args in (
        (body.ideal_body_weight, (170, bad)),
        (body.lean_body_weight, (70, 170, bad)),
        (renal.cockcroft_gault, (60, 70, 1.0, bad)),
        (renal.ckd_epi_2021, (1.0, 60, bad)),
        (body.schlich, (70, 170, bad)),
    ):
        with pytest.raises(ValueError, match="'male' or 'female'"):
            fn(*args)


def test_non_numeric_rejected() -> None:
    _assert_one_line_value_error(body.mosteller, "70", 170)
    _assert_one_line_value_error(body.mosteller, True, 170)


# --------------------------------------------------------------------------
# Properties
# --------------------------------------------------------------------------

adult_weight = st.floats(min_value=30, max_value=250, allow_nan=False, allow_infinity=False)
adult_height = st.floats(min_value=120, max_value=220, allow_nan=False, allow_infinity=False)
pair_delta = st.floats(min_value=0.5, max_value=50)


@given(w=adult_weight, h=adult_height, dw=pair_delta, sex=st.sampled_from(SEXES))
def test_bsa_strictly_increasing_in_weight(w: float, h: float, dw: float, sex: str) -> None:
    w2 = min(w + dw, 250.0)
    if w2 - w < 1e-6:  # below float resolution the formulas cannot separate the two
        return
    for key in body.BSA_FORMULAS:
        assert body.bsa(key, w, h, sex) < body.bsa(key, w2, h, sex), key


@given(w=adult_weight, h=adult_height, dh=pair_delta, sex=st.sampled_from(SEXES))
def test_bsa_strictly_increasing_in_height(w: float, h: float, dh: float, sex: str) -> None:
    h2 = min(h + dh, 220.0)
    if h2 - h < 1e-6:  # below float resolution the formulas cannot separate the two
        return
    for key in body.BSA_FORMULAS:
        assert body.bsa(key, w, h, sex) < body.bsa(key, w, h2, sex), key


@given(
    age=st.floats(min_value=18, max_value=100),
    d_age=st.floats(min_value=0.5, max_value=30),
    w=adult_weight,
    scr=st.floats(min_value=0.2, max_value=15),
    sex=st.sampled_from(SEXES),
)
def test_cockcroft_gault_decreasing_in_age(age: float, d_age: float, w: float, scr: float, sex: str) -> None:
    assert renal.cockcroft_gault(age + d_age, w, scr, sex) < renal.cockcroft_gault(age, w, scr, sex)


@given(
    age=st.floats(min_value=18, max_value=100),
    w=adult_weight,
    scr=st.floats(min_value=0.2, max_value=15),
    d_scr=st.floats(min_value=0.05, max_value=5),
    sex=st.sampled_from(SEXES),
)
def test_cockcroft_gault_decreasing_in_scr(age: float, w: float, scr: float, d_scr: float, sex: str) -> None:
    assert renal.cockcroft_gault(age, w, scr + d_scr, sex) < renal.cockcroft_gault(age, w, scr, sex)


@given(
    auc=st.floats(min_value=0.5, max_value=10),
    gfr=st.floats(min_value=1, max_value=1000),
)
def test_calvert_never_exceeds_auc_times_150(auc: float, gfr: float) -> None:
    dose, gfr_used = renal.calvert(auc, gfr)
    assert gfr_used <= 125.0
    assert dose <= auc * 150.0 * (1 + 1e-12)


@given(
    bad=st.one_of(
        st.just(0.0),
        st.floats(max_value=0.0),
        st.just(math.nan),
        st.just(math.inf),
        st.just(-math.inf),
    ),
    key=st.sampled_from(sorted(body.BSA_FORMULAS)),
)
def test_bsa_rejects_nonpositive_or_nonfinite(bad: float, key: str) -> None:
    with pytest.raises(ValueError):
        body.bsa(key, bad, 170, "female")
    with pytest.raises(ValueError):
        body.bsa(key, 70, bad, "female")
