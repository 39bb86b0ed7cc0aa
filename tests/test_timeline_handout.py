"""The timeline chart and the patient handout (issue 13.1), for every bundled regimen: the chart's lanes, bars, marks
and labels read from its SVG, no two of its texts overlapping; the handout one page a month on A4 and on Letter,
each page that month's and not blank; ``regimen plot`` writing SVG, PNG and PDF."""

from __future__ import annotations

import datetime as dt
import re
import subprocess
import sys
from html import unescape
from pathlib import Path
from typing import Any
from xml.etree import ElementTree

import pytest
from click.testing import CliRunner
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.text import Text
from PIL import Image
from tests import system
from tests.conftest import BUNDLED_IDS

import regimen
from regimen.cli import cli
from regimen.engine.plan import Plan, drugs_of_several_components
from regimen.engine.preparations import preparations
from regimen.export.chart import chart_bytes, figure_bytes, lane_name, timeline
from regimen.export.handout import handout_html, handout_pdf, months_of
from regimen.protocol.loader import load_file
from regimen.quantities.clock import parse_time

SVG = "{http://www.w3.org/2000/svg}"
VALUES = {"weight": "70", "bsa": "1.8", "age": "45", "height": "175", "sex": "female", "scr": "1"}


def plan_of(regimen_id: str, timed: bool = True, **values: str) -> Plan:
    return regimen.expand(
        regimen.load(regimen_id),
        regimen.make_patient(**{k: v for k, v in {**VALUES, **values}.items() if v}),
        start=dt.date(2026, 12, 1),
        cycle_length=21 if regimen_id.startswith("cen") else None,
        time=parse_time("08:00") if timed else None,
        tz="Europe/Berlin" if timed else None,
    )


# ---- the chart ------------------------------------------------------------------------------------------


def _texts(root: ElementTree.Element) -> list[str]:
    return ["".join(t.itertext()) for t in root.iter(f"{SVG}text")]


@pytest.mark.parametrize("timed", [True, False], ids=["timed", "all-day"])
@pytest.mark.parametrize("regimen_id", BUNDLED_IDS)
def test_the_chart_of_every_bundled_regimen(regimen_id: str, timed: bool) -> None:
    plan = plan_of(regimen_id, timed)
    figure = timeline(plan)  # chart_bytes(plan, "svg"), keeping the figure to count its marks (built once, not twice)
    root = ElementTree.fromstring(figure_bytes(figure, "svg"))
    texts = _texts(root)
    groups = {g.get("id", ""): g for g in root.iter(f"{SVG}g")}
    shared = drugs_of_several_components(plan.administrations)
    lanes = list(dict.fromkeys(lane_name(r, shared) for r in plan.administrations))
    ticks = [t for gid, g in groups.items() if gid.startswith("ytick_") for t in _texts(g)]
    assert ticks == lanes  # one lane per drug (per component of a drug given two ways), in the plan's order
    infusions = {
        (r.phase, r.component, r.cycle, r.infusion.start_course_day) for r in plan.administrations if r.infusion
    }
    bars = [gid for gid in groups if gid.startswith("infusion-")]
    assert len(bars) == len(set(bars)) == len(infusions)  # a bar per continuous infusion
    for gid in bars:  # each bar labelled with its total and its hours
        label = " ".join("".join(groups[gid.replace("infusion-", "label-", 1)].itertext()).split())
        assert re.fullmatch(r"[\d,.]+ m?c?g( \(from [\d,.…]+\))? over \d+(\.\d+)? h( \(if .*\))?", label), label
    marks = [r for r in plan.administrations if r.infusion is None]
    assert {gid for gid in groups if gid.startswith("marks-")} == {f"marks-{r.component}" for r in marks}
    drawn = [c for c in figure.axes[0].collections if (c.get_gid() or "").startswith("marks-")]
    assert sum(len(c.get_offsets()) for c in drawn) == len(marks)  # a mark per bolus or short infusion
    for r in marks:
        assert any(t.startswith(r.dose_text) for t in texts), r.dose_text  # each with its dose
    cycles = {(r.phase, r.cycle) for r in plan.administrations}
    named = [i for i, t in enumerate(texts) if re.fullmatch(r"(\w+ )?C\d+", t)]
    assert named and len(named) <= len(cycles)  # a cycle too close to the one before keeps its line, not its name
    first = plan.administrations[0]
    assert texts[named[0]] == ("C1" if first.phase == "main" else f"{first.phase} C1")
    assert texts[named[0] + 1] == "01 Dec 2026"  # the cycle's date under its line
    assert all(re.fullmatch(r"\d\d \w{3} \d{4}", texts[i + 1]) for i in named)


@pytest.mark.parametrize("regimen_id", BUNDLED_IDS)
def test_no_two_texts_of_a_chart_overlap(regimen_id: str) -> None:
    """Every dose label, lane name and date can be read: measured where matplotlib draws them. The figure is laid
    out as drawing lays it out, every artist's draw run, without painting pixels (``draw_without_rendering``: the
    same boxes as a full draw, in about 60 % of its time; no pixel is looked at here)."""
    for plan in (plan_of(regimen_id), plan_of(regimen_id, age=""), plan_of(regimen_id, timed=False)):
        boxes = _text_boxes(timeline(plan))
        assert len(boxes) > len({r.drug for r in plan.administrations}) + 2
        _none_overlap(boxes, regimen_id)


def _text_boxes(fig: Any) -> list[tuple[str, Any]]:
    """Each visible text of the figure and its box, as drawing lays them out."""
    canvas = FigureCanvasAgg(fig)
    fig.draw_without_rendering()
    renderer = canvas.get_renderer()
    return [
        (t.get_text(), t.get_window_extent(renderer))
        for t in fig.findobj(Text)
        if t.get_visible() and t.get_text().strip()
    ]


def _none_overlap(boxes: list[tuple[str, Any]], name: str) -> None:
    for i, (a, box) in enumerate(boxes):
        for b, other in boxes[i + 1 :]:
            assert not box.overlaps(other), f"{name}: {a!r} overlaps {b!r}"


def test_many_doses_of_one_dose_are_labelled_once_a_cycle() -> None:
    # capox: capecitabine 1,000 mg/m² × 1.8 m² = 1,800 mg twice a day on days 1-14: 28 doses a cycle, too close
    # for a label each
    texts = _texts(ElementTree.fromstring(chart_bytes(plan_of("capox"), "svg")))
    assert texts.count("1,800 mg × 28") == 8 and texts.count("234 mg") == 8  # oxaliplatin 130 mg/m² × 1.8 m²


def test_each_outcomes_doses_are_labelled_apart_and_readable() -> None:
    """CAPOX without the sex at 70 years and 1.3 mg/dL: capecitabine 1,350 mg if female, 1,800 mg if male, twice a
    day on the same 14 days. Labelled mark by mark, the two outcomes' labels ran into each other ('1,801,350'); each
    outcome's run now has its label, once a cycle, and no two texts overlap."""
    plan = plan_of("capox", sex="", age="70", scr="1.3")
    texts = _texts(ElementTree.fromstring(chart_bytes(plan, "svg")))
    assert texts.count("1,350 mg × 28 (if sex female)") == 8 and texts.count("1,800 mg × 28 (if sex male)") == 8
    assert not any("1,801" in t or "1,351" in t for t in texts)
    _none_overlap(_text_boxes(timeline(plan)), "capox without the sex")


def test_a_conditional_dose_is_marked_in_the_chart() -> None:
    plan = plan_of("cenersen-arm3", age="")
    texts = _texts(ElementTree.fromstring(chart_bytes(plan, "svg")))
    assert "1,800 mg (if age ≤ 60 years)" in texts  # day 5 cytarabine, only if age ≤ 60
    fig = timeline(plan)
    (points,) = [c for c in fig.axes[0].collections if c.get_gid() == "marks-cytarabine"]
    fills = [tuple(f) for f in points.get_facecolors()]
    assert fills.count((1.0, 1.0, 1.0, 1.0)) == 1  # that one hollow, the others filled


def test_the_chart_is_readable_without_colour() -> None:
    """Each lane its own marker and hatching: told apart in black and white."""
    fig = timeline(plan_of("mfolfox6"))
    ax = fig.axes[0]
    lanes = [c for c in ax.collections if (c.get_gid() or "").startswith("marks-")]
    # each lane of doses its own shape: the three anticancer ones and the three antiemetic ones, six shapes
    assert [c.get_gid() for c in lanes] == [
        "marks-ondansetron",
        "marks-dexamethasone",
        "marks-oxaliplatin",
        "marks-leucovorin",
        "marks-fluorouracil-bolus",
        "marks-dexamethasone-days-2-3",
    ]
    markers = [c.get_paths()[0].vertices.tobytes() for c in lanes]
    assert len(markers) == len(set(markers)) == 6
    hatches = {c.get_hatch() for c in ax.collections if (c.get_gid() or "").startswith("infusion-")}
    assert hatches and None not in hatches
    png = chart_bytes(plan_of("mfolfox6"), "png")
    import io

    grey = Image.open(io.BytesIO(png)).convert("L")
    assert sum(1 for n in grey.histogram() if n) > 10  # not flattened to blocks when printed in grey


def test_plot_from_the_command_line_writes_valid_svg_png_and_pdf(tmp_path: Path) -> None:
    system.poppler()
    args = ["plot", "cenersen-arm3", "--weight", "70", "--bsa", "1.8", "--age", "45", "--start", "2026-12-01"]
    for suffix in ("svg", "png", "pdf"):
        out = tmp_path / f"timeline.{suffix}"
        result = CliRunner().invoke(cli, [*args, "-o", str(out)])
        assert result.exit_code == 0, result.output
        assert result.stderr == f"{out}: written (timeline, {suffix})\n"
    root = ElementTree.parse(tmp_path / "timeline.svg").getroot()  # parses as XML
    assert root.tag == f"{SVG}svg" and "672 mg over 96 h" in _texts(root)  # 7 mg/h × 96 h
    png = (tmp_path / "timeline.png").read_bytes()
    assert png.startswith(b"\x89PNG\r\n\x1a\n")
    with Image.open(tmp_path / "timeline.png") as image:
        image.verify()
        assert image.size[0] >= 1000 and image.size[1] >= 400
    pdf = (tmp_path / "timeline.pdf").read_bytes()
    assert pdf.startswith(b"%PDF-") and pdf.rstrip().endswith(b"%%EOF")
    info = subprocess.run(["pdfinfo", str(tmp_path / "timeline.pdf")], capture_output=True, text=True, check=True)
    assert re.search(r"^Pages:\s+1$", info.stdout, re.M)
    text = subprocess.run(["pdftotext", str(tmp_path / "timeline.pdf"), "-"], capture_output=True, text=True).stdout
    assert "cenersen" in text and "21.6 mg" in text  # text kept as text (12 mg/m² × 1.8 m²)


def test_plot_refuses_what_it_cannot_write(tmp_path: Path) -> None:
    bad = CliRunner().invoke(cli, ["plot", "cenersen-arm3", "--weight", "70", "--bsa", "1.8", "-o", "x.gif"])
    assert bad.exit_code == 1 and bad.stderr == "Error: -o 'x.gif': name a .svg, .png or .pdf file\n"
    weight = CliRunner().invoke(
        cli, ["plot", "cenersen-arm3", "--weight", "700", "--bsa", "1.8", "-o", str(tmp_path / "t.svg")]
    )
    assert weight.exit_code == 1 and "weight 700 kg is impossible" in weight.stderr and "Traceback" not in weight.output
    assert not (tmp_path / "t.svg").exists()


def test_without_the_web_extra_plot_and_serve_say_so(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for module in ("matplotlib", "uvicorn"):
        monkeypatch.setitem(sys.modules, module, None)  # as if not installed
    plot = CliRunner().invoke(
        cli, ["plot", "cenersen-arm3", "--weight", "70", "--bsa", "1.8", "-o", str(tmp_path / "t.svg")]
    )
    assert plot.exit_code == 1 and "Traceback" not in plot.output
    assert plot.stderr == "Error: regimen plot needs the web extra (matplotlib): pip install 'regimen-schedules[web]'\n"
    serve = CliRunner().invoke(cli, ["serve"])
    assert (
        serve.exit_code == 1
        and serve.stderr == "Error: regimen serve needs the web extra: pip install 'regimen-schedules[web]'\n"
    )


# ---- the handout ----------------------------------------------------------------------------------------------


def _pages(pdf: bytes, tmp_path: Path) -> list[str]:
    """Each page's text, as laid out: pdftotext ends each page with a form feed, so one run reads them all."""
    path = tmp_path / "handout.pdf"
    path.write_bytes(pdf)
    info = subprocess.run(["pdfinfo", str(path)], capture_output=True, text=True, check=True).stdout
    n = int(re.search(r"^Pages:\s+(\d+)$", info, re.M).group(1))  # type: ignore[union-attr]
    text = subprocess.run(["pdftotext", "-layout", str(path), "-"], capture_output=True, text=True, check=True).stdout
    pages = text.split("\f")
    assert pages[-1].strip() == "" and len(pages) == n + 1, (n, len(pages))  # a form feed after each page
    return pages[:-1]


def _months(plan: Plan) -> list[str]:
    dates = sorted(r.date for r in plan.administrations if r.date is not None)
    out, (y, m) = [], (dates[0].year, dates[0].month)
    while (y, m) <= (dates[-1].year, dates[-1].month):
        out.append(dt.date(y, m, 1).strftime("%B %Y"))
        y, m = (y + 1, 1) if m == 12 else (y, m + 1)
    return out


@pytest.mark.slow
@pytest.mark.parametrize("paper", ["a4", "letter"])
@pytest.mark.parametrize("regimen_id", BUNDLED_IDS)
def test_the_handout_of_every_bundled_regimen_has_a_page_a_month(regimen_id: str, paper: str, tmp_path: Path) -> None:
    system.weasyprint()
    system.poppler()
    plan = plan_of(regimen_id)
    pdf = handout_pdf(plan, paper, "bed 4")
    pages = _pages(pdf, tmp_path)
    months = _months(plan)
    sections = re.findall(r'<section class="month".*?</section>', handout_html(plan, paper, "bed 4"), re.S)
    assert len(pages) == months_of(plan) == len(months)
    for text, month in zip(pages, months, strict=True):
        assert re.search(rf"^\s*{month}\s*$", text, re.M), month  # this page is that month's, whole
        assert "Treatment calendar for bed 4" in text and plan.regimen.id in text and "Source:" in text
        assert "Your care team" in text and "Research software: verify every dose" in text
    for prep in preparations(plan.administrations):  # every dose, as prepared, in its day's cell of its month's page
        r = prep.first
        assert r.date is not None
        said = f"{r.drug} {prep.plain_dose_text}"
        if prep.continuous:  # a pump, once, whole, on the day it is connected: 'cenersen IV pump on: 672 mg'
            said = f"{r.drug} {r.route} pump on: {prep.plain_dose_text}"
        month = sections[months.index(r.date.strftime("%B %Y"))]
        cell = re.search(rf'<td><span class="n">{r.date.day}</span><ul>(.*?)</ul></td>', month)
        assert cell is not None and said in unescape(cell.group(1)), said
    subprocess.run(
        ["pdftoppm", "-r", "20", "-gray", "-png", str(tmp_path / "handout.pdf"), str(tmp_path / "p")], check=True
    )
    for png in sorted(tmp_path.glob("p-*.png")):
        with Image.open(png) as image:
            assert sum(image.convert("L").histogram()[:128]) > 300, png.name  # ink: not a blank page


def test_the_handout_says_each_days_drugs_doses_and_times() -> None:
    html = handout_html(plan_of("capox"), "a4")
    # capox day 1: oxaliplatin 130 mg/m² × 1.8 m² = 234 mg at 08:00; capecitabine 1,000 mg/m² × 1.8 m² = 1,800 mg
    # twice, the second dose's time not in the source; the antiemetics (NZ SRL) one hour before oxaliplatin and
    # ondansetron 8 h after its 2-h infusion ends (10:00 + 8 h = 18:00)
    day1 = re.search(r'<span class="n">1</span><ul>(.*?)</ul>', html)
    assert day1 is not None
    assert re.findall(r"<li>([^<]*)</li>", day1.group(1)) == [
        "07:00 dexamethasone 8 mg oral, ondansetron 8 mg oral (antiemetic)",  # given together: one line
        "08:00 oxaliplatin 234 mg IV",
        "08:00 capecitabine 1,800 mg oral (dose 1 of 2)",
        "time not stated: capecitabine 1,800 mg oral (dose 2 of 2)",
        "18:00 ondansetron 8 mg oral (antiemetic)",
    ]
    pump = handout_html(plan_of("mfolfox6"), "a4")
    # fluorouracil 2,400 mg/m² × 1.8 m² = 4,320 mg over 46 h: one pump, connected at 10:00 on Tue 1 December (after
    # the 2-h oxaliplatin from 08:00), off 46 h later at 08:00 on Thu 3 December (issue 24.3)
    assert "10:00 fluorouracil IV pump on: 4,320 mg over 46 h; comes off Thu 03 Dec 08:00" in pump
    assert "08:00 fluorouracil pump comes off" in pump and "2,254" not in pump
    # its antiemetics an hour before oxaliplatin, given together: one line; dexamethasone again on days 2 and 3
    assert "07:00 ondansetron 8 mg oral, dexamethasone 8 mg oral (antiemetic)" in pump
    assert pump.count("08:00 dexamethasone 8 mg oral (antiemetic)") == 2 * 12  # days 2 and 3 of each of 12 cycles
    undecided = handout_html(plan_of("cenersen-arm3", age=""), "a4")
    assert "08:00 cytarabine 1,800 mg IV (only if age ≤ 60 years)" in undecided


@pytest.mark.parametrize("paper", ["a4", "letter"])
def test_a_month_too_busy_for_one_page_is_split_and_says_so(paper: str, tmp_path: Path) -> None:
    system.weasyprint()
    system.poppler()
    drugs = [
        "cyclophosphamide",
        "doxorubicin",
        "vincristine",
        "prednisolone",
        "etoposide",
        "cytarabine",
        "methotrexate",
        "fluorouracil",
        "oxaliplatin",
        "irinotecan",
        "gemcitabine",
        "paclitaxel",
    ]
    text = 'id = "busy"\nname = "Twelve drugs every day"\n[[source]]\ncitation = "a test"\n' + "".join(
        f'[[component]]\ndrug = "{d}"\ndose = "12.345 mg/m²"\ndays = "1-28"\nroute = "IV"\n' for d in drugs
    )
    (tmp_path / "busy.toml").write_text(text)
    plan = regimen.expand(
        load_file(tmp_path / "busy.toml"), regimen.make_patient(bsa="1.83"), start=dt.date(2026, 12, 1)
    )
    pages = _pages(handout_pdf(plan, paper), tmp_path)
    titles = [re.search(r"December 2026( \(part \d of \d\))?", p).group(0) for p in pages]  # type: ignore[union-attr]
    n = len(pages)
    assert n > 1 and titles == [f"December 2026 (part {i} of {n})" for i in range(1, n + 1)]
    # 12.345 mg/m² × 1.83 m² = 22.59135 mg, 22.59 mg shown plainly (a patient reads it: no exact value beside it,
    # issue 26): each of the 28 × 12 doses on a page, none cut off
    raw = subprocess.run(["pdftotext", str(tmp_path / "handout.pdf"), "-"], capture_output=True, text=True).stdout
    assert raw.count("22.59") == 28 * 12 and "22.59135" not in raw


def test_a_handout_needs_a_start_and_a_paper() -> None:
    undated = regimen.expand(regimen.load("capox"), regimen.make_patient(weight="70", bsa="1.8"))
    with pytest.raises(regimen.RegimenError, match="a handout needs dates: give start"):
        handout_html(undated)
    with pytest.raises(regimen.RegimenError, match="paper 'a5': a4 or letter"):
        handout_html(plan_of("capox"), "a5")


def test_the_handout_escapes_what_it_is_given() -> None:
    html = handout_html(plan_of("capox"), "a4", '<img src=x onerror="alert(1)">')
    assert "<img" not in html and "&lt;img src=x onerror=&quot;alert(1)&quot;&gt;" in html


def test_supportive_care_is_marked_apart_from_the_chemotherapy_in_words() -> None:
    """Issue 27 item 1: the handout shows the premedication visibly apart from the paclitaxel, in words (it is often
    printed in black and white), the three given together on one line: 'dexamethasone 20 mg IV, diphenhydramine 50 mg
    IV, famotidine 20 mg IV (premedication)'; paclitaxel unmarked."""
    plan = regimen.expand(
        regimen.load("paclitaxel-weekly"),
        regimen.make_patient(weight="70", bsa="1.8", age="50"),
        start=dt.date(2026, 12, 7),
        cycles=1,
    )
    html = handout_html(plan)
    assert "<li>dexamethasone 20 mg IV, diphenhydramine 50 mg IV, famotidine 20 mg IV (premedication)</li>" in html
    assert "<li>paclitaxel 144 mg IV</li>" in html
