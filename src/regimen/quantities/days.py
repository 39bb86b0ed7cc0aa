"""Days of a cycle as protocols write them: "2-4", "1,8,15", "1-7, 15-21"."""

from __future__ import annotations

import re
from collections.abc import Iterable

from regimen.quantities.limits import MAX_DAY, LimitError

_PART = re.compile(r"^\s*(-?\d{1,9})\s*(?:[-–]\s*(-?\d{1,9})\s*)?$")


def parse_days(spec: str | int | list[object]) -> tuple[int, ...]:
    """Parse a day list; raises ValueError with a one-line reason. Days must be ≥ 1."""
    if isinstance(spec, bool):
        raise ValueError('days must be a day list such as "2-4" or "1,8,15"')
    if isinstance(spec, int):
        parts: list[object] = [spec]
    elif isinstance(spec, str):
        if not spec.strip():
            raise ValueError('days is empty: write e.g. "1-4" or "1,8,15"')
        parts = list(spec.split(","))
    elif isinstance(spec, list):
        parts = list(spec)
    else:
        raise ValueError('days must be a day list such as "2-4" or "1,8,15"')
    if len(parts) > MAX_DAY:
        raise LimitError(f"{len(parts):,} day entries; a cycle has at most {MAX_DAY:,} days")
    days: set[int] = set()
    for part in parts:
        if isinstance(part, bool) or not isinstance(part, (int, str)):
            raise ValueError(f"day {part!r} is not a day number")
        match = _PART.match(str(part))
        if not match:
            raise ValueError(f'day {str(part).strip()!r} is not a day or a range like "2-4"')
        first = int(match.group(1))
        last = int(match.group(2)) if match.group(2) is not None else first
        if first <= 0 or last <= 0:
            raise ValueError(f"day {str(part).strip()!r}: days are numbered from 1")
        if last < first:
            raise ValueError(f"day range {str(part).strip()!r} runs backwards")
        if last > MAX_DAY:  # checked before the range is made: "1-2000000000" would fill memory
            raise LimitError(
                f"day {last:,} in {str(part).strip()!r} is past day {MAX_DAY:,} of a cycle, the most regimen plans"
            )
        days.update(range(first, last + 1))
    if not days:
        raise ValueError('days is empty: write e.g. "1-4" or "1,8,15"')
    return tuple(sorted(days))


def runs(days: Iterable[int]) -> list[tuple[int, int]]:
    """Consecutive runs: (1, 2, 3, 15, 16) -> [(1, 3), (15, 16)]."""
    out: list[tuple[int, int]] = []
    for d in sorted(days):
        if out and d == out[-1][1] + 1:
            out[-1] = (out[-1][0], d)
        else:
            out.append((d, d))
    return out


def day_list(days: Iterable[int]) -> str:
    """The day list as a regimen file writes it: '1-28', '1,22', '1-4,22-25'."""
    return ",".join(f"{a}" if a == b else f"{a}-{b}" for a, b in runs(days))


def describe_days(days: Iterable[int]) -> str:
    """Readable day list: 'day 2', 'days 2–4', 'days 1–7 and 15–21', 'days 1, 8 and 15'."""
    parts = [f"{a}" if a == b else f"{a}–{b}" for a, b in runs(days)]
    word = "day" if parts and "–" not in parts[0] and len(parts) == 1 else "days"
    if len(parts) == 1:
        return f"{word} {parts[0]}"
    return f"days {', '.join(parts[:-1])} and {parts[-1]}"
