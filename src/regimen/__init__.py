"""regimen: cited oncology protocols -> exact, per-patient administration schedules.

Research software: verify every dose against the protocol before use.

>>> import regimen
>>> plan = regimen.expand(regimen.load("cenersen-arm3"), regimen.make_patient(weight="70", bsa="1.8", age="45"))
>>> [(r.day, r.drug, str(r.dose)) for r in plan.administrations if r.day == 2]
[(2, 'cenersen', '168'), (2, 'idarubicin', '108/5'), (2, 'cytarabine', '1800')]

Nothing heavy is imported here: pint loads on first use, pandas only for DataFrames.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from regimen.lazy import exports

if TYPE_CHECKING:
    from regimen.clinical.options import ClinicalOptions
    from regimen.clinical.patient import make_patient
    from regimen.engine.expand import expand
    from regimen.engine.plan import Plan
    from regimen.errors import PatientError, RegimenError, RegimenFileError, UnitError, UnknownRegimenError
    from regimen.model import Administration, Component, Patient, Phase, Regimen
    from regimen.protocol.catalog import find, list_regimens, load

#: The public API, each name loaded from its module on first use: importing a submodule (the course store of
#: 'regimen due', the command line) does not load the plan engine, the protocol loader and the clinical rules
#: with it (issue 29).
_EXPORTS = {
    "ClinicalOptions": "regimen.clinical.options",
    "make_patient": "regimen.clinical.patient",
    "expand": "regimen.engine.expand",
    "Plan": "regimen.engine.plan",
    "PatientError": "regimen.errors",
    "RegimenError": "regimen.errors",
    "RegimenFileError": "regimen.errors",
    "UnitError": "regimen.errors",
    "UnknownRegimenError": "regimen.errors",
    "Administration": "regimen.model",
    "Component": "regimen.model",
    "Patient": "regimen.model",
    "Phase": "regimen.model",
    "Regimen": "regimen.model",
    "find": "regimen.protocol.catalog",
    "list_regimens": "regimen.protocol.catalog",
    "load": "regimen.protocol.catalog",
    "expand_cohort": "regimen.engine.cohort.runner",  # pandas and numpy only when used
    "plan_to_ics": "regimen.export.ics",  # icalendar only for calendars: the .ics bytes
    "write_ics": "regimen.export.ics",  # to a file, atomically, updating an earlier export
}

# The one place the version is written: the build reads it (pyproject.toml, [tool.hatch.version]) into the
# package metadata, which `regimen --version` prints. Change it here, in a commit that updates CHANGELOG.md.
__version__ = "0.1.0"


__getattr__ = exports(globals(), _EXPORTS)

__all__ = [
    "Administration",
    "ClinicalOptions",
    "Component",
    "Patient",
    "PatientError",
    "Phase",
    "Plan",
    "Regimen",
    "RegimenError",
    "RegimenFileError",
    "UnitError",
    "UnknownRegimenError",
    "expand",
    "expand_cohort",
    "find",
    "list_regimens",
    "load",
    "make_patient",
    "plan_to_ics",
    "write_ics",
]
