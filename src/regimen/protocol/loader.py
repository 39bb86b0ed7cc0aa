"""Regimen files (TOML) -> :class:`~regimen.model.Regimen`, reporting every problem with its place.

The loader never stops at the first problem: it collects them all (file, component, field and
what to do) and raises one :class:`~regimen.errors.RegimenFileError` carrying the list, so
``regimen validate`` can print them all. Every table is read by its field table
(:mod:`regimen.protocol.fields`), the same tables the JSON Schema is printed from: components and phases in
:mod:`regimen.protocol.components`, the rest of the protocol in :mod:`regimen.protocol.care`.
"""

from __future__ import annotations

import functools
import tomllib
from functools import partial
from pathlib import Path
from typing import Any

from regimen.errors import Problem, RegimenError, RegimenFileError
from regimen.model import Phase, Regimen
from regimen.protocol.care import protocol, sources
from regimen.protocol.collect import Collector, place, read_fields
from regimen.protocol.components import phase
from regimen.protocol.fields import PHASE, TOP
from regimen.protocol.values import ID_PATTERN, amount, percent
from regimen.quantities.limits import MAX_FILE_BYTES, MAX_INTEGER, MAX_ITEMS, MAX_NESTING, MAX_TEXT, control_characters

#: The texts of at most this many regimens are kept parsed (:func:`load_text`), each of at most ``_KEPT_BYTES``
#: characters (a bundled file is 4-17 KB): at most about 8 MB, whatever a process reads.
_KEPT = 128
_KEPT_BYTES = 64_000


def load_text(text: str, file: str = "<string>") -> Regimen:
    """Parse regimen TOML text; raise :class:`RegimenFileError` listing every problem.

    The limits of :mod:`regimen.quantities.limits` are checked before and right after parsing: the size of the
    text, the nesting of tables and arrays, the length of texts and arrays, finite numbers of a sane size, no
    control characters.

    The same text of the same file gives the same regimen, so a process that reads it again (a course's records hold
    the text they were started with; a test suite loads the bundled files a thousand times) gets the regimen parsed
    the first time: the result depends on nothing but the two arguments, and a :class:`Regimen` is frozen. A file
    edited since is a new text, parsed anew; a text that fails is parsed (and fails) each time."""
    if len(text) <= _KEPT_BYTES:
        return _kept(text, file)
    return _parse(text, file)


@functools.lru_cache(maxsize=_KEPT)
def _kept(text: str, file: str) -> Regimen:
    return _parse(text, file)


def _parse(text: str, file: str) -> Regimen:
    if text.startswith("\ufeff"):  # a byte-order mark, as Windows editors write UTF-8: not part of the TOML
        text = text[1:]
    if len(text.encode("utf-8", errors="replace")) > MAX_FILE_BYTES:
        raise RegimenFileError(
            [Problem(file, "", f"the file is larger than {MAX_FILE_BYTES:,} bytes; a regimen file is a few KB")]
        )
    depth = _bracket_depth(text)
    if depth > MAX_NESTING:
        raise RegimenFileError(
            [Problem(file, "", f"tables and arrays are nested {depth} deep; at most {MAX_NESTING} are read")]
        )
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise RegimenFileError([Problem(file, "", f"not valid TOML ({exc}); check quotes and brackets")]) from None
    except RecursionError:  # the bracket count above comes first; this is the backstop
        raise RegimenFileError([Problem(file, "", f"nested too deeply; at most {MAX_NESTING} levels")]) from None
    return load_data(data, file)


def _bracket_depth(text: str) -> int:
    """The deepest nesting of [ and { outside strings and comments: a cheap bound checked before the TOML parser
    (which recurses, and would fail deep inside with a RecursionError)."""
    depth = deepest = 0
    quote: str | None = None
    i, n = 0, len(text)
    while i < n:
        ch = text[i]
        if quote is not None:
            if ch == "\\" and quote == '"':
                i += 2
                continue
            if text.startswith(quote, i):
                i += len(quote)
                quote = None
                continue
        elif ch == "#":
            end = text.find("\n", i)
            i = n if end < 0 else end
            continue
        elif text.startswith('"""', i) or text.startswith("'''", i):
            quote = text[i : i + 3]
            i += 3
            continue
        elif ch in "\"'":
            quote = ch
        elif ch in "[{":
            depth += 1
            deepest = max(deepest, depth)
        elif ch in "]}":
            depth = max(0, depth - 1)
        i += 1
    return deepest


def _document_limits(data: object, where: str = "", level: int = 0) -> list[tuple[str, str]]:
    """Every value of the parsed file within the limits: texts, arrays, numbers and nesting."""
    out: list[tuple[str, str]] = []
    if level > MAX_NESTING:
        return [(where, f"nested more than {MAX_NESTING} deep")]
    if isinstance(data, dict):
        if len(data) > MAX_ITEMS:
            out.append((where, f"{len(data):,} fields; at most {MAX_ITEMS:,} are read"))
        for key, value in data.items():
            out += _document_limits(value, f"{where}.{key}" if where else str(key), level + 1)
    elif isinstance(data, list):
        if len(data) > MAX_ITEMS:
            out.append((where, f"{len(data):,} items; at most {MAX_ITEMS:,} are read"))
        for i, value in enumerate(data[:MAX_ITEMS]):
            out += _document_limits(value, f"{where}[{i}]", level + 1)
    elif isinstance(data, str):
        if len(data) > MAX_TEXT:
            out.append((where, f"text of {len(data):,} characters; at most {MAX_TEXT:,} are read"))
        bad = control_characters(data)
        if bad:
            out.append(
                (where, f"contains the control character U+{ord(bad[0]):04X}; remove it (only line breaks and tabs)")
            )
    elif isinstance(data, float) and (data != data or data in (float("inf"), float("-inf"))):
        out.append((where, f"{data} is not a finite number"))
    elif isinstance(data, (int, float)) and not isinstance(data, bool) and abs(data) > MAX_INTEGER:
        shown = f"{data:.6g}" if isinstance(data, float) else f"a number of {len(str(abs(data)))} digits"
        out.append((where, f"{shown} is out of range (at most {MAX_INTEGER:,})"))
    return out


def _phases(c: Collector, data: dict[str, Any], top: dict[str, Any]) -> list[Phase]:
    """The ``[[phase]]`` tables, or the file's top level as the one phase of a regimen without phases."""
    phases: list[Phase] = []
    if "phase" not in data:
        if "component" not in data:
            c.add(place(field="component"), "missing: add at least one [[component]] table")
            return phases
        found = phase(c, data, top, "main", None)
        return [found] if found is not None else phases
    for key in ("component", "cycle_length", "cycles", "limit", "max_duration"):
        if key in data:
            c.add(place(field=key), f"{key} belongs inside each [[phase]] when a regimen has phases")
    raw_phases = data["phase"]
    if not isinstance(raw_phases, list) or not raw_phases:
        c.add(place(field="phase"), "phases must be [[phase]] tables")
        raw_phases = []
    for i, raw in enumerate(raw_phases, 1):
        if not isinstance(raw, dict):
            c.add(place(field="phase"), f"phase {i} must be a table")
            continue
        label = str(raw["id"]) if isinstance(raw.get("id"), str) else f"#{i}"
        read = read_fields(c, PHASE, raw, partial(place, None, phase=label), missing=False)
        if "id" not in raw:
            c.add(place(phase=label, field="id"), "missing: every phase needs an id")
        elif not ID_PATTERN.match(label):
            c.add(place(phase=label, field="id"), "phase id must be lower-case letters, digits and '-'")
        found = phase(c, raw, read, label, label)
        if found is not None:
            phases.append(found)
    if len({p.id for p in phases}) != len(phases):
        c.add(place(field="phase"), "duplicate phase ids")
    return phases


def load_data(data: dict[str, Any], file: str = "<data>") -> Regimen:
    """A regimen from parsed TOML (or any mapping a program builds), within the limits of
    :mod:`regimen.quantities.limits` and validated field by field."""
    problems = [Problem(file, where, message) for where, message in _document_limits(data)]
    if problems:
        raise RegimenFileError(problems[:20])
    c = Collector(file)
    top = read_fields(c, TOP, data, lambda f: place(field=f))
    found_sources = sources(c, data.get("source", []))
    phases = _phases(c, data, top)
    care = protocol(c, data, phases)
    if c.problems or top.get("id") is None or top.get("name") is None:
        raise RegimenFileError(c.problems or [Problem(file, "", "invalid regimen")])
    return Regimen(
        id=top["id"],
        name=top["name"],
        phases=tuple(phases),
        sources=tuple(found_sources),
        indication=top.get("indication"),
        status=top.get("status"),
        version=top.get("version"),
        notes=top.get("notes") or (),
        path=None if file.startswith("<") else file,
        dosing_weight=top.get("dosing_weight"),
        eligibility=top.get("eligibility"),
        **care,
    )


def load_file(path: str | Path) -> Regimen:
    """Load one regimen file. Problems name the file, the component and the field."""
    p = Path(path)
    try:
        if p.is_file() and p.stat().st_size > MAX_FILE_BYTES:
            raise RegimenFileError(
                [Problem(str(p), "", f"the file is larger than {MAX_FILE_BYTES:,} bytes; a regimen file is a few KB")]
            )
        text = p.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise RegimenError(f"{p}: no such file; check the path") from None
    except IsADirectoryError:
        raise RegimenError(f"{p}: is a folder, not a regimen file; name a .toml file") from None
    except UnicodeDecodeError:
        raise RegimenFileError([Problem(str(p), "", "not UTF-8 text; save the file as UTF-8")]) from None
    except OSError as exc:
        raise RegimenError(f"{p}: cannot read ({exc.strerror})") from None
    return load_text(text, str(p))


__all__ = ["amount", "load_data", "load_file", "load_text", "percent"]
