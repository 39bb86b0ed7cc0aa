"""Clinical inputs a pharmacist checks before a dose: body size, dosing weight, renal function, plausibility.

The formulas themselves live in :mod:`regimen.clinical.body_size` (float in, float out, tested against published
vectors). Here their results are turned into exact decimals by one stated rounding before they enter
dose arithmetic, and every step is written out as working:

* BSA from height and weight: rounded half up to 3 decimal places (m²).
* Dosing weights (ideal, adjusted, lean) and GFR / creatinine clearance (Cockcroft–Gault, CKD-EPI 2021 and its
  de-indexed value): rounded half up to 2 decimal places (kg, mL/min).

Each of these roundings happens once, to the value the doses then use, and its working line says so
("..., rounded half up to 2 decimals = 66.11 mL/min", through :func:`rounded_text`). A value derived from a
rounded one (the adjusted weight from the rounded ideal weight, the de-indexed eGFR from the rounded eGFR) is
rounded again, once, and says so too.

Plausibility: values outside what is physically possible are errors (:mod:`regimen.clinical.patient`); values that
are possible but unusual are warnings, with the ranges below (a project choice, not from a source: they
catch typing slips such as a weight in lb given as kg, and can be tuned here).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass, field
from fractions import Fraction

from regimen.clinical import body_size, renal
from regimen.clinical.gfr import COCKCROFT_GAULT, GFR_CAP_LIFTED, Gfr, calvert_gfr, exact_places
from regimen.clinical.kidney_over import Over, over_ages, over_clearance, over_weights, working
from regimen.clinical.options import (
    ADULT_AGE,
    ADULT_RANGES,
    AGE_USUAL_MAX,
    BSA_DISAGREEMENT,
    BSA_PLACES,
    CHILD_RANGES,
    DERIVED_PLACES,
    IBW_MIN_HEIGHT_CM,
    IDEAL_DEFAULT,
    ClinicalError,
    ClinicalOptions,
    StrictError,
)
from regimen.clinical.patient import GFR
from regimen.clinical.plausibility import check_body_pair
from regimen.errors import PatientError, option
from regimen.model import AucDose, Component, Eligibility, Patient, Regimen
from regimen.quantities.exact import below, format_fraction, to_decimal


def rounded_text(raw: float | Fraction, used: Fraction, places: int, unit: str) -> str:
    """The one rounding of a derived value, as working: '66.111111 mL/min, rounded half up to 2 decimals = 66.11
    mL/min'. A float formula result is shown to 6 decimals (as the BSA always was); an exact one as it is, up to 6."""
    shown = f"{raw:.6f}" if isinstance(raw, float) else format_fraction(raw, 6)
    return f"{shown} {unit}, rounded half up to {places} decimals = {format_fraction(used)} {unit}"


def _f(x: Fraction) -> float:
    return float(x)


@dataclass(frozen=True, slots=True)
class BodyWeight:
    kg: Fraction
    label: str  # "" for actual weight when nothing was chosen (keeps the default working unchanged)


@dataclass(slots=True)
class Prepared:
    """The patient with derived values filled in, and what the plan must say about them."""

    patient: Patient
    dosing_bsa: Fraction | None = None
    bsa_label: str = ""
    weights: dict[str, BodyWeight] = field(default_factory=dict)  # dosing-weight key -> weight
    gfr: Gfr | None = None
    kidney: Gfr | None = None  # the value renal dose tables are read against: --gfr, else Cockcroft–Gault CrCl
    # the sex not given (a creatinine, age and weight given): the clearance (female, male), read by renal_adjust
    kidney_by_sex: tuple[Gfr, Gfr] | None = None
    # the age not given (a creatinine, sex and weight given, or the sex assumed for one outcome), or the weight (a
    # creatinine, age and sex given): the clearance at each whole age, or each 0.1 kg, it is possible at
    kidney_over: Over | None = None
    # the sex not given either (a creatinine and the weight, or the age, given): each sex's clearance over the other
    # value not given (female, male)
    kidney_each_sex: tuple[Over, Over] | None = None
    notes: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    working: list[str] = field(default_factory=list)

    def shown(self) -> Patient:
        """The patient with the working of what was derived (the BSA from the height, ...), as a plan shows it; the
        patient as it is when nothing was (a copy of it is equal to it: a tenth of a small plan)."""
        if not self.working:
            return self.patient
        return dataclasses.replace(self.patient, working=(*self.patient.working, *self.working))


def _needs(regimen: Regimen) -> tuple[bool, bool, bool]:
    """(a dose per m² or a bsa rule, a dose per kg, an AUC dose)."""
    bsa = weight = auc = False
    for comp in regimen.components():
        for dose in [comp.dose, *(v.dose for v in comp.variants if v.dose is not None)]:
            bsa |= dose.unit.basis == "bsa"
            weight |= dose.unit.basis == "weight"
            auc |= isinstance(dose, AucDose)
        bsa |= any("bsa" in v.when.names for v in comp.variants)
    return bsa, weight, auc


def _has_renal_tables(regimen: Regimen) -> bool:
    return any(c.renal for c in regimen.components())


def component_weight_key(regimen: Regimen, comp: Component, options: ClinicalOptions) -> str:
    """Which body weight a component's per-kg dose uses; the regimen's requirement wins and may not be overridden."""
    required = comp.dosing_weight or regimen.dosing_weight
    if required is not None:
        chosen = options.dosing_weight
        if chosen is not None and _canonical_weight(chosen) != _canonical_weight(required):
            raise ClinicalError(
                f"{regimen.id} requires {required} body weight for {comp.drug}; drop "
                f"{option('dosing_weight')} {options.dosing_weight} or edit the regimen file"
            )
        return _canonical_weight(required)
    return _canonical_weight(options.dosing_weight or "actual")


def _canonical_weight(key: str) -> str:
    return f"ideal-{IDEAL_DEFAULT}" if key == "ideal" else key


def prepare(
    regimen: Regimen,
    patient: Patient,
    options: ClinicalOptions,
    check: Callable[[Regimen, Patient], None] | None = None,
) -> Prepared:
    """Fill in BSA, dosing weights and GFR the regimen needs; collect working, notes and warnings.

    ``check`` (the engine's missing-value check) runs once a BSA has been computed from height and weight.
    """
    _, needs_weight, needs_auc = regimen.once(_needs)  # the regimen alone: once per regimen
    out = body_values(regimen, patient, options, check)
    if needs_weight:
        keys = {
            component_weight_key(regimen, c, options)
            for c in regimen.components()
            if any(d.unit.basis == "weight" for d in [c.dose, *(v.dose for v in c.variants if v.dose)])
        }
        explicit = (
            options.dosing_weight is not None
            or regimen.dosing_weight is not None
            or any(c.dosing_weight for c in regimen.components())
        )
        for key in sorted(keys):
            out.weights[key] = _dosing_weight(out, key, options, explicit)
    elif options.dosing_weight is not None:
        out.notes.append(f"--dosing-weight {options.dosing_weight} has no effect: no dose of {regimen.id} is per kg")
    _renal(out, needs_auc, options, regimen.once(_has_renal_tables))  # the regimen alone: once per regimen
    _plausibility(out)
    _eligibility(out, regimen)
    out.patient = out.shown()
    return out


def body_values(
    regimen: Regimen,
    patient: Patient,
    options: ClinicalOptions,
    check: Callable[[Regimen, Patient], None] | None = None,
) -> Prepared:
    """The first step of :func:`prepare`: weight and height checked as a pair, the BSA computed from them where the
    regimen needs one and none was given, then ``check``. A plan whose rule value is missing (an age) runs this much
    before it expands each outcome, so that a BSA given as a height is a BSA there too."""
    check_body_pair(patient, regimen)
    out = Prepared(patient=patient)
    _bsa(out, regimen.once(_needs)[0], options)
    if check is not None:
        check(regimen, out.patient)
    return out


def computed_bsa(weight_kg: Fraction, height_cm: Fraction, sex: str | None, formula_key: str) -> tuple[float, Fraction]:
    """The BSA a plan computes from weight and height (the formula's value, and as used: to its places)."""
    raw = body_size.bsa(formula_key, _f(weight_kg), _f(height_cm), sex)
    return raw, exact_places(raw, BSA_PLACES)


def _bsa(out: Prepared, needed: bool, options: ClinicalOptions) -> None:
    p = out.patient
    formula = body_size.BSA_FORMULAS[options.bsa_formula]
    computed: Fraction | None = None
    raw = 0.0
    if p.weight_kg is not None and p.height_cm is not None and (needed or p.bsa_m2 is not None):
        if formula.needs_sex and p.sex is None:
            raise PatientError(
                f"the {formula.name} BSA formula needs the patient's sex: pass {option('sex')} female "
                f"or male, or choose another {option('bsa_formula')}"
            )
        raw, computed = computed_bsa(p.weight_kg, p.height_cm, p.sex, options.bsa_formula)
    if p.bsa_m2 is None and computed is not None:
        out.working.append(
            f"BSA by {formula.name} {formula.equation} with W = {format_fraction(p.weight_kg or Fraction(0))} kg, "
            f"H = {format_fraction(p.height_cm or Fraction(0))} cm: {rounded_text(raw, computed, BSA_PLACES, 'm²')} "
            f"({formula.citation})"
        )
        out.patient = dataclasses.replace(p, bsa_m2=computed)
        out.bsa_label = f"BSA, {formula.name}"
    elif p.bsa_m2 is not None and computed is not None:
        diff = abs(p.bsa_m2 - computed) / computed * 100
        if diff > BSA_DISAGREEMENT:
            out.warnings.append(
                f"the given BSA {format_fraction(p.bsa_m2)} m² differs by "
                f"{format_fraction(Fraction(to_decimal(diff, 1)))} % from {format_fraction(computed)} m² by "
                f"{formula.name} for "
                f"{format_fraction(p.weight_kg or Fraction(0))} kg and {format_fraction(p.height_cm or Fraction(0))} "
                f"cm (more than {format_fraction(BSA_DISAGREEMENT)} %): check weight, height and BSA; the given BSA "
                "is used"
            )
    bsa = out.patient.bsa_m2
    out.dosing_bsa = bsa
    if options.bsa_cap is not None and bsa is not None:
        if bsa > options.bsa_cap:
            out.dosing_bsa = options.bsa_cap
            out.bsa_label = (
                f"BSA {format_fraction(bsa)} m² capped at {format_fraction(options.bsa_cap)} m² by --bsa-cap"
            )
            out.warnings.append(
                f"BSA capped at {format_fraction(options.bsa_cap)} m² (uncapped {format_fraction(bsa)} m²) for doses "
                "per m²: a chosen cap; ASCO (Griggs JJ et al., J Clin Oncol 2012; update 2021) recommends full "
                "weight-based doses for obese adults"
            )
        else:
            out.notes.append(
                f"BSA {format_fraction(bsa)} m² is at or under the --bsa-cap of "
                f"{format_fraction(options.bsa_cap)} m²: not capped"
            )


def _need(value: object, what: str, option: str, purpose: str) -> None:
    if value is None:
        raise PatientError(f"{purpose} needs the patient's {what}: pass {option}")


def _dosing_weight(out: Prepared, key: str, options: ClinicalOptions, explicit: bool) -> BodyWeight:
    p = out.patient
    _need(p.weight_kg, "weight", option("weight"), "dosing by weight")
    assert p.weight_kg is not None
    if key == "actual":
        return BodyWeight(p.weight_kg, "actual body weight" if explicit else "")
    purpose = f"the {key} body weight"
    _need(p.height_cm, "height", option("height"), purpose)
    _need(p.sex, "sex", option("sex"), purpose)
    assert p.height_cm is not None and p.sex is not None
    if key == "lean":
        raw = body_size.lean_body_weight(_f(p.weight_kg), _f(p.height_cm), p.sex)
        lean = exact_places(raw, DERIVED_PLACES)
        equation = "9270 × W / (6680 + 216 × BMI)" if p.sex == "male" else "9270 × W / (8780 + 244 × BMI)"
        index = body_size.bmi(_f(p.weight_kg), _f(p.height_cm))
        out.working.append(
            f"lean body weight (Janmahasatian 2005, {p.sex}) = {equation} with W = "
            f"{format_fraction(p.weight_kg)} kg, BMI = {index:.6f} kg/m²: "
            f"{rounded_text(raw, lean, DERIVED_PLACES, 'kg')}"
        )
        return _positive(BodyWeight(lean, "lean body weight, Janmahasatian"))
    ibw_method = key.split("-", 1)[1] if key.startswith("ideal-") else IDEAL_DEFAULT
    ibw_name = ibw_method.capitalize()
    _ibw_in_range(p, ibw_method, "the adjusted body weight uses the ideal body weight" if key == "adjusted" else "")
    raw_ibw = body_size.ideal_body_weight(_f(p.height_cm), p.sex, ibw_method)
    ibw = exact_places(raw_ibw, DERIVED_PLACES)
    # the adjusted weight is built on the rounded ideal weight: its rounding is stated as well
    out.working.append(
        f"ideal body weight ({ibw_name}, {p.sex}, {format_fraction(p.height_cm)} cm) = "
        f"{body_size.ibw_equation(ibw_method, p.sex)} = "
        f"{rounded_text(raw_ibw, ibw, DERIVED_PLACES, 'kg')}"
    )
    if key.startswith("ideal"):
        if ibw > p.weight_kg:
            out.warnings.append(
                f"ideal body weight {format_fraction(ibw)} kg is above the actual weight "
                f"{format_fraction(p.weight_kg)} kg: check the protocol's rule for underweight "
                "patients"
            )
        return _positive(BodyWeight(ibw, f"ideal body weight, {ibw_name}"))
    f = options.adjusted_factor
    exact = ibw + f * (p.weight_kg - ibw)
    adjusted = Fraction(to_decimal(exact, DERIVED_PLACES))
    out.working.append(
        f"adjusted body weight = IBW + {format_fraction(f)} × (actual − IBW) = "
        f"{format_fraction(ibw)} + {format_fraction(f)} × ({format_fraction(p.weight_kg)} − "
        f"{format_fraction(ibw)}) = {rounded_text(exact, adjusted, DERIVED_PLACES, 'kg')} "
        f"(IBW by {ibw_name})"
    )
    return _positive(BodyWeight(adjusted, f"adjusted body weight, factor {format_fraction(f)}"))


def _ibw_in_range(p: Patient, method: str, via: str) -> None:
    """The ideal-body-weight formulas are stated for adults of at least 60 in (152.4 cm): outside, an error."""
    assert p.height_cm is not None and p.sex is not None
    why = ""
    if p.height_cm < IBW_MIN_HEIGHT_CM:
        why = f"height {format_fraction(p.height_cm)} cm is below it"
    elif p.age_years is not None and p.age_years < ADULT_AGE:
        why = f"age {format_fraction(p.age_years)} years is under {format_fraction(ADULT_AGE)}"
    if why:
        lead = f"{via} ({method.capitalize()}), which" if via else f"ideal body weight ({method.capitalize()})"
        raise PatientError(
            f"{lead} is defined for adults at least 152.4 cm (60 in) tall "
            f"({body_size.ibw_equation(method, p.sex)}; {body_size.IBW_CITATIONS[method]}); {why}: "
            f"dose by actual weight ({option('dosing_weight')} actual) or by hand, per the protocol"
        )


def _positive(weight: BodyWeight) -> BodyWeight:
    """A dosing weight at or below 0 kg is never used: no formula in its range gives one, so it means a bug."""
    if weight.kg <= 0:
        name = weight.label.split(",")[0]
        raise PatientError(
            f"{name} {format_fraction(weight.kg)} kg is not a possible dosing weight: check "
            f"{option('weight')}, {option('height')} and {option('sex')}"
        )
    return weight


def _scr_floor(out: Prepared, needed: bool, options: ClinicalOptions) -> Fraction | None:
    """The serum creatinine the estimates use. For AUC (Calvert) dosing a creatinine under the floor (default
    0.7 mg/dL, --scr-floor) inflates the estimated GFR and so the carboplatin dose: it is flagged, or, with
    --scr-floor-apply, rounded up to the floor and said so in the working."""
    scr = out.patient.scr_mg_dl
    if scr is None or not needed or out.patient.gfr_ml_min is not None or scr >= options.scr_floor:
        return scr
    if options.scr_floor_apply:
        out.working.append(
            f"serum creatinine {format_fraction(scr)} mg/dL rounded up to {format_fraction(options.scr_floor)} "
            "mg/dL for the GFR estimates (--scr-floor-apply): a low creatinine overestimates the GFR and the "
            "carboplatin dose"
        )
        return options.scr_floor
    out.warnings.append(scr_floor_warning(scr, options))
    return scr


def scr_floor_warning(scr: Fraction, options: ClinicalOptions) -> str:
    """The warning on a serum creatinine under the floor that is not rounded up (AUC dosing from an estimate)."""
    return (
        f"serum creatinine {format_fraction(scr)} mg/dL is under {format_fraction(options.scr_floor)} mg/dL "
        "(--scr-floor): a low creatinine overestimates the GFR and so the Calvert (carboplatin) dose; many centres "
        "round it up to 0.7 or 0.8 mg/dL: check the value, measure the GFR, or pass --scr-floor-apply"
    )


def _renal(out: Prepared, needed: bool, options: ClinicalOptions, tables: bool) -> None:
    p = out.patient
    estimates: dict[str, tuple[Fraction, str]] = {}
    scr_used = _scr_floor(out, needed, options)
    if scr_used is not None and p.age_years is not None and p.sex is None and p.weight_kg is not None:
        # the sex not given: the clearance of each, so that a renal table both read alike needs no sex (renal_adjust)
        (female, f_text), (male, m_text) = (_cockcroft_gault(p, s, scr_used, f" if {s}") for s in ("female", "male"))
        out.working.extend((f_text, m_text))
        out.kidney_by_sex = (
            Gfr(female, female, f"CrCl {format_fraction(female)} mL/min (Cockcroft–Gault) if female"),
            Gfr(male, male, f"CrCl {format_fraction(male)} mL/min (Cockcroft–Gault) if male"),
        )
    if scr_used is not None and p.gfr_ml_min is None and tables:  # a renal table to read over a value not given
        _over(out, scr_used)
    if scr_used is not None and p.age_years is not None and p.sex is not None:
        scr, age = _f(scr_used), _f(p.age_years)  # for CKD-EPI below
        if p.weight_kg is not None:
            cg, text = _cockcroft_gault(p, p.sex, scr_used)
            estimates["cockcroft-gault"] = (cg, COCKCROFT_GAULT)
            out.working.append(text)
        raw_egfr = renal.ckd_epi_2021(scr, age, p.sex)
        egfr = exact_places(raw_egfr, DERIVED_PLACES)
        _possible_gfr(egfr, "CKD-EPI 2021 eGFR", "mL/min/1.73 m²")
        out.working.append(
            f"CKD-EPI 2021 eGFR = {rounded_text(raw_egfr, egfr, DERIVED_PLACES, 'mL/min/1.73 m²')} "
            f"({p.sex}, age {format_fraction(p.age_years)}, SCr {format_fraction(scr_used)} mg/dL)"
        )
        if p.bsa_m2 is not None:
            exact = egfr * p.bsa_m2 / Fraction(173, 100)
            absolute = Fraction(to_decimal(exact, DERIVED_PLACES))
            _possible_gfr(absolute, "CKD-EPI 2021 eGFR de-indexed", "mL/min", with_bsa=True)
            out.working.append(
                f"CKD-EPI 2021 de-indexed for Calvert: {format_fraction(egfr)} × "
                f"{format_fraction(p.bsa_m2)} m² / 1.73 m² = "
                f"{rounded_text(exact, absolute, DERIVED_PLACES, 'mL/min')}"
            )
            estimates["ckd-epi-2021"] = (absolute, "CKD-EPI 2021, de-indexed")
    if p.gfr_ml_min is not None:
        out.kidney = Gfr(p.gfr_ml_min, p.gfr_ml_min, f"GFR {format_fraction(p.gfr_ml_min)} mL/min (given with --gfr)")
    elif "cockcroft-gault" in estimates:
        cg = estimates["cockcroft-gault"][0]
        out.kidney = Gfr(cg, cg, f"CrCl {format_fraction(cg)} mL/min (Cockcroft–Gault)")
    if not needed:
        return
    if p.gfr_ml_min is not None:
        gfr, name = p.gfr_ml_min, "given with --gfr"
    else:
        _need(
            p.scr_mg_dl,
            "serum creatinine (or a measured GFR)",
            f"{option('scr')} (or {option('gfr')})",
            "AUC (Calvert) dosing",
        )
        _need(p.age_years, "age", option("age"), "estimating the GFR for AUC dosing")
        _need(p.sex, "sex", option("sex"), "estimating the GFR for AUC dosing")
        if options.gfr_method == "cockcroft-gault":
            _need(p.weight_kg, "weight", option("weight"), "Cockcroft–Gault")
        elif "ckd-epi-2021" not in estimates:
            _need(
                None,
                "body-surface area (to de-index CKD-EPI)",
                f"{option('bsa')}, or {option('height')} with {option('weight')}",
                "CKD-EPI 2021",
            )
        gfr, name = estimates[options.gfr_method]
    if options.gfr_cap is None:
        out.warnings.append(GFR_CAP_LIFTED)
    out.gfr = calvert_gfr(gfr, name, options)


def _over(out: Prepared, scr: Fraction) -> None:
    """A creatinine without the age or without the weight (each other value given, the sex perhaps assumed for one
    outcome): the clearance over the value not given, and its working; renal_adjust reads the tables at each point.
    The sex not given either: each sex's clearance over it, the engine expanding each sex first. Neither the age nor
    the weight given: the clearance itself over every value it may have."""
    p = out.patient
    assumed = dict(p.assumed).get("sex")
    sex = p.sex or (str(assumed) if assumed in ("female", "male") else None)
    if p.age_years is None and p.weight_kg is not None:
        make, known = over_ages, p.weight_kg
    elif p.weight_kg is None and p.age_years is not None:
        make, known = over_weights, p.age_years
    elif p.weight_kg is None and p.age_years is None:  # the clearance itself not known: the sex cannot narrow it
        out.kidney_over = over_clearance()
        out.working.append(working(out.kidney_over, None, scr, sex or "", ""))
        return
    else:
        return
    if sex is None:
        female, male = make(known, scr, "female"), make(known, scr, "male")
        if female is not None and male is not None:
            out.kidney_each_sex = (female, male)
            out.working.append(working(female, known, scr, "female", " if female"))
            out.working.append(working(male, known, scr, "male", " if male"))
        return
    out.kidney_over = make(known, scr, sex)
    if out.kidney_over is not None:
        out.working.append(working(out.kidney_over, known, scr, sex, "" if p.sex else f" if {sex}"))


def _cockcroft_gault(p: Patient, sex: str, scr: Fraction, which: str = "") -> tuple[Fraction, str]:
    """The Cockcroft–Gault creatinine clearance of ``p`` as ``sex`` at creatinine ``scr`` (after any floor), to 2
    decimals, and its working; ``which`` ("if female") marks the working of a sex assumed."""
    assert p.age_years is not None and p.weight_kg is not None
    raw = renal.cockcroft_gault(_f(p.age_years), _f(p.weight_kg), _f(scr), sex)
    cg = exact_places(raw, DERIVED_PLACES)
    _possible_gfr(cg, "Cockcroft–Gault creatinine clearance", "mL/min", with_weight=True)
    female = " × 0.85 (female)" if sex == "female" else ""
    return cg, (
        f"Cockcroft–Gault CrCl{which} = (140 − {format_fraction(p.age_years)}) × {format_fraction(p.weight_kg)} kg"
        f" (actual weight) / (72 × {format_fraction(scr)} mg/dL){female} = "
        f"{rounded_text(raw, cg, DERIVED_PLACES, 'mL/min')}"
    )


def _possible_gfr(value: Fraction, what: str, unit: str, *, with_weight: bool = False, with_bsa: bool = False) -> None:
    """A computed GFR has the limit of a measured one (:data:`regimen.clinical.patient.GFR`): above it, an error."""
    if value <= GFR.high:
        return
    inputs = [
        f"the serum creatinine ({option('scr')})",
        *([f"weight ({option('weight')})"] if with_weight else []),
        *([f"BSA ({option('bsa')})"] if with_bsa else []),
        f"age ({option('age')})",
    ]
    raise PatientError(
        f"{what} {format_fraction(value)} {unit} is impossible: a GFR is at most "
        f"{format_fraction(GFR.high)} mL/min, as for a measured {option('gfr')}; check "
        f"{', '.join(inputs[:-1])} and {inputs[-1]}"
    )


_RANGE_NAMES = {"weight": "weight", "height": "height", "bsa": "BSA", "scr": "serum creatinine"}


def range_warning(key: str, value: Fraction | None, child: bool) -> str | None:
    """The warning for a body value outside the usual range of adults (or children), or None.

    ``key`` is weight, height, bsa or scr. One function for ``expand`` and for cohorts, which call it once per
    distinct value of a roster column."""
    if value is None:
        return None
    low, high, unit = (CHILD_RANGES if child else ADULT_RANGES)[key]
    # low <= value <= high, compared in integers (denominators are positive): a Fraction's comparison checks the
    # other number's type through the numbers ABCs, and every plan holds each of the patient's values to its range
    n, d = value.numerator, value.denominator
    if low.numerator * d <= n * low.denominator and n * high.denominator <= high.numerator * d:
        return None
    return (
        f"{_RANGE_NAMES[key]} {format_fraction(value)} {unit} is unusual for {'children' if child else 'adults'} "
        f"(usual range {format_fraction(low)}–{format_fraction(high)} {unit}): check the value and its unit"
    )


def is_child(age_years: Fraction | None) -> bool:
    """Children's usual ranges apply under 18 years; an unknown age takes the adult ranges."""
    if age_years is None:
        return False
    return age_years.numerator * ADULT_AGE.denominator < ADULT_AGE.numerator * age_years.denominator  # integers


def _plausibility(out: Prepared) -> None:
    p = out.patient
    values = {"weight": p.weight_kg, "height": p.height_cm, "bsa": p.bsa_m2, "scr": p.scr_mg_dl}
    child = is_child(p.age_years)
    for key, value in values.items():
        warning = range_warning(key, value, child)
        if warning is not None:
            out.warnings.append(warning)


def age_warnings(regimen: Regimen, age_years: Fraction | None) -> list[str]:
    """Warnings on an age: over the usual maximum, outside the regimen's eligibility (expand and cohorts)."""
    out: list[str] = []
    if age_years is None:
        return out
    if below(AGE_USUAL_MAX, age_years):
        out.append(f"age {format_fraction(age_years)} years is over {format_fraction(AGE_USUAL_MAX)}: check the value")
    e = regimen.eligibility
    if e is not None and (
        (e.min_age is not None and below(age_years, e.min_age))
        or (e.max_age is not None and below(e.max_age, age_years))
    ):
        out.append(
            f"age {format_fraction(age_years)} years is outside the eligibility of {regimen.id} (aged "
            f"{_eligibility_bounds(e)}, from the source)"
        )
    return out


def _eligibility_bounds(e: Eligibility) -> str:
    return " and ".join(
        x
        for x in (
            f"at least {format_fraction(e.min_age)} years" if e.min_age is not None else "",
            f"at most {format_fraction(e.max_age)} years" if e.max_age is not None else "",
        )
        if x
    )


def _eligibility(out: Prepared, regimen: Regimen) -> None:
    e = regimen.eligibility
    if e is not None and out.patient.age_years is None:
        out.notes.append(f"the source treated patients aged {_eligibility_bounds(e)}; age not given (--age)")
    out.warnings.extend(age_warnings(regimen, out.patient.age_years))


# ClinicalError, ClinicalOptions and StrictError live in regimen.clinical.options; named here until every
# importer uses that module (removed once the cohort and calendar modules are moved over).
__all__ = [
    "ClinicalError",
    "ClinicalOptions",
    "Prepared",
    "StrictError",
    "body_values",
    "component_weight_key",
    "exact_places",
    "prepare",
    "scr_floor_warning",
]
