"""A plan's calendar, where the user asked for it: an .ics file, a CalDAV collection, or both.

The glue above the two calendar layers, which know nothing of each other: :mod:`regimen.export.ics`
turns a plan into calendar bytes (a whole file, or one calendar per event), and
:mod:`regimen.export.caldav` keeps a server's resources in step with calendar bytes it is given.
:class:`CalendarExport` checks the calendar options of ``regimen expand`` before anything is
computed, then writes the file (atomically) and publishes to the server.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from regimen.engine.plan import Plan
from regimen.engine.preparations import preparations
from regimen.errors import option
from regimen.export.caldav import Resource, Upload, sync
from regimen.export.ics import (
    CalendarError,
    check_label,
    dtstamp_from_env,
    existing_calendar,
    local_zone_key,
    parse_remind,
    parse_time,
    patient_values,
    plan_resources,
    plan_to_ics,
    replaces,
    uid_prefix,
    zone,
)
from regimen.export.io import write_atomic


def publish(
    plan: Plan | Sequence[Plan],
    url: str,
    *,
    environ: Mapping[str, str] | None = None,
    time: dt.time | None = None,
    tz: str | None = None,
    remind: dt.timedelta | None = None,
    label: str | None = None,
    dtstamp: dt.datetime | None = None,
    echo: Callable[[str], None] | None = None,
) -> Upload:
    """Upload ``plan``'s events to the calendar collection at ``url``, replacing an earlier upload of it.

    One resource per event; events whose content changed get SEQUENCE + 1, as in a re-exported file,
    and events of the plan no longer in it are kept as cancelled (SEQUENCE + 1), as in a re-exported file.
    The events of the plan it replaces (the same regimen, start and label under other patient values: before a
    new weight, without a course key) are withdrawn, as the file it replaces is; ``echo`` is told whose values
    they had. Options are those of :func:`regimen.export.ics.plan_to_ics`.
    """
    label = check_label(label) if label is not None else None
    prefix = uid_prefix(plan, label)

    def render(stored: Mapping[str, bytes]) -> dict[str, Resource]:
        earlier = [v for uid, data in stored.items() if not uid.startswith(prefix) for v in patient_values(data)]
        if earlier and echo is not None:
            count = sum(1 for uid in stored if not uid.startswith(prefix))
            echo(
                f"calendar: {count} event(s) of the same regimen and start with other patient values "
                f"({'; '.join(dict.fromkeys(earlier))}) are cancelled, replaced by this plan (in a calendar shared by "
                f"patients, give each a {option('label')} or {option('course')})"
            )
        resources = plan_resources(plan, stored, time=time, tz=tz, remind=remind, label=label, dtstamp=dtstamp)
        return {uid: Resource(data, changed) for uid, (data, changed) in resources.items()}

    return sync(url, prefix, render, replaces=replaces(plan, label), environ=environ)


@dataclass(frozen=True, slots=True)
class CalendarExport:
    """The calendar options of ``regimen expand``, checked before anything is computed or written."""

    ics: str | None
    caldav: str | None
    time: dt.time | None
    tz: str | None
    remind: dt.timedelta | None
    label: str | None
    dtstamp: dt.datetime | None
    echo: Callable[[str], None]

    @classmethod
    def from_options(
        cls,
        *,
        ics: str | None,
        caldav: str | None,
        time: str | None,
        tz: str | None,
        remind: str | None,
        label: str | None,
        start: object,
        echo: Callable[[str], None],
    ) -> CalendarExport:
        """Checked options. ``echo`` shows a line to the user; it may name an input with :func:`option`."""
        if ics is None and caldav is None:
            given = [option(n) for n, v in (("remind", remind), ("label", label)) if v is not None]
            raise CalendarError(
                f"{', '.join(given)}: used only with a calendar; add {option('ics')} FILE or {option('caldav')} URL"
            )
        if start is None:
            where = option("ics") if ics is not None else option("caldav")
            raise CalendarError(f"{where} needs dates: add {option('start')} YYYY-MM-DD (the date of day 1 of cycle 1)")
        if tz is not None:
            zone(tz)
        elif time is not None:
            tz, note = local_zone_key()
            if note:
                echo(f"note: {note}")
        return cls(
            ics=ics,
            caldav=caldav,
            time=parse_time(time) if time is not None else None,
            tz=tz,
            remind=parse_remind(remind) if remind is not None else None,
            label=check_label(label) if label is not None else None,
            dtstamp=dtstamp_from_env(),
            echo=echo,
        )

    @property
    def options(self) -> dict[str, Any]:
        return {"time": self.time, "tz": self.tz, "remind": self.remind, "label": self.label, "dtstamp": self.dtstamp}

    def render(self, plan: Plan | Sequence[Plan]) -> bytes | None:
        """The .ics file's new content (reading the file it will replace, for SEQUENCE), or None."""
        if self.ics is None:
            return None
        return plan_to_ics(plan, previous=existing_calendar(self.ics), **self.options)

    def publish(self, plan: Plan | Sequence[Plan], data: bytes | None) -> None:
        """Write the file (atomically) and upload to the CalDAV server, as asked."""
        if self.ics is not None and data is not None:
            write_atomic(self.ics, data)
            parts = [plan] if isinstance(plan, Plan) else plan
            count = sum(len(preparations(part.administrations)) for part in parts)  # one event per preparation
            self.echo(f"calendar: {count} event(s) written to {self.ics}")
        if self.caldav is not None:
            upload = publish(plan, self.caldav, echo=self.echo, **self.options)
            self.echo(f"calendar: {upload.summary(self.caldav)}")


__all__ = ["CalendarExport", "publish"]
