"""A treatment course (issue 12): the plan as it stands after what happened. No I/O here.

A course is its start (the regimen file's exact text, the patient values and options as typed, the date of
day 1) and an append-only list of changes, each with who, when and why. The course as it now stands is always
*replayed* from those records, never stored as a result, so nothing that was recorded is ever overwritten and a
later edit of the regimen file never changes a running course (its text was recorded at the start).

Changes, in the words of the day unit (one frozen dataclass per kind, :mod:`~regimen.engine.courses.events`):

- ``delay``: cycle N (and every cycle after it) starts D days later;
- ``measure``: new weight, height, BSA, creatinine or GFR from cycle N on (doses recomputed from them; a change of
  more than 10 % in weight or BSA is flagged);
- ``dose``: a dose level of a drug (or of the whole regimen), or a change of a drug's dose ("80 % of the dose
  (reduced by 20 %)", :mod:`regimen.clinical.dose_change`) from cycle N on;
- ``omit``: a drug, a day, or a drug on a day, not given;
- ``given``: what was actually given (dose, time, lot) for one planned administration;
- ``stop``: no administration from a date on;
- ``void``: a change entered in error, undone (both stay in the history).

The modules, in the order a record goes through them: :mod:`records` (start, ids, cycles), :mod:`events` (the
kinds), :mod:`replay` (a pure ``replay(start, changes) -> CourseState``), :mod:`checks` (what a new change may not
do), :mod:`describe` (every sentence about a record), :mod:`repository` (what the store implements) and
:mod:`book` (the one call every door uses).
"""

from typing import TYPE_CHECKING

from regimen.lazy import exports

if TYPE_CHECKING:
    from regimen.engine.courses.book import CourseBook, append, course_records, decode
    from regimen.engine.courses.checks import check_new
    from regimen.engine.courses.describe import due_rows, history_line
    from regimen.engine.courses.errors import CourseError
    from regimen.engine.courses.events import KINDS, MEASURE_KEYS, Context, parse_event
    from regimen.engine.courses.records import (
        OPTION_KEYS,
        PATIENT_KEYS,
        CourseStart,
        check_course_id,
        parse_cycle,
        start_options,
    )
    from regimen.engine.courses.repository import CourseRepository, CourseSummary, Rendered
    from regimen.engine.courses.state import Change, CourseRow, CourseState, CourseView, GivenDose
    from regimen.engine.courses.worklist import DueRow, code_version

#: Each name from its module on first use: the worklist (:mod:`worklist`, what ``regimen due`` reads through the
#: store) is imported without the replay, and so without the plan engine (issue 29). ``replay`` and ``describe`` are
#: imported from their modules (``regimen.engine.courses.replay``): a lazy name cannot share a submodule's name, as
#: importing the submodule sets the package's attribute to the module.
_EXPORTS = {
    "CourseBook": "regimen.engine.courses.book",
    "append": "regimen.engine.courses.book",
    "code_version": "regimen.engine.courses.worklist",
    "course_records": "regimen.engine.courses.book",
    "decode": "regimen.engine.courses.book",
    "check_new": "regimen.engine.courses.checks",
    "due_rows": "regimen.engine.courses.describe",
    "history_line": "regimen.engine.courses.describe",
    "KINDS": "regimen.engine.courses.events",
    "MEASURE_KEYS": "regimen.engine.courses.events",
    "Context": "regimen.engine.courses.events",
    "parse_event": "regimen.engine.courses.events",
    "OPTION_KEYS": "regimen.engine.courses.records",
    "PATIENT_KEYS": "regimen.engine.courses.records",
    "CourseError": "regimen.engine.courses.errors",
    "CourseStart": "regimen.engine.courses.records",
    "check_course_id": "regimen.engine.courses.records",
    "parse_cycle": "regimen.engine.courses.records",
    "start_options": "regimen.engine.courses.records",
    "CourseRepository": "regimen.engine.courses.repository",
    "CourseSummary": "regimen.engine.courses.repository",
    "Rendered": "regimen.engine.courses.repository",
    "Change": "regimen.engine.courses.state",
    "CourseRow": "regimen.engine.courses.state",
    "CourseState": "regimen.engine.courses.state",
    "CourseView": "regimen.engine.courses.state",
    "DueRow": "regimen.engine.courses.worklist",
    "GivenDose": "regimen.engine.courses.state",
}
__getattr__ = exports(globals(), _EXPORTS)

__all__ = [
    "KINDS",
    "MEASURE_KEYS",
    "OPTION_KEYS",
    "PATIENT_KEYS",
    "Change",
    "Context",
    "CourseBook",
    "CourseError",
    "CourseRepository",
    "CourseRow",
    "CourseStart",
    "CourseState",
    "CourseSummary",
    "CourseView",
    "DueRow",
    "GivenDose",
    "Rendered",
    "append",
    "check_course_id",
    "check_new",
    "code_version",
    "course_records",
    "decode",
    "due_rows",
    "history_line",
    "parse_cycle",
    "parse_event",
    "start_options",
]
