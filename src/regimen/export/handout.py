"""A printable patient handout (issue 13): a month grid per month of treatment listing each day's drugs, doses and
times, the regimen and its source, a space for the care team's contacts, and the research-use notice.

HTML with its own print stylesheet, one month per page on A4 or US Letter; a PDF of it is made by WeasyPrint, a
well-kept HTML/CSS-to-PDF library that needs no browser.

A month fits its page however busy it is: the page's parts are measured (estimated from their text, generously:
a character is taken as wider than any of DejaVu Sans's common ones) and the month's day lists set in the largest
type, from 8 pt down to 5 pt, with which the grid fits the paper's height; the rows then share what is left of it.
A month that would not fit even at 5 pt (a dozen drugs on one day) is split over two pages, each saying so, rather
than cut. Nothing is ever clipped: a long word breaks inside its cell.
"""

from __future__ import annotations

import calendar
import datetime as dt
import math
from dataclasses import dataclass
from html import escape

from regimen.engine.plan import Plan
from regimen.engine.preparations import Preparation, preparations
from regimen.errors import RegimenError, option
from regimen.export.table import DISCLAIMER, patient_line
from regimen.quantities.clock import tzinfo_for

PAPERS = {"a4": ("A4", 210.0, 297.0), "letter": ("letter", 215.9, 279.4)}  # (CSS size, width mm, height mm)
MARGIN = 10.0  # mm, every side
SIZES = (8.0, 7.5, 7.0, 6.5, 6.0, 5.5, 5.0)  # pt, the day lists' type, largest first
PT = 0.3528  # mm
CHAR = 0.62  # width of a character in em (bold DejaVu Sans averages under 0.6)
LEADING = 1.25  # line height in em
SLACK = 14.0  # mm of the page kept free of the estimate: a page never ends up one line too long

_CSS = """
@page { size: %(paper)s; margin: %(margin)smm; }
html, body { margin: 0; padding: 0; }
body { font-family: "DejaVu Sans", Arial, sans-serif; font-size: 9pt; color: #000; }
section.month { break-after: page; page-break-after: always; break-inside: avoid; }
section.month:last-of-type { break-after: auto; page-break-after: auto; }
h1 { font-size: 13pt; line-height: 1.2; margin: 0 0 1mm 0; }
h2 { font-size: 12pt; line-height: 1.2; margin: 1.5mm 0 1mm 0; }
p.meta { margin: 0 0 0.8mm 0; font-size: 7pt; line-height: 1.25; }
table.grid { width: 100%%; border-collapse: collapse; table-layout: fixed; }
table.grid th { border: 1px solid #000; background: #e6e6e6; padding: 0.5mm 1mm; font-size: 8pt; line-height: 1.2; }
table.grid td { border: 1px solid #000; vertical-align: top; padding: 0.6mm 0.8mm; overflow-wrap: anywhere; }
table.grid td.out { background: #f4f4f4; }
td .n { font-weight: bold; display: block; font-size: 8pt; line-height: 1.2; }
td ul { margin: 0; padding: 0; list-style: none; line-height: %(leading)s; }
td li { margin: 0 0 0.4mm 0; }
div.contacts { border: 1.5px solid #000; padding: 1.5mm 2mm; margin-top: 2mm; font-size: 8.5pt; line-height: 1.3; }
div.contacts span { display: inline-block; width: 48%%; border-bottom: 1px solid #000; height: 5.5mm;
                    margin-right: 1%%; }
p.who { margin: 0 0 1mm 0; font-size: 9pt; line-height: 1.3; }
p.who span { display: inline-block; width: 48%%; border-bottom: 1px solid #000; height: 5.5mm; margin-right: 1%%; }
p.notice { font-size: 7pt; line-height: 1.25; border-top: 1px solid #000; margin: 1.5mm 0 0 0; padding-top: 1mm; }
"""
WHO_MM = 8.0  # the lines for the patient's name and date of birth
CONTACTS_MM = 23.0  # the care team's box: its title, two lines to write on, borders and margins
GRID_HEAD_MM = 6.0  # the row of day names


def _time(plan: Plan, instant: dt.datetime | None) -> str:
    if instant is not None:
        return instant.astimezone(tzinfo_for(plan.tz)).strftime("%H:%M") + " "
    return "time not stated: " if plan.time is not None else ""  # the plan has times; the source gives none


def _entries(plan: Plan, prep: Preparation) -> list[tuple[dt.date, str]]:
    """The handout's lines of one preparation, by date: each dose as it is prepared, plainly ('2,522 mg'); a pump
    once, whole, on the day it is connected, with the day and time it comes off (and that day's line too)."""
    r = prep.first
    if r.date is None:
        return []
    out = _drug_entries(plan, prep)
    if r.role == "anticancer":
        return out
    # supportive care, visibly apart from the chemotherapy in words (a handout is often printed in black and white)
    return [(day, f"{text} ({plan.regimen.supportive_kind(prep.first.component)})") for day, text in out]


def _day_entries(plan: Plan) -> dict[dt.date, list[str]]:
    """Each day's lines. Supportive doses given together (the same day and time, or both untimed, and of one kind:
    three premedications before paclitaxel) share one line, 'dexamethasone 20 mg IV, famotidine 20 mg IV
    (premedication)': a patient reads them as one step, and a busy month still fits its page."""
    by_date: dict[dt.date, list[str]] = {}
    shared: dict[tuple[dt.date, object, str], list[str]] = {}
    where: dict[tuple[dt.date, object, str], int] = {}
    for prep in preparations(plan.administrations):
        r = prep.first
        if r.date is not None and r.role != "anticancer" and not prep.continuous and r.dose_number is None:
            key = (r.date, r.start, plan.regimen.supportive_kind(prep.first.component))
            how = f" {r.route}" if r.route else ""
            cond = f" (only if {r.condition})" if r.condition else ""
            said = f"{r.drug} {prep.plain_dose_text}{how}{cond}"
            if key in shared:
                shared[key].append(said)
                by_date[r.date][where[key]] = f"{_time(plan, r.start)}{', '.join(shared[key])} ({key[2]})"
                continue
            shared[key] = [said]
            where[key] = len(by_date.setdefault(r.date, []))
        for on, text in _entries(plan, prep):
            by_date.setdefault(on, []).append(text)
    return by_date


def _drug_entries(plan: Plan, prep: Preparation) -> list[tuple[dt.date, str]]:
    r = prep.first
    assert r.date is not None
    how = f" {r.route}" if r.route else ""
    cond = f" (only if {r.condition})" if r.condition else ""
    amount = prep.plain_dose_text
    if not prep.continuous:
        number = f" (dose {r.dose_number} of {r.doses_per_day})" if r.dose_number is not None else ""
        return [(r.date, f"{_time(plan, r.start)}{r.drug} {amount}{how}{number}{cond}")]
    hours = f" over {prep.hours_text}" if prep.hours_text else ""
    off = prep.disconnect.astimezone(tzinfo_for(plan.tz)) if prep.disconnect is not None else None
    comes_off = f"; comes off {off.strftime('%a %d %b %H:%M')}" if off is not None else f"; runs{hours}"
    out = [(r.date, f"{_time(plan, prep.connect)}{r.drug}{how} pump on: {amount}{hours}{comes_off}{cond}")]
    out += [(row.date, f"{r.drug} pump running{cond}") for row in prep.rows[1:] if row.date is not None]
    if off is not None:
        out.append((off.date(), f"{off.strftime('%H:%M')} {r.drug} pump comes off{cond}"))
    return out


def _lines(text: str, width_mm: float, size_pt: float) -> int:
    """Lines ``text`` takes in a column ``width_mm`` wide at ``size_pt``, counted word by word as a browser wraps."""
    per_line = max(1, int(width_mm / (CHAR * size_pt * PT)))
    lines, used = 1, 0
    for word in text.split():
        n = len(word)
        if used and used + 1 + n > per_line:
            lines, used = lines + 1, 0
        if n > per_line:  # a long word breaks inside the cell (overflow-wrap: anywhere)
            lines += (n - 1) // per_line
            n = (n - 1) % per_line + 1
        used += (1 if used else 0) + n
    return lines


@dataclass(frozen=True, slots=True)
class _Page:
    title: str  # "December 2026", "December 2026 (continued)"
    weeks: list[list[dt.date]]
    month: int
    size: float  # pt of the day lists
    row_mm: list[float]  # each week's height


def _pages(by_date: dict[dt.date, list[str]], year: int, month: int, paper: str, head_mm: float) -> list[_Page]:
    """The month's page (or, past 5 pt, pages), the type size and each row's height."""
    _, width, height = PAPERS[paper]
    cell = (width - 2 * MARGIN) / 7 - 2.0  # the cell's text width: padding and borders off
    room = height - 2 * MARGIN - head_mm - GRID_HEAD_MM - CONTACTS_MM - SLACK
    weeks = calendar.Calendar(firstweekday=0).monthdatescalendar(year, month)
    title = dt.date(year, month, 1).strftime("%B %Y")

    def need(week: list[dt.date], size: float) -> float:
        line = size * LEADING * PT
        day = max(
            (sum(_lines(t, cell, size) * line + 0.4 for t in by_date.get(d, [])) for d in week if d.month == month),
            default=0.0,
        )
        return 8 * 1.2 * PT + day + 1.6  # the day's number, its list, the cell's padding and border

    for size in SIZES:
        needs = [need(w, size) for w in weeks]
        if sum(needs) <= room:  # the rows share what is left, none made taller than 36 mm by it
            extra = (room - sum(needs)) / len(weeks)
            return [_Page(title, weeks, month, size, [n + min(extra, max(0.0, 36.0 - n)) for n in needs])]
    size = SIZES[-1]  # even at 5 pt: as many weeks as fit on each page, the page saying it is continued
    pages: list[list[list[dt.date]]] = []
    chunk: list[list[dt.date]] = []
    used = 0.0
    for week in weeks:
        n = need(week, size)
        if chunk and used + n > room:
            pages.append(chunk)
            chunk, used = [], 0.0
        chunk.append(week)
        used += n
    pages.append(chunk)
    return [
        _Page(
            title + (f" (part {i} of {len(pages)})" if len(pages) > 1 else ""),
            part,
            month,
            size,
            [need(w, size) for w in part],
        )
        for i, part in enumerate(pages, start=1)
    ]


def handout_html(plan: Plan, paper: str = "a4", label: str | None = None) -> str:
    """The handout as one HTML document (print-ready)."""
    if plan.start is None:
        raise RegimenError(f"a handout needs dates: give {option('start')} (the date of day 1)")
    if paper not in PAPERS:
        raise RegimenError(f"{option('paper')} {paper!r}: a4 or letter")
    by_date = _day_entries(plan)
    dates = sorted(by_date)
    first, last = (dates[0], dates[-1]) if dates else (plan.start, plan.start)
    reg = plan.regimen
    version = f", version {reg.version}" if reg.version else ""
    who = f" for {label}" if label else ""
    title = f"Treatment calendar{who}: {reg.name}"
    meta = [
        f"Regimen {reg.id}{version}. Source: {reg.citation}",
        f"Planned with: {patient_line(plan)}. Day 1: {plan.start.isoformat()}"
        + (f"; times in {plan.tz}" if plan.time is not None and plan.tz else "")
        + ".",
    ]
    notice = (
        f"{DISCLAIMER} This calendar was computed by regimen (research software) from the protocol; your care "
        "team's instructions come first."
    )
    text_width = PAPERS[paper][1] - 2 * MARGIN
    head_mm = (
        _lines(title, text_width, 13) * 13 * 1.2 * PT
        + 1
        + WHO_MM
        + sum(_lines(m, text_width, 7) * 7 * 1.25 * PT + 0.8 for m in meta)
        + 12 * 1.2 * PT
        + 2.5  # the month's name
        + _lines(notice, text_width, 7) * 7 * 1.25 * PT
        + 2.5  # the notice
    )
    head = (
        f"<h1>{escape(title)}</h1>"
        + '<p class="who"><span>Patient name:</span><span>Date of birth:</span></p>'
        + "".join(f'<p class="meta">{escape(m)}</p>' for m in meta)
    )
    contacts = (
        '<div class="contacts"><b>Your care team</b> (write in): '
        "<br><span>Name:</span><span>Phone:</span><br><span>Out of hours:</span><span>Clinic:</span></div>"
    )
    names = "".join(f"<th>{d}</th>" for d in ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"))
    sections: list[str] = []
    styles: list[str] = []
    year, month = first.year, first.month
    while (year, month) <= (last.year, last.month):
        for page in _pages(by_date, year, month, paper, head_mm):
            n = len(sections) + 1
            styles.append(f"#p{n} td ul {{ font-size: {page.size:g}pt; }}")
            body = []
            for week, mm in zip(page.weeks, page.row_mm, strict=True):
                cells = []
                for day in week:
                    css = ' class="out"' if day.month != page.month else ""
                    texts = by_date.get(day, []) if day.month == page.month else []
                    items = "".join(f"<li>{escape(t)}</li>" for t in texts)
                    cells.append(
                        f'<td{css}><span class="n">{day.day}</span>' + (f"<ul>{items}</ul>" if items else "") + "</td>"
                    )
                body.append(f'<tr class="h{math.ceil(mm)}">' + "".join(cells) + "</tr>")
                styles.append(f"tr.h{math.ceil(mm)} td {{ height: {math.ceil(mm) - 1.6:g}mm; }}")
            sections.append(
                f'<section class="month" id="p{n}">{head}<h2>{escape(page.title)}</h2><table class="grid"><thead>'
                f"<tr>{names}</tr></thead><tbody>{''.join(body)}</tbody></table>{contacts}"
                f'<p class="notice">{escape(notice)}</p></section>'
            )
        month += 1
        if month == 13:
            year, month = year + 1, 1
    css = _CSS % {"paper": PAPERS[paper][0], "margin": f"{MARGIN:g}", "leading": LEADING}
    css += "\n".join(dict.fromkeys(styles)) + "\n"
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


__all__ = ["PAPERS", "handout_html", "handout_pdf", "months_of"]
