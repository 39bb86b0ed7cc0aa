"""JSON as the exports write it: indented by two spaces, text as UTF-8 (not escaped to ASCII), keys in the order made,
one newline at the end.

orjson writes it. The standard library's encoder is in C only when it does not indent; asked to indent, it runs in
Python, a call per value: a course's view (about 100 KB, cached with each change of the course) took 14 ms to write,
a quarter of the CPU time of recording a change, and a plan of R-CHOP-21 as JSON 3 ms. orjson writes the same text in
about a fifteenth of that (measured over every bundled plan: 159 ms against 12 ms).

The two give the same text for what the records hold: text, whole numbers, booleans, null, lists and mappings keyed by
text, and floating-point numbers (a dose's or a rate's number beside its exact text) from 0.0001 up. Below 0.0001 the
standard library writes ``1e-05`` where orjson writes ``0.00001``: the same number, which any JSON reader reads
alike. Not a number and the infinities, which the records cannot hold (their numbers are floats of exact fractions,
finite or an OverflowError), orjson writes as null where the standard library wrote ``NaN``, which is not JSON. Tests
hold orjson's text to the standard library's for every bundled plan, a course, a worklist and drawn
values (tests/test_jsontext.py). Where orjson refuses a value (a key that is not text, a whole number beyond 64 bits,
text holding a lone surrogate), the standard library writes it, as it did before orjson was used: the same text, or
the same error.
"""

from __future__ import annotations

import json
from typing import Any


def indented_json(value: Any) -> str:
    """``value`` as indented JSON text ending in a newline (``json.dumps(value, indent=2, ensure_ascii=False)`` and
    ``"\\n"``)."""
    import orjson  # here, not at the top: the plan's text and CSV outputs do not pay its import at start-up

    try:
        return orjson.dumps(value, option=orjson.OPT_INDENT_2 | orjson.OPT_APPEND_NEWLINE).decode()
    except orjson.JSONEncodeError:  # what orjson does not take: the standard library's text, or its error
        return json.dumps(value, indent=2, ensure_ascii=False) + "\n"


__all__ = ["indented_json"]
