"""The patient values a regimen needs, and the one message that names every missing one."""

from __future__ import annotations

from collections.abc import Mapping

from regimen.errors import PatientError, option
from regimen.model import Patient, Regimen

PATIENT_FIELDS = {"weight": "weight", "bsa": "body-surface area", "age": "age", "height": "height", "sex": "sex"}


def requirements(regimen: Regimen) -> list[str]:
    """Patient values this regimen needs: 'weight', 'bsa', 'age', 'height', 'sex' (in that order)."""
    needed: set[str] = set()
    for comp in regimen.components():
        for dose in [comp.dose, *(v.dose for v in comp.variants if v.dose is not None)]:
            if dose.unit.basis != "flat":
                needed.add(dose.unit.basis)  # "auc" is checked with the GFR, in clinical.prepare
        for v in comp.variants:
            needed.update(v.when.names - {"cycle"})
    return [k for k in PATIENT_FIELDS if k in needed]


def dose_requirements(regimen: Regimen) -> list[str]:
    """Patient values the doses need ('weight', 'bsa'): without them no dose can be shown."""
    needed = {d.unit.basis for c in regimen.components() for d in [c.dose, *(v.dose for v in c.variants if v.dose)]}
    return [k for k in PATIENT_FIELDS if k in needed]


def _asked(name: str, values: Mapping[str, object]) -> str:
    """How to give a missing value: the BSA directly, or the height from which (with the weight) it is computed."""
    if name != "bsa":
        return f"{option(name)} ..."
    weight = "" if values.get("weight") is not None else f" and {option('weight')} ..."
    return f"{option('bsa')} ... (or {option('height')} ...{weight}: the BSA is then computed, Mosteller by default)"


def _dose_needs(regimen: Regimen) -> tuple[str, ...]:
    """:func:`dose_requirements`, kept with the regimen (``Regimen.once``): a plan checks them first, and they
    depend on the regimen alone."""
    return tuple(dose_requirements(regimen))


def check_patient(regimen: Regimen, patient: Patient) -> None:
    """Stop with one message naming every missing value the doses need (a rule's value may be missing: the plan
    then shows each outcome of the rule)."""
    needs = regimen.once(_dose_needs)
    dosed_by = {"weight": patient.weight_kg, "bsa": patient.bsa_m2}  # a dose's basis: flat, per kg, per m², AUC
    missing = [k for k in needs if dosed_by[k] is None]
    if missing:
        values = {**patient.rule_values(1), "weight": patient.weight_kg, "bsa": patient.bsa_m2}
        names = " and ".join(PATIENT_FIELDS[k] for k in missing)
        options = " ".join(_asked(k, values) for k in missing)
        optional = [k for k in requirements(regimen) if k not in missing and values[k] is None]
        more = (
            f" ({' and '.join(PATIENT_FIELDS[k] for k in optional)} decide{'s' if len(optional) == 1 else ''} a "
            f"rule: give {' '.join(f'{option(k)} ...' for k in optional)} too, or both outcomes are shown)"
            if optional
            else ""
        )
        raise PatientError(f"{regimen.id} needs the patient's {names}: pass {options}{more}")


__all__ = ["PATIENT_FIELDS", "check_patient", "dose_requirements", "requirements"]
