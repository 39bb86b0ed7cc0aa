"""A printable patient handout (issue 13): a month grid per month of treatment listing each day's drugs, doses and
times, the regimen and its source, a space for the care team's contacts, and the research-use notice.

HTML with its own print stylesheet (one month per page, A4 or US Letter); a PDF of it is made by WeasyPrint, a
well-kept HTML/CSS-to-PDF library that needs no browser.
"""

from __future__ import annotations

import calendar
import datetime as dt
from html import escape

from regimen.engine.plan import Plan
from regimen.errors import RegimenError, option
from regimen.export.table import DISCLAIMER, patient_line
from regimen.model import Administration
from regimen.quantities.clock import tzinfo_for

PAPERS = {"a4": "A4", "letter": "letter"}

_CSS = """
@page { size: %(paper)s; margin: 11mm; }
body { font-family: "DejaVu Sans", Arial, sans-serif; font-size: 9.5pt; color: #000; margin: 0; }
section.month { break-after: page; page-break-after: always; }
section.month:last-of-type { break-after: auto; page-break-after: auto; }
h1 { font-size: 14pt; margin: 0 0 2mm 0; }
h2 { font-size: 13pt; margin: 2mm 0; }
p.meta { margin: 0 0 1mm 0; font-size: 8.5pt; }
table.grid { width: 100%%; border-collapse: collapse; table-layout: fixed; }
table.grid th { border: 1px solid #000; background: #e6e6e6; padding: 1mm; font-size: 9pt; }
table.grid td { border: 1px solid #000; vertical-align: top; height: 21mm; padding: 1mm; overflow: hidden; }
table.grid td.out { background: #f4f4f4; }
td .n { font-weight: bold; display: block; }
td ul { margin: 0; padding-left: 3mm; font-size: 7.5pt; }
td li.treat { font-weight: bold; }
div.contacts { border: 2px solid #000; padding: 2mm; margin-top: 3mm; font-size: 9pt; }
div.contacts span { display: inline-block; width: 48%%; border-bottom: 1px solid #000; height: 6mm; margin-right: 1%%; }
p.notice { font-size: 8pt; border-top: 1px solid #000; margin-top: 2mm; padding-top: 1mm; }
"""


def _line(plan: Plan, r: Administration) -> str:
    when = ""
    if r.start is not None:
        when = r.start.astimezone(tzinfo_for(plan.tz)).strftime("%H:%M") + " "
    how = f" {r.route}" if r.route else ""
    if r.infusion is not None:
        return f"{when}{r.drug}{how}: pump day {r.infusion.day_index} of {r.infusion.days} ({r.dose_text} this day)"
    cond = f" (only if {r.condition})" if r.condition else ""
    return f"{when}{r.drug} {r.dose_text}{how}{cond}"


def handout_html(plan: Plan, paper: str = "a4", label: str | None = None) -> str:
    """The handout as one HTML document (print-ready)."""
    if plan.start is None:
        raise RegimenError(f"a handout needs dates: give {option('start')} (the date of day 1)")
    if paper not in PAPERS:
        raise RegimenError(f"{option('paper')} {paper!r}: a4 or letter")
    by_date: dict[dt.date, list[Administration]] = {}
    for r in plan.administrations:
        if r.date is not None:
            by_date.setdefault(r.date, []).append(r)
    dates = sorted(by_date)
    first, last = (dates[0], dates[-1]) if dates else (plan.start, plan.start)
    reg = plan.regimen
    version = f", version {reg.version}" if reg.version else ""
    who = f" for {escape(label)}" if label else ""
    head = (
        f"<h1>Treatment calendar{who}: {escape(reg.name)}</h1>"
        f'<p class="meta">Regimen {escape(reg.id)}{escape(version)}. Source: {escape(reg.citation)}</p>'
        f'<p class="meta">Planned with: {escape(patient_line(plan))}. Day 1: {plan.start.isoformat()}'
        + (f"; times in {escape(plan.tz)}" if plan.time is not None and plan.tz else "")
        + ".</p>"
    )
    contacts = (
        '<div class="contacts"><b>Your care team</b> (write in): '
        "<br><span>Name:</span><span>Phone:</span><br><span>Out of hours:</span><span>Clinic:</span></div>"
    )
    notice = (
        f'<p class="notice">{escape(DISCLAIMER)} This calendar was computed by regimen (research software) from the '
        "protocol; your care team's instructions come first.</p>"
    )
    sections = []
    year, month = first.year, first.month
    while (year, month) <= (last.year, last.month):
        weeks = calendar.Calendar(firstweekday=0).monthdatescalendar(year, month)
        body = []
        for week in weeks:
            cells = []
            for day in week:
                css = ' class="out"' if day.month != month else ""
                items = "".join(
                    f'<li class="treat">{escape(_line(plan, r))}</li>'
                    for r in by_date.get(day, [])
                    if day.month == month
                )
                cells.append(
                    f'<td{css}><span class="n">{day.day}</span>' + (f"<ul>{items}</ul>" if items else "") + "</td>"
                )
            body.append("<tr>" + "".join(cells) + "</tr>")
        names = "".join(f"<th>{d}</th>" for d in ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"))
        title = dt.date(year, month, 1).strftime("%B %Y")
        sections.append(
            f'<section class="month">{head}<h2>{title}</h2><table class="grid"><thead><tr>{names}</tr></thead>'
            f"<tbody>{''.join(body)}</tbody></table>{contacts}{notice}</section>"
        )
        month += 1
        if month == 13:
            year, month = year + 1, 1
    css = _CSS % {"paper": PAPERS[paper]}
    return (
        '<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">'
        f"<title>Treatment calendar: {escape(reg.name)}</title><style>{css}</style></head>"
        f"<body>{''.join(sections)}</body></html>"
    )


def months_of(plan: Plan) -> int:
    dates = sorted(r.date for r in plan.administrations if r.date is not None)
    if not dates:
        return 1
    return (dates[-1].year - dates[0].year) * 12 + dates[-1].month - dates[0].month + 1


def handout_pdf(plan: Plan, paper: str = "a4", label: str | None = None) -> bytes:
    """The handout as PDF (WeasyPrint), one page per month."""
    import weasyprint  # lazy: only for the PDF

    data: bytes = weasyprint.HTML(string=handout_html(plan, paper, label)).write_pdf()
    return data


__all__ = ["handout_html", "handout_pdf", "months_of"]
