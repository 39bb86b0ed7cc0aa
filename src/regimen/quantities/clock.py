"""Times of day and time zones: a wall-clock time on a date in an IANA zone as an exact instant.

Used by the engine (times of administrations, order within a day) and by the calendar. Elapsed time is
counted in UTC, so a 96-hour infusion lasts 96 hours across a daylight-saving change; a wall-clock time that
does not exist on a date (clocks go forward) moves forward by the gap, one that happens twice (clocks go back)
is the first, as RFC 5545 reads it.
"""

from __future__ import annotations

import datetime as dt
import os
import re
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING

from regimen.errors import RegimenError, option

if TYPE_CHECKING:  # pragma: no cover
    import zoneinfo

UTC = dt.UTC
UTC_KEYS = {"UTC", "Etc/UTC", "Etc/Zulu", "Zulu", "Universal", "Etc/Universal", "Etc/UCT", "UCT"}


class ClockError(RegimenError):
    """A time, zone or calendar option that cannot be used (time, zone, reminder, label, file)."""


def parse_time(text: str) -> dt.time:
    """'08:00' or '8:00' (24-hour clock) -> time."""
    match = re.fullmatch(r"\s*(\d{1,2}):(\d{2})\s*", text)
    if match is None or int(match[1]) > 23 or int(match[2]) > 59:
        raise ClockError(f"{option('time')} {text!r}: give a 24-hour time HH:MM, e.g. {option('time')} 08:00")
    return dt.time(int(match[1]), int(match[2]))


def zone(key: str) -> zoneinfo.ZoneInfo:
    """The IANA zone ``key`` ('Europe/Berlin'), or a one-line error naming the fix."""
    import zoneinfo  # loaded only when a zone is used: 'regimen expand' without a time never needs it

    try:
        # IANA names are short ASCII paths ('America/Argentina/ComodRivadavia' is among the longest)
        if not key or len(key) > 64 or not key.isascii() or key.startswith(("/", ".")) or ".." in key:
            raise ValueError(key)
        return zoneinfo.ZoneInfo(key)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError, OSError):
        shown = repr(key) if len(key) <= 64 else repr(key[:40]) + "…"
        raise ClockError(
            f"{option('tz')} {shown}: unknown time zone; give an IANA name such as Europe/Berlin, "
            "America/New_York or UTC"
        ) from None


def local_zone_key(environ: Mapping[str, str] | None = None, etc: Path = Path("/etc")) -> tuple[str, str | None]:
    """The machine's IANA zone name and, when it cannot be found, 'UTC' with a note saying so.

    Looks at $TZ, then the /etc/localtime link (…/zoneinfo/Europe/Berlin), then /etc/timezone.
    An offset from ``datetime.now().astimezone()`` is not enough: a VTIMEZONE needs the zone's rules.
    The note names the caller's input with :func:`regimen.errors.option`; show it with
    :func:`regimen.errors.render` (the command line shows it as ``--tz``).
    """
    env = os.environ if environ is None else environ
    candidates: list[str] = []
    tz_env = env.get("TZ", "").strip().lstrip(":")
    if tz_env:
        candidates.append(tz_env.split("zoneinfo/", 1)[1] if "zoneinfo/" in tz_env else tz_env)
    localtime = etc / "localtime"
    if localtime.is_symlink():
        target = str(localtime.resolve())
        if "zoneinfo/" in target:
            candidates.append(target.split("zoneinfo/", 1)[1])
    try:
        candidates.append((etc / "timezone").read_text(encoding="utf-8").strip())
    except OSError:
        pass
    for key in candidates:
        try:
            zone(key)
        except ClockError:
            continue
        return key, None
    return "UTC", (
        f"the machine's time zone could not be found; times are in UTC (pass {option('tz')} ZONE, e.g. Europe/Berlin)"
    )


def tzinfo_for(key: str | None) -> dt.tzinfo:
    """UTC for no zone or a UTC alias, else the IANA zone."""
    return UTC if key is None or key in UTC_KEYS else zone(key)


def is_ambiguous(local: dt.datetime) -> bool:
    return local.replace(fold=1 - local.fold).utcoffset() != local.utcoffset()


def start_instant(day: dt.date, time: dt.time, tz: dt.tzinfo) -> tuple[dt.datetime, str | None]:
    """The UTC instant of wall-clock ``time`` on ``day`` in ``tz``, and a note when DST moves it.

    A time that does not exist (clocks go forward) moves forward by the gap; a time that happens
    twice (clocks go back) is its first occurrence, as RFC 5545 reads it.
    """
    naive = dt.datetime.combine(day, time)
    local = naive.replace(tzinfo=tz)
    instant = local.astimezone(UTC)
    shown = instant.astimezone(tz)
    hhmm = time.strftime("%H:%M")
    if shown.replace(tzinfo=None) != naive:
        return instant, (
            f"{hhmm} does not exist on {day.isoformat()} in {tz} (clocks go forward); "
            f"the event starts at {shown.strftime('%H:%M')}"
        )
    if is_ambiguous(local):
        return instant, f"{hhmm} happens twice on {day.isoformat()} in {tz} (clocks go back); the first is used"
    return instant, None


__all__ = [
    "UTC",
    "UTC_KEYS",
    "ClockError",
    "is_ambiguous",
    "local_zone_key",
    "parse_time",
    "start_instant",
    "tzinfo_for",
    "zone",
]
