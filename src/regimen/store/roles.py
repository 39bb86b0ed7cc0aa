"""Who may do what: the one permission table of sign-in, read by the web pages, the HTTP API and the command line.

A role is a job in a day unit. Each action names the roles that may take it; nothing else in the code decides
who may do what (the web app turns a role into Starlette's scopes from :data:`PERMISSIONS`, the command line calls
:func:`require`). Pure: no database here, so every door reads the same table.
"""

from __future__ import annotations

from enum import StrEnum

from regimen.errors import RegimenError


class Role(StrEnum):
    PRESCRIBER = "prescriber"
    PHARMACIST = "pharmacist"
    NURSE = "nurse"
    VIEWER = "viewer"
    ADMINISTRATOR = "administrator"


ROLES = tuple(r.value for r in Role)
_CLINICAL = frozenset({Role.PRESCRIBER, Role.PHARMACIST, Role.NURSE, Role.VIEWER})

#: action -> the roles that may take it. The administrator manages users and nothing clinical: a unit that wants
#: one person to do both gives them two accounts, so the audit trail tells the two jobs apart.
PERMISSIONS: dict[str, frozenset[Role]] = {
    "read": _CLINICAL,  # regimens, plans, downloads, courses, the worklist
    "course.start": frozenset({Role.PRESCRIBER}),
    "course.change": frozenset({Role.PRESCRIBER}),  # delay, new measurements, dose change, stop
    "course.record": frozenset({Role.NURSE}),  # a dose given, an omission at the chair
    "cycle.verify": frozenset({Role.PHARMACIST}),  # the independent check of a cycle's orders
    "users.manage": frozenset({Role.ADMINISTRATOR}),
}

#: The action of each kind of course change (regimen.engine.courses).
CHANGE_ACTIONS = {
    "delay": "course.change",
    "measure": "course.change",
    "dose": "course.change",
    "stop": "course.change",
    "omit": "course.record",
    "given": "course.record",
    "check": "course.change",  # a gate check decides the cycle (issue 27)
    "requirement": "course.change",
    "verify": "cycle.verify",  # a pharmacist's check of a cycle's doses against the protocol (issue 28)
    "void": "course.change",  # a correction of any record is the prescriber's: it can undo a dose change
}

#: In words, for the one-line refusal.
DOING = {
    "read": "read the regimens and courses",
    "course.start": "start a course",
    "course.change": "change a course",
    "course.record": "record an administration",
    "cycle.verify": "verify a cycle's doses",
    "users.manage": "manage users",
}


class NotAllowed(RegimenError):
    """A signed-in user asked for an action their role does not have."""


def role_of(text: str) -> Role:
    try:
        return Role(text.strip().lower())
    except ValueError:
        raise RegimenError(f"role {text!r}: one of {', '.join(ROLES)}") from None


def allowed(role: Role | str, action: str) -> bool:
    if action not in PERMISSIONS:
        raise KeyError(action)  # a typo in the code, not the user's doing
    return Role(role) in PERMISSIONS[action]


def scopes(role: Role | str) -> list[str]:
    """The actions of a role (the web app's Starlette scopes)."""
    return [action for action, roles in PERMISSIONS.items() if Role(role) in roles]


def require(role: Role | str, action: str) -> None:
    """Nothing if ``role`` may take ``action``; else :class:`NotAllowed`, in one line naming who may."""
    if not allowed(role, action):
        who = " or ".join(sorted(r.value for r in PERMISSIONS[action]))
        raise NotAllowed(f"{_a(Role(role).value)} may not {DOING[action]}: that is for {_a(who)}")


def _a(noun: str) -> str:
    return f"{'an' if noun[0] in 'aeiou' else 'a'} {noun}"


__all__ = ["CHANGE_ACTIONS", "PERMISSIONS", "ROLES", "NotAllowed", "Role", "allowed", "require", "role_of", "scopes"]
