"""The plan as a timeline chart (issue 13): one lane per drug, continuous infusions as bars over their hours, bolus and
short infusions as marks with their dose, cycle boundaries and dates. SVG (text kept as text), PNG or PDF.

Readable without colour: every lane has its own marker shape, infusion bars are hatched and outlined, each mark
carries its dose in words, and a mark that applies only to one outcome of an undecided rule is hollow; the colours
(Okabe-Ito, distinguishable with the common colour-vision deficiencies) only add to that. matplotlib's object API
is used without pyplot, so charts can be drawn from several threads at once.

Labels never overlap, so every dose shown can be read: a run of marks of the same dose in one cycle (capecitabine
twice a day for 14 days) that has no room for a label at each mark gets one, "1,800 mg × 28", over the run; labels
that would touch their neighbours in a lane alternate above and below it; date labels that would touch a cycle's are
left out (the cycle's line carries its date).
"""

from __future__ import annotations

import datetime as dt
import io
import itertools
from dataclasses import dataclass
from fractions import Fraction
from typing import Any

from regimen.engine.plan import Plan, drugs_of_several_components
from regimen.engine.preparations import infusion_key
from regimen.model import Administration
from regimen.quantities.clock import tzinfo_for
from regimen.quantities.exact import amount_text

FORMATS = ("svg", "png", "pdf")
#: Okabe & Ito (2008), a palette for readers with colour-vision deficiencies
PALETTE = ("#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#D55E00", "#F0E442", "#000000")
MARKERS = ("o", "s", "^", "D", "v", "P", "X", "*")
HATCHES = ("////", "\\\\\\\\", "xxxx", "....", "----", "||||", "++++", "oooo")
LABEL_PT = 7  # font size of the dose labels
#: behind a label: white, so the cycle lines and grid never cross its text
_CLEAR = {"facecolor": "white", "edgecolor": "none", "pad": 0.6}
CHAR_EM = 0.62  # width of a character in em (DejaVu Sans, with a margin: a label is never narrower than this says)


def lane_name(r: Administration, shared: set[str]) -> str:
    return f"{r.drug} ({r.component})" if r.drug in shared else r.drug


def _x(plan: Plan, r: Administration, instant: dt.datetime | None) -> float:
    """Days from the start of day 1 (local midnight): the course day, plus the time of day when the plan has one."""
    if instant is not None and plan.start is not None:
        local = instant.astimezone(tzinfo_for(plan.tz)).replace(tzinfo=None)
        return (local - dt.datetime.combine(plan.start, dt.time())).total_seconds() / 86400
    return float(r.course_day - 1) + 0.5


@dataclass
class _Label:
    x: float  # the centre, in days
    text: str
    width: float  # in days


class _Scale:
    """Widths of text in days of the x axis, from the figure's size (estimated before it is drawn)."""

    def __init__(self, fig_width: float, lanes: list[str], span: float) -> None:
        left = 0.35 + max((len(s) for s in lanes), default=4) * CHAR_EM * 10 / 72  # the lanes' names, 10 pt
        self.days_per_inch = span / max(fig_width - left - 0.3, 1.0)

    def width(self, text: str, points: float = LABEL_PT) -> float:
        longest = max(len(line) for line in text.split("\n"))
        return (longest * CHAR_EM * points / 72 + 0.12) * self.days_per_inch  # 0.12 in: the gap to a neighbour


def _runs(marks: list[tuple[float, Administration]], scale: _Scale) -> list[_Label]:
    """One label per mark when each has room, else one per run of the same dose in one cycle ('1,800 mg × 28'). The
    marks of each outcome of a value not given are labelled apart ('1,350 mg × 28 (if sex female)'): interleaved on
    the same days, labelled mark by mark, their labels ran into each other ('1,801,350')."""
    labels: list[_Label] = []
    run: list[tuple[float, Administration, str]] = []

    def flush() -> None:
        if not run:
            return
        text, condition = run[0][2], run[0][1].condition
        tail = f" (if {condition})" if condition else ""
        width = scale.width(text + tail)
        gaps = [b[0] - a[0] for a, b in itertools.pairwise(run)]
        if len(run) == 1 or min(gaps) >= width:
            labels.extend(_Label(x, t + tail, width) for x, _, t in run)
        else:
            many = f"{text} × {len(run)}{tail}"
            labels.append(_Label((run[0][0] + run[-1][0]) / 2, many, scale.width(many)))
        run.clear()

    for condition in dict.fromkeys(r.condition for _, r in marks):
        for x, r in marks:
            if r.condition != condition:
                continue
            text = r.dose_text
            if run and (run[-1][2] != text or run[-1][1].cycle != r.cycle or run[-1][1].phase != r.phase):
                flush()
            run.append((x, r, text))
        flush()
    # the outcomes' labels of the same marks (the same days) as one label of a line each: side by side they would
    # need more rows than a lane has
    merged: dict[float, _Label] = {}
    for label in labels:
        held = merged.get(label.x)
        merged[label.x] = (
            label
            if held is None
            else _Label(label.x, f"{held.text}\n{label.text}", scale.width(f"{held.text}\n{label.text}"))
        )
    return list(merged.values())


def _rows(labels: list[_Label]) -> list[int]:
    """Each label's row, 0 (above the lane) or 1 (below it): the first row with room, else the one freest."""
    ends = [float("-inf"), float("-inf")]
    out = []
    for label in sorted(labels, key=lambda lb: lb.x):
        left = label.x - label.width / 2
        row = 0 if left >= ends[0] else 1 if left >= ends[1] else min((0, 1), key=lambda k: ends[k])
        ends[row] = label.x + label.width / 2
        out.append(row)
    return out


def timeline(plan: Plan) -> Any:
    """The chart as a matplotlib Figure."""
    from matplotlib.figure import Figure  # lazy: matplotlib only for charts

    rows = list(plan.administrations)
    shared = drugs_of_several_components(rows)
    lanes = list(dict.fromkeys(lane_name(r, shared) for r in rows))
    last = max((r.course_day for r in rows), default=1)
    width = min(18.0, max(8.0, 2.5 + last * 0.18))
    fig = Figure(figsize=(width, 1.5 + 0.8 * len(lanes)), layout="constrained")
    ax = fig.add_subplot()
    ax.set_ylim(-0.75, len(lanes) - 0.25)
    ax.set_yticks(range(len(lanes)), lanes)
    ax.invert_yaxis()
    scale = _Scale(width, lanes, last + 1.0)
    infusions: dict[tuple[Any, ...], list[Administration]] = {}
    for r in rows:
        key = infusion_key(r)  # one bar per pump (per branch, when a rule's value is not given)
        if key is not None:
            infusions.setdefault(key, []).append(r)
    for i, lane in enumerate(lanes):
        colour, marker, hatch = PALETTE[i % len(PALETTE)], MARKERS[i % len(MARKERS)], HATCHES[i % len(HATCHES)]
        bar_labels: list[tuple[_Label, str]] = []
        for group in infusions.values():
            first = group[0]
            if lane_name(first, shared) != lane:
                continue
            start = _x(plan, first, first.start) if first.start is not None else float(first.course_day - 1)
            hours = first.infusion.hours if first.infusion is not None else Fraction(24 * len(group))
            bar = ax.broken_barh(
                [(start, float(hours) / 24)],
                (i - 0.22, 0.44),
                facecolors=colour,
                alpha=0.85,
                edgecolor="black",
                hatch=hatch,
                linewidth=1,
            )
            gid = f"{first.phase}-{first.component}-c{first.cycle}-d{first.day}"
            bar.set_gid(f"infusion-{gid}")
            total = sum((r.dose for r in group), Fraction(0))
            text = f"{amount_text(total, first.dose_unit, first.rounding)} over {float(hours):g} h"
            if first.condition:
                text += f" (if {first.condition})"
            bar_labels.append((_Label(start + float(hours) / 48, text, scale.width(text)), gid))
        for (label, gid), row in zip(bar_labels, _rows([b[0] for b in bar_labels]), strict=True):
            above = row == 0
            t = ax.text(label.x, i - 0.26 if above else i + 0.26, label.text, ha="center",
                        va="bottom" if above else "top", fontsize=LABEL_PT, bbox=_CLEAR)  # fmt: skip
            t.set_gid(f"label-{gid}")
        marks = sorted(
            ((_x(plan, r, r.start), r) for r in rows if r.infusion is None and lane_name(r, shared) == lane),
            key=lambda m: m[0],
        )
        if marks:
            points = ax.scatter(
                [x for x, _ in marks],
                [i] * len(marks),
                marker=marker,
                s=60,
                c=["white" if r.condition else colour for _, r in marks],  # hollow: only if (its label says so)
                edgecolors="black",
                linewidths=1,
                zorder=3,
            )
            points.set_gid(f"marks-{marks[0][1].component}")
            labels = _runs(marks, scale)
            for label, row in zip(labels, _rows(labels), strict=True):
                above = row == 0
                ax.annotate(label.text, (label.x, i), xytext=(0, 8 if above else -8), textcoords="offset points",
                            ha="center", va="bottom" if above else "top", fontsize=LABEL_PT, bbox=_CLEAR)  # fmt: skip
    _axis(ax, plan, rows, last, scale)
    ax.set_title(f"{plan.regimen.name} ({plan.regimen.id}): timeline", fontsize=10)
    return fig


def _axis(ax: Any, plan: Plan, rows: list[Administration], last: int, scale: _Scale) -> None:
    """Cycle lines with their names and dates; each treatment day's date where it has room."""
    starts: dict[tuple[str, int], int] = {}
    for r in rows:
        key = (r.phase, r.cycle)
        first_day = r.course_day - r.day + 1
        starts[key] = min(starts.get(key, first_day), first_day)
    ticks, labels, right = [], [], float("-inf")
    for (phase, cycle), day in sorted(starts.items(), key=lambda kv: kv[1]):
        x = float(day - 1)
        ax.axvline(x, color="black", linestyle="--", linewidth=0.8)
        name = f"C{cycle}" if phase == "main" else f"{phase} C{cycle}"
        date = plan.start + dt.timedelta(days=day - 1) if plan.start is not None else None
        text = f"{name}\n{date.strftime('%d %b %Y') if date else f'day {day}'}"
        half = scale.width(text, 8) / 2
        if x - half >= right:  # a cycle too close to the last one labelled keeps its line, not its label
            ticks.append(x)
            labels.append(text)
            right = x + half
    ax.set_xticks(ticks, labels, fontsize=8)
    treatment_days = sorted({r.course_day for r in rows})
    if plan.start is not None and len(treatment_days) <= 60:  # each treatment day's date under the axis
        spans = [(x, scale.width(lb, 8) / 2) for x, lb in zip(ticks, labels, strict=True)]
        minor, right = [], float("-inf")
        for d in treatment_days:
            x = float(d - 1) + 0.5
            half = scale.width("00 Mon", 7) / 2
            if x - half >= right and all(abs(x - cx) >= half + h for cx, h in spans):
                minor.append(x)
                right = x + half
        ax.set_xticks(minor, minor=True)
        ax.set_xticklabels(
            [(plan.start + dt.timedelta(days=int(x))).strftime("%d %b") for x in minor], minor=True, fontsize=7
        )
    ax.set_xlim(-0.5, last + 0.5)
    ax.grid(axis="x", color="#bbbbbb", linewidth=0.4)
    ax.set_xlabel("days from day 1" + (f" ({plan.start.isoformat()})" if plan.start else ""))


def chart_bytes(plan: Plan, fmt: str = "svg") -> bytes:
    """The chart as SVG (text as text), PNG (150 dpi) or PDF."""
    if fmt not in FORMATS:
        raise ValueError(f"chart format {fmt!r}: one of {', '.join(FORMATS)}")
    return figure_bytes(timeline(plan), fmt)


def figure_bytes(fig: Any, fmt: str) -> bytes:
    """A :func:`timeline` figure as :func:`chart_bytes` writes it (apart, so a test can look at the figure it wrote)."""
    import matplotlib  # lazy: matplotlib only for charts

    out = io.BytesIO()
    with matplotlib.rc_context({"svg.fonttype": "none", "svg.hashsalt": "regimen", "pdf.fonttype": 42}):
        metadata: dict[str, Any] = {"svg": {"Date": None}, "pdf": {"CreationDate": None}, "png": {}}[fmt]
        fig.savefig(out, format=fmt, dpi=150, metadata=metadata)
    return out.getvalue()


__all__ = ["FORMATS", "chart_bytes", "figure_bytes", "lane_name", "timeline"]
