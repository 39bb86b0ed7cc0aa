"""Compact one-line regimen notation, in and out: how clinicians and HemOnc.org write a regimen on one line.

    Etoposide 100 mg/m2 IV d1-3; Cisplatin 80 mg/m2 IV d1; Q21d x 4

The grammar (README, "Compact notation"): items separated by ``;``. A drug item is the drug's name, its dose
(``100 mg/m2``, ``2400 mg/m²``, ``AUC 5``, ``0.1 mg/kg/h``), then in any order a route (``IV``, ``PO``, ``oral``,
``SC``, ``IM``, ``IT``...), a method (``bolus``, ``push``, ``infusion``, ``continuous``; ``CIV`` is IV continuous),
``over 2 h``, doses a day (``BID``, ``TID``, ``QID``, ``6x daily``), ``after ID`` (optionally ``+30 min``),
caps (``max 2 mg``, ``max 2 mg/day``, ``max 2 mg/cycle``), ``round 1 mg``, ``weight=ideal``, ``id=ID``, and its
days: ``d1-3``, ``d1,8,15``, ``d2-4 of cenersen`` (days 2-4 of that drug's days), ``4d before fludarabine for 7d``.
Dose levels are ``levels[-1: 75%, +1: 90 mg/m2/day]``. Supportive care is marked ``supportive:KIND`` (a kind with a
space is written with ``-``: ``supportive:growth-factor``); it comes ``before ID`` (optionally ``-30 min``, the time
it ends before that one starts) or ``after ID`` / ``after last ID``; a fluid's dose is its volume (``Hydration fluid
500 mL``), a drug given in a fluid adds ``in 100 mL``, and ``add[potassium chloride: 10 mEq]`` lists additives. A
name with a digit in it is quoted: ``"Mannitol 20%" 200 mL``.
A variant is ``{if age > 60: d2-4 of cenersen}`` (a rule, then days, a dose or ``over``). A schedule item is
``Q21d x 4`` (cycle length and count; ``Q2w`` is 14 days; ``x 4`` alone is a count), with ``max 1 year`` and
``limit "up to 1 year"``. ``[induction: Name]`` starts a phase. ``age >= 18``, ``age <= 70`` and
``weight=ideal`` alone are the regimen's eligibility and dosing weight.
"""

from __future__ import annotations

import re
from decimal import Decimal
from typing import Any

from regimen.errors import RegimenError
from regimen.model import (
    SUPPORTIVE_KINDS,
)

#: Routes a drug item may name, as regimen files write them (case kept as written).
ROUTES = {
    r.lower(): r
    for r in (
        "IV",
        "PO",
        "oral",
        "SC",
        "subcutaneous",
        "IM",
        "intramuscular",
        "IT",
        "intrathecal",
        "intravesical",
        "topical",
        "intra-arterial",
        "intraperitoneal",
        "inhaled",
        "rectal",
        "sublingual",
        "transdermal",
    )
}
#: Method words: the notation's word -> the regimen file's method.
METHODS = {"bolus": "bolus", "push": "IV push", "infusion": "infusion", "continuous": "continuous infusion"}
WORD_OF_METHOD = {v: k for k, v in METHODS.items()}
_FREQUENCY = {"od": 1, "qd": 1, "daily": 1, "bid": 2, "tid": 3, "qid": 4}
_NUMBER = r"\d+(?:\.\d+)?"
_DOSE = re.compile(rf"^({_NUMBER})\s*([^\s\d].*)?$")
_DAYS = re.compile(r"^d(\d+(?:-\d+)?(?:,\d+(?:-\d+)?)*)$", re.IGNORECASE)
_CYCLE = re.compile(r"^q(\d+)([dw])$", re.IGNORECASE)
_TIMES = re.compile(r"^(\d+)x$", re.IGNORECASE)
_VOLUME = re.compile(rf"^{_NUMBER} (?:mL|ml|L|l)$")
_LEVEL = re.compile(r"^([+-]\d+)\s*:\s*(.+)$")
_PERCENT = re.compile(rf"^({_NUMBER})\s*%$")
#: Bracketed lists within a drug item: dose levels and a fluid's additives.
_LEVELS_EXAMPLE = "levels[-1: 75%, +1: 90 mg/m2/day]"
_ADDITIVES_EXAMPLE = "add[potassium chloride: 10 mEq, magnesium sulfate: 8 mEq]"
_UNIT_WORDS = re.compile(r"^(min|mins|minutes?|h|hr|hrs|hours?|d|days?|weeks?|wk|months?|years?)$", re.IGNORECASE)


class CompactError(RegimenError):
    """A one-line regimen the notation cannot read, naming the token."""


def _items(text: str) -> list[str]:
    """Split at ``;`` outside quotes, braces and brackets."""
    items, depth, square, quote, start = [], 0, 0, False, 0
    for i, ch in enumerate(text):
        if ch == '"':
            quote = not quote
        elif not quote and ch in "{}":
            depth += 1 if ch == "{" else -1
        elif not quote and ch in "[]":
            square += 1 if ch == "[" else -1
        elif not quote and depth == 0 and square == 0 and ch == ";":
            items.append(text[start:i])
            start = i + 1
    if quote:
        raise CompactError(f"unclosed quote in {text.strip()!r}")
    if depth:
        raise CompactError(f"unbalanced braces in {text.strip()!r}")
    if square:
        raise CompactError(f"unbalanced brackets in {text.strip()!r}: a list is written {_LEVELS_EXAMPLE}")
    items.append(text[start:])
    return [i.strip() for i in items if i.strip()]


def _tokens(item: str) -> list[str]:
    """Words of an item; a quoted text, a {variant} and a list (levels[...], add[...]) are one token each; '100mg/m2'
    is split into number and unit."""
    out: list[str] = []
    for m in re.finditer(r'"[^"]*"|\{[^}]*\}|[A-Za-z]+\[[^\]]*\]|[^\s"{]+', item):
        token = m.group(0)
        split = re.match(rf"^({_NUMBER})([A-Za-zµμ%].*)$", token)
        if split and not _TIMES.match(token) and not re.fullmatch(r"\d+d", token, re.IGNORECASE):
            out.extend(split.groups())
        else:
            out.append(token)
    # "d1-7, 15-21": a day list written with spaces is one token
    merged: list[str] = []
    for token in out:
        if merged and re.match(r"^d[\d,-]*,$", merged[-1], re.IGNORECASE) and re.match(r"^[\d,-]+$", token):
            merged[-1] += token
        else:
            merged.append(token)
    return merged


class _Reader:
    """The tokens of one item, read left to right."""

    def __init__(self, item: str) -> None:
        self.item = item
        self.tokens = _tokens(item)
        self.i = 0

    def more(self) -> bool:
        return self.i < len(self.tokens)

    def peek(self, ahead: int = 0) -> str | None:
        j = self.i + ahead
        return self.tokens[j] if j < len(self.tokens) else None

    def take(self) -> str:
        token = self.tokens[self.i]
        self.i += 1
        return token

    def fail(self, token: str | None, expected: str) -> CompactError:
        where = f"token {token!r}" if token is not None else "the end"
        return CompactError(f"cannot read {where} in {self.item!r}: expected {expected}")

    def number(self, what: str) -> str:
        token = self.peek()
        if token is None or not re.fullmatch(_NUMBER, token):
            raise self.fail(token, what)
        return self.take()

    def quantity(self, what: str) -> str:
        """A number and its unit ('30 min', '2 mg/day')."""
        number = self.number(what)
        unit = self.peek()
        if unit is None or re.fullmatch(_NUMBER, unit):
            raise self.fail(unit, f"the unit of {number} ({what})")
        return f"{number} {self.take()}"

    def text(self, what: str) -> str:
        token = self.peek()
        if token is None or not (token.startswith('"') and token.endswith('"') and len(token) >= 2):
            raise self.fail(token, f'{what} in double quotes ("...")')
        return self.take()[1:-1]


def _int(text: str) -> int:
    return int(text)


def _days(reader: _Reader, token: str) -> Any:
    """Days: 'd1-3', 'd1,8,15', 'd2-4 of cenersen', '4d before fludarabine for 7d' (token already taken)."""
    m = _DAYS.match(token)
    if m:
        listed = m.group(1)
        if reader.peek() == "of":
            reader.take()
            anchor = reader.peek()
            if anchor is None or "," in listed:
                raise reader.fail(anchor, "the id of the drug these days follow, after a single run of days")
            reader.take()
            first, _, last = listed.partition("-")
            count = _int(last or first) - _int(first) + 1
            if count < 1:
                raise reader.fail(token, "a run of days that goes forward")
            return {"relative_to": anchor, "on_day": _int(first), "count": count}
        return listed
    m = re.match(r"^(\d+)d$", token, re.IGNORECASE)
    if m and reader.peek() == "before":
        reader.take()
        anchor = reader.peek()
        if anchor is None:
            raise reader.fail(None, "the id of the drug these days come before")
        reader.take()
        count = 1
        if reader.peek() == "for":
            reader.take()
            span = reader.peek()
            found = re.match(r"^(\d+)d$", span or "", re.IGNORECASE)
            if not found:
                raise reader.fail(span, "a number of days such as 7d")
            reader.take()
            count = _int(found.group(1))
        return {"relative_to": anchor, "days_before": _int(m.group(1)), "count": count}
    raise reader.fail(token, "days such as d1-3, d1,8,15 or d2-4 of ID")


def _dose(reader: _Reader, what: str) -> str:
    token = reader.peek()
    if token is not None and token.upper() == "AUC":
        reader.take()
        return f"AUC {reader.number('the target AUC (AUC 5)')}"
    number = reader.number(what)
    unit = reader.peek()
    if unit is None or _DAYS.match(unit) or unit.lower() in ROUTES:
        raise reader.fail(unit, f"the unit of the dose {number} (e.g. mg/m2)")
    return f"{number} {reader.take()}"


def _variant(token: str) -> dict[str, Any]:
    body = token[1:-1].strip()
    m = re.match(r"^if\s+([^:]+):(.*)$", body, re.DOTALL)
    if not m:
        raise CompactError(f"cannot read variant {token!r}: write {{if RULE: CHANGES}}, e.g. {{if age > 60: d2-4}}")
    variant: dict[str, Any] = {"when": " ".join(m.group(1).split())}
    reader = _Reader(m.group(2))
    while reader.more():
        word = reader.take()
        if word == "over":
            variant["duration"] = reader.quantity("a duration such as 2 h")
        elif word == "note":
            variant["note"] = reader.text("the variant's note")
        elif re.fullmatch(_NUMBER, word) or word.upper() == "AUC":
            reader.i -= 1
            variant["dose"] = _dose(reader, "a dose")
        else:
            variant["days"] = _days(reader, word)
    if len(variant) == 1:
        raise CompactError(f"variant {token!r} changes nothing: give days, a dose or 'over' a duration")
    return variant


def _levels(reader: _Reader, token: str) -> dict[str, str]:
    """'levels[-1: 75%, +1: 90 mg/m2/day]' (the token already taken): level -> a percentage or a dose of its own."""
    levels: dict[str, str] = {}
    for part in token[token.index("[") + 1 : -1].split(","):
        m = _LEVEL.match(part.strip())
        if not m:
            raise reader.fail(token, f"dose levels such as {_LEVELS_EXAMPLE} (cannot read {part.strip()!r})")
        level, value = int(m.group(1)), " ".join(m.group(2).split())
        key = f"{level:+d}"
        if level == 0 or key in levels:
            raise reader.fail(token, f"levels other than 0 (the full dose), each once ({key} is not)")
        percent = _PERCENT.match(value)
        if percent:
            levels[key] = f"{percent.group(1)}%"
            continue
        inner = _Reader(value)
        dose = _dose(inner, f"dose level {key}: a percentage (75%) or a dose (90 mg/m2/day)")
        if inner.more():
            raise reader.fail(token, f"one percentage or dose per level ({key}: {value!r} has more)")
        levels[key] = dose
    return levels


def _additives(reader: _Reader, token: str) -> list[dict[str, str]]:
    """'add[potassium chloride: 10 mEq, magnesium sulfate: 8 mEq]' (the token already taken): a fluid's additives."""
    additives = []
    for part in token[token.index("[") + 1 : -1].split(","):
        drug, colon, amount = (" ".join(p.split()) for p in part.partition(":"))
        if not (colon and drug and amount):
            raise reader.fail(token, f"additives such as {_ADDITIVES_EXAMPLE} (cannot read {part.strip()!r})")
        additives.append({"drug": drug, "amount": amount})
    return additives


def _anchor(reader: _Reader, word: str, into: dict[str, Any]) -> None:
    """'after ID +30 min', 'after last ID', 'before ID -30 min' (``word`` already taken) into ``into``."""
    sign = "+" if word == "after" else "-"
    if any(k in into for k in ("after", "after_last", "before")):
        raise reader.fail(word, "one 'after' or 'before' per drug")
    key = word
    following = reader.peek(1)
    if word == "after" and reader.peek() == "last" and following is not None and not following.startswith("+"):
        reader.take()
        key = "after_last"
    anchor = reader.peek()
    if anchor is None:
        raise reader.fail(None, f"the id of the drug this one comes {word}")
    into[key] = reader.take()
    gap = reader.peek()
    if gap is not None and gap.startswith(("+", "-")):
        if gap[0] != sign:
            raise reader.fail(gap, f"the time between written {sign}30 min after '{word} {into[key]}'")
        reader.take()
        reader.tokens[reader.i : reader.i] = _tokens(gap[1:])
        into["gap"] = reader.quantity(f"the time between, e.g. {sign}30 min")


def _supportive_kind(reader: _Reader, token: str) -> str:
    """The kind of 'supportive:KIND' (the token already taken); a space in a kind is written '-'."""
    kind = token.partition(":")[2].replace("-", " ")
    if kind not in SUPPORTIVE_KINDS:
        kinds = ", ".join(k.replace(" ", "-") for k in SUPPORTIVE_KINDS)
        raise reader.fail(token, f"supportive:KIND, KIND one of {kinds}")
    return kind


def _drug_name(reader: _Reader) -> str:
    """The drug's name: quoted, or the words before the dose."""
    quoted = (reader.peek() or "").startswith('"')
    words = [reader.text("the drug's name")] if quoted else []
    while not quoted and reader.more():
        token = reader.peek()
        assert token is not None
        if re.fullmatch(_NUMBER, token) or token.upper() == "AUC":
            break
        words.append(reader.take())
    if not words:
        raise reader.fail(reader.peek(), "a drug name")
    return " ".join(words)


def _how_given(reader: _Reader, token: str, component: dict[str, Any]) -> bool:
    """A word of how and when the drug is given (route, method, duration, doses a day, its anchor) into
    ``component``; False if the token is not one."""
    low = token.lower()
    if low in ROUTES:
        component["route"] = token  # as written: 'PO' stays 'PO'
    elif low == "civ":
        component["route"], component["method"] = "IV", "continuous infusion"
    elif low in METHODS:
        component["method"] = METHODS[low]
    elif low == "over":
        component["duration"] = reader.quantity("a duration such as 2 h")
    elif low in _FREQUENCY:
        component["times_per_day"] = _FREQUENCY[low]
    elif _TIMES.match(token) and reader.peek() == "daily":
        reader.take()
        component["times_per_day"] = _int(token[:-1])
    elif low in ("after", "before"):
        _anchor(reader, low, component)
    elif _DAYS.match(token) or re.match(r"^\d+d$", token, re.IGNORECASE):
        if "days" in component:
            raise reader.fail(token, "one set of days per drug (a variant changes them: {if RULE: d...})")
        component["days"] = _days(reader, token)
    else:
        return False
    return True


def _maximum(reader: _Reader, component: dict[str, Any]) -> None:
    """'max 2 mg', 'max 2 mg/day' or 'max 2 mg/cycle' (after 'max')."""
    number, unit = reader.quantity("a maximum such as 2 mg").split(" ", 1)
    mass, _, per = unit.partition("/")
    key = {"": "max_dose", "day": "max_daily", "cycle": "max_per_cycle"}.get(per)
    if key is None:
        raise reader.fail(unit, "a maximum per dose (2 mg), per day (2 mg/day) or per cycle (2 mg/cycle)")
    component[key] = f"{number} {mass}"


def _what_given(reader: _Reader, token: str, component: dict[str, Any]) -> bool:
    """A word of what is given (supportive care, volume, levels, additives, caps, rounding, weight, id) into
    ``component``; False if the token is not one."""
    low = token.lower()
    if low == "supportive" or low.startswith("supportive:"):
        component["role"], component["kind"] = "supportive", _supportive_kind(reader, token)
    elif low == "in":
        volume = reader.quantity("a volume such as 500 mL")
        if not _VOLUME.match(volume) or "volume" in component:
            raise reader.fail(volume, "one volume in mL or L (in 500 mL)")
        component["volume"] = volume
    elif low.startswith("levels["):
        component["levels"] = _levels(reader, token)
    elif low.startswith("add["):
        component["additives"] = _additives(reader, token)
    elif low == "max":
        _maximum(reader, component)
    elif low == "round":
        component["round"] = reader.quantity("a rounding increment such as 1 mg")
    elif low.startswith("weight="):
        component["dosing_weight"] = token.split("=", 1)[1]
    elif low.startswith("id="):
        component["id"] = token.split("=", 1)[1]
    elif low.startswith("cycles="):
        component["in_cycles"] = token.split("=", 1)[1]  # the cycles it is given in: cycles=1 (a test dose)
    else:
        return False
    return True


def _drug(item: str) -> dict[str, Any]:
    reader = _Reader(item)
    name = _drug_name(reader)
    if not reader.more():
        raise reader.fail(None, f"the dose of {name} (e.g. 100 mg/m2)")
    first = name[:1]
    drug = first.lower() + name[1:] if name[1:] == name[1:].lower() else name
    component: dict[str, Any] = {"drug": drug, "dose": _dose(reader, f"the dose of {name}")}
    if _VOLUME.match(component["dose"]):  # a fluid: its volume is what is given
        component["volume"] = component.pop("dose")
    variants = []
    while reader.more():
        token = reader.take()
        if token.startswith("{"):
            variants.append(_variant(token))
        elif not _how_given(reader, token, component) and not _what_given(reader, token, component):
            raise reader.fail(
                token, "a route (IV, PO, SC...), a method, 'over', BID/TID, 'after', 'max', days (d1-3) or {if ...}"
            )
    if "days" not in component:
        raise reader.fail(None, f"the days of {name} (e.g. d1 or d1-3)")
    if ("volume" in component or "additives" in component) and "role" not in component:
        raise CompactError(
            f"{name}: a volume and additives are for supportive care; mark it supportive:KIND (supportive:hydration)"
        )
    if variants:
        component["variant"] = variants
    ordered = {k: component[k] for k in ("id",) if k in component}
    ordered.update({k: v for k, v in component.items() if k != "id"})
    return ordered


def _schedule(item: str, into: dict[str, Any]) -> bool:
    """A schedule item ('Q21d x 4', 'x 6', 'max 1 year', 'limit "..."') into ``into``; False if it is not one."""
    reader = _Reader(item)
    first = reader.peek() or ""
    if not (_CYCLE.match(first) or first.lower() in ("x", "max", "limit") or re.fullmatch(r"x\d+", first, re.I)):
        return False
    while reader.more():
        token = reader.take()
        cycle = _CYCLE.match(token)
        if cycle:
            into["cycle_length"] = _int(cycle.group(1)) * (7 if cycle.group(2).lower() == "w" else 1)
        elif token.lower() == "x":
            into["cycles"] = _int(reader.number("a number of cycles"))
        elif re.fullmatch(r"x\d+", token, re.IGNORECASE):
            into["cycles"] = _int(token[1:])
        elif token.lower() == "max":
            into["max_duration"] = reader.quantity("a longest duration such as 1 year")
        elif token.lower() == "limit":
            into["limit"] = reader.text("the limit in words")
        else:
            raise reader.fail(token, 'Q21d (cycle length), x 4 (cycles), max 1 year or limit "..."')
    return True


def _regimen_item(item: str, into: dict[str, Any]) -> bool:
    """'age >= 18', 'age <= 70', 'weight=ideal': the regimen's own fields."""
    m = re.fullmatch(rf"age\s*(>=|<=)\s*({_NUMBER})", item, re.IGNORECASE)
    if m:
        key = "min_age" if m.group(1) == ">=" else "max_age"
        value = Decimal(m.group(2))
        into.setdefault("eligibility", {})[key] = int(value) if value == value.to_integral_value() else float(value)
        return True
    m = re.fullmatch(r"weight=(\S+)", item, re.IGNORECASE)
    if m:
        into["dosing_weight"] = m.group(1)
        return True
    return False


def parse(
    text: str, *, regimen_id: str | None = None, name: str | None = None, citation: str | None = None
) -> dict[str, Any]:
    """The fields of a regimen file from one line of compact notation (raises :class:`CompactError`, naming the token
    it cannot read). ``regimen_id``, ``name`` and ``citation`` default to ones made from the line itself."""
    line = " ".join(text.split())
    if not line:
        raise CompactError(
            "the regimen is empty: write e.g. 'Etoposide 100 mg/m2 IV d1-3; Cisplatin 80 mg/m2 IV d1; Q21d x 4'"
        )
    top: dict[str, Any] = {}
    phases: list[dict[str, Any]] = []
    current: dict[str, Any] = top
    for item in _items(line):
        header = re.match(r"^\[([^\]:]+)(?::([^\]]*))?\]\s*(.*)$", item)
        if header:
            phase: dict[str, Any] = {"id": header.group(1).strip()}
            if header.group(2) and header.group(2).strip():
                phase["name"] = header.group(2).strip()
            phases.append(phase)
            current = phase
            item = header.group(3).strip()
            if not item:
                continue
        if _schedule(item, current) or _regimen_item(item, top):
            continue
        current.setdefault("component", []).append(_drug(item))
    if phases and "component" in top:
        raise CompactError("drugs before the first [phase]: start with [ID: name] or give no phases at all")
    for phase in phases:
        if "component" not in phase:
            raise CompactError(f"phase [{phase['id']}] has no drugs")
    drugs = [c["drug"] for p in (phases or [top]) for c in p.get("component", [])]
    if not drugs:
        raise CompactError(f"no drug in {line!r}: a drug item is a name, a dose and days (Cisplatin 80 mg/m2 IV d1)")
    made_id = re.sub(r"[^a-z0-9]+", "-", "-".join(dict.fromkeys(d.lower() for d in drugs))).strip("-")[:64].strip("-")
    data: dict[str, Any] = {
        "id": regimen_id or made_id,
        "name": name or line,
        "source": [
            {
                "citation": citation or f"Compact notation: {line}",
                **({} if citation else {"note": "Replace with the published protocol this line was taken from."}),
            }
        ],
    }
    data.update({k: v for k, v in top.items() if k != "component"})
    if phases:
        data["phase"] = phases
    else:
        data["component"] = top["component"]
    return data


__all__ = ["METHODS", "ROUTES", "WORD_OF_METHOD", "CompactError", "parse"]
