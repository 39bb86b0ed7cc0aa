"""The plan as a timeline chart (issue 13): one lane per drug, continuous infusions as bars over their hours, bolus and
short infusions as marks with their dose, cycle boundaries and dates. SVG (text kept as text), PNG or PDF.

Readable without colour: every lane has its own marker shape, infusion bars are hatched and outlined, and each mark
carries its dose in words; the colours (Okabe-Ito, distinguishable with the common colour-vision deficiencies) only
add to that. matplotlib's object API is used without pyplot, so charts can be drawn from several threads at once.
"""

from __future__ import annotations

import datetime as dt
import io
from fractions import Fraction
from typing import Any

from regimen.engine.plan import Plan, drugs_of_several_components
from regimen.model import Administration
from regimen.quantities.clock import tzinfo_for
from regimen.quantities.exact import amount_text

FORMATS = ("svg", "png", "pdf")
#: Okabe & Ito (2008), a palette for readers with colour-vision deficiencies
PALETTE = ("#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#D55E00", "#F0E442", "#000000")
MARKERS = ("o", "s", "^", "D", "v", "P", "X", "*")
HATCHES = ("////", "\\\\\\\\", "xxxx", "....", "----", "||||", "++++", "oooo")


def lane_name(r: Administration, shared: set[str]) -> str:
    return f"{r.drug} ({r.component})" if r.drug in shared else r.drug


def _x(plan: Plan, r: Administration, instant: dt.datetime | None) -> float:
    """Days from the start of day 1 (local midnight): the course day, plus the time of day when the plan has one."""
    if instant is not None and plan.start is not None:
        local = instant.astimezone(tzinfo_for(plan.tz)).replace(tzinfo=None)
        return (local - dt.datetime.combine(plan.start, dt.time())).total_seconds() / 86400
    return float(r.course_day - 1) + 0.5


def _dose(r: Administration, total: Fraction | None = None) -> str:
    return amount_text(total, r.dose_unit, r.rounding) if total is not None else r.dose_text


def timeline(plan: Plan) -> Any:
    """The chart as a matplotlib Figure."""
    from matplotlib.figure import Figure  # lazy: matplotlib only for charts

    rows = list(plan.administrations)
    shared = drugs_of_several_components(rows)
    lanes = list(dict.fromkeys(lane_name(r, shared) for r in rows))
    last = max((r.course_day for r in rows), default=1)
    width = min(18.0, max(8.0, 2.5 + last * 0.18))
    fig = Figure(figsize=(width, 1.4 + 0.7 * len(lanes)), layout="constrained")
    ax = fig.add_subplot()
    ax.set_ylim(-0.7, len(lanes) - 0.3)
    ax.set_yticks(range(len(lanes)), lanes)
    ax.invert_yaxis()
    infusions: dict[tuple[Any, ...], list[Administration]] = {}
    for r in rows:
        if r.infusion is not None:
            infusions.setdefault((r.phase, r.cycle, r.component, r.infusion.start_course_day), []).append(r)
    for i, lane in enumerate(lanes):
        colour, marker, hatch = PALETTE[i % len(PALETTE)], MARKERS[i % len(MARKERS)], HATCHES[i % len(HATCHES)]
        for group in infusions.values():
            first = group[0]
            if lane_name(first, shared) != lane:
                continue
            start = _x(plan, first, first.start) if first.start is not None else float(first.course_day - 1)
            hours = first.infusion.hours if first.infusion is not None else Fraction(24 * len(group))
            bar = ax.broken_barh(
                [(start, float(hours) / 24)],
                (i - 0.28, 0.56),
                facecolors=colour,
                alpha=0.85,
                edgecolor="black",
                hatch=hatch,
                linewidth=1,
            )
            bar.set_gid(f"infusion-{first.phase}-{first.component}-c{first.cycle}-d{first.day}")
            total = sum((r.dose for r in group), Fraction(0))
            rate = f", {first.rate_text}" if first.rate_text else ""
            label = ax.text(
                start + float(hours) / 48,
                i - 0.34,
                f"{_dose(first, total)}{rate} over {float(hours):g} h",
                ha="center",
                va="bottom",
                fontsize=8,
            )
            label.set_gid(f"label-{first.phase}-{first.component}-c{first.cycle}-d{first.day}")
        marks = [r for r in rows if r.infusion is None and lane_name(r, shared) == lane]
        if marks:
            xs = [_x(plan, r, r.start) for r in marks]
            points = ax.scatter(
                xs, [i] * len(marks), marker=marker, s=60, c=colour, edgecolors="black", linewidths=1, zorder=3
            )
            points.set_gid(f"marks-{marks[0].component}")
            for x, r in zip(xs, marks, strict=True):
                note = " (if " + r.condition + ")" if r.condition else ""
                ax.annotate(
                    f"{r.dose_text}{note}", (x, i), xytext=(0, 9), textcoords="offset points", ha="center", fontsize=7
                )
    starts: dict[tuple[str, int], int] = {}
    for r in rows:
        key = (r.phase, r.cycle)
        first_day = r.course_day - r.day + 1
        starts[key] = min(starts.get(key, first_day), first_day)
    ticks, labels = [], []
    for (phase, cycle), day in starts.items():
        x = float(day - 1)
        ax.axvline(x, color="black", linestyle="--", linewidth=0.8)
        name = f"C{cycle}" if phase == "main" else f"{phase} C{cycle}"
        date = plan.start + dt.timedelta(days=day - 1) if plan.start is not None else None
        ticks.append(x)
        labels.append(f"{name}\n{date.strftime('%d %b %Y') if date else f'day {day}'}")
    ax.set_xticks(ticks, labels, fontsize=8)
    treatment_days = sorted({r.course_day for r in rows})
    if len(treatment_days) <= 40:  # each treatment day's date under the axis (cycle starts are labelled above)
        minor = [float(d - 1) + 0.5 for d in treatment_days if float(d - 1) not in ticks]
        ax.set_xticks(minor, minor=True)
        if plan.start is not None:
            ax.set_xticklabels(
                [(plan.start + dt.timedelta(days=int(x))).strftime("%d %b") for x in minor], minor=True, fontsize=7
            )
    ax.set_xlim(-0.5, last + 0.5)
    ax.grid(axis="x", color="#bbbbbb", linewidth=0.4)
    unit = "days from day 1" + (f" ({plan.start.isoformat()})" if plan.start else "")
    ax.set_xlabel(unit)
    ax.set_title(f"{plan.regimen.name} ({plan.regimen.id}): timeline", fontsize=10)
    return fig


def chart_bytes(plan: Plan, fmt: str = "svg") -> bytes:
    """The chart as SVG (text as text), PNG (150 dpi) or PDF."""
    if fmt not in FORMATS:
        raise ValueError(f"chart format {fmt!r}: one of {', '.join(FORMATS)}")
    import matplotlib  # lazy: matplotlib only for charts

    fig = timeline(plan)
    out = io.BytesIO()
    with matplotlib.rc_context({"svg.fonttype": "none", "svg.hashsalt": "regimen", "pdf.fonttype": 42}):
        metadata: dict[str, Any] = {"svg": {"Date": None}, "pdf": {"CreationDate": None}, "png": {}}[fmt]
        fig.savefig(out, format=fmt, dpi=150, metadata=metadata)
    return out.getvalue()


__all__ = ["FORMATS", "chart_bytes", "timeline"]
