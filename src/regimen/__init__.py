"""regimen: cited oncology protocols -> exact, per-patient administration schedules.

Research software: verify every dose against the protocol before use.

>>> import regimen
>>> plan = regimen.expand(regimen.load("cenersen-arm3"), regimen.make_patient(weight="70", bsa="1.8", age="45"))
>>> [(r.day, r.drug, str(r.dose)) for r in plan.administrations if r.day == 2]
[(2, 'cenersen', '168'), (2, 'idarubicin', '108/5'), (2, 'cytarabine', '1800')]

Nothing heavy is imported here: pint loads on first use, pandas only for DataFrames.
"""

from __future__ import annotations

import gc as _gc

# Importing allocates many long-lived objects (the model classes); the cyclic garbage collector would
# scan them, and everything loaded before (pint), again and again meanwhile: about 20 ms of a 250 ms
# command. It is paused for these imports only, and left as the importer had it.
_collecting = _gc.isenabled()
_gc.disable()
try:
    from regimen.clinical.options import ClinicalOptions
    from regimen.clinical.patient import make_patient
    from regimen.engine.expand import expand
    from regimen.engine.plan import Plan
    from regimen.errors import PatientError, RegimenError, RegimenFileError, UnitError, UnknownRegimenError
    from regimen.model import Administration, Component, Patient, Phase, Regimen
    from regimen.protocol.catalog import find, list_regimens, load
finally:
    if _collecting:
        _gc.enable()

# The one place the version is written: the build reads it (pyproject.toml, [tool.hatch.version]) into the
# package metadata, which `regimen --version` prints. Change it here, in a commit that updates CHANGELOG.md.
__version__ = "0.1.0"


def __getattr__(name: str) -> object:
    """``regimen.expand_cohort`` without importing pandas and numpy for single-patient use, and the calendar
    export (``plan_to_ics``: the .ics bytes; ``write_ics``: to a file, atomically, updating an earlier export)
    without importing icalendar."""
    if name == "expand_cohort":
        from regimen.engine.cohort.runner import expand_cohort  # lazy: pandas and numpy only when used

        return expand_cohort
    if name in ("plan_to_ics", "write_ics"):
        from regimen.export import ics  # lazy: icalendar only for calendars

        return getattr(ics, name)
    raise AttributeError(f"module 'regimen' has no attribute {name!r}")


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
