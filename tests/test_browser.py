"""The web app in a real browser (issue 13.4): Debian's Chromium, headless, driven by Selenium through Debian's
chromedriver (``.ci/run`` installs both; CI cannot download a browser of its own). Without them, or without
poppler-utils, these tests skip naming the install (tests/system.py); ``REGIMEN_REQUIRE_SYSTEM=1`` makes that a failure.

A nurse's path: search, open cenersen-arm3 with the keyboard, fill the form for 70 kg / 1.8 m² / 45 years, check every
dose in the rendered table against the doses worked out by hand, download the .ics with its button and parse it,
print the handout to PDF on A4 and on Letter and check each month is one page, that month's, and not blank
(pdftoppm to PNG). The same flow with JavaScript switched off, and the form walked with the Tab key.

``REGIMEN_UPDATE_SCREENSHOTS=1`` also writes the README's screenshots (docs/images/) from this run.
"""

from __future__ import annotations

import base64
import datetime as dt
import os
import re
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import icalendar
import pytest
from PIL import Image
from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.action_chains import ActionChains
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.common.print_page_options import PrintOptions
from selenium.webdriver.support import expected_conditions as until
from selenium.webdriver.support.ui import Select, WebDriverWait
from tests import system
from tests.test_web import server

__all__ = ["server"]
pytestmark = [pytest.mark.browser, pytest.mark.integration]

IMAGES = Path(__file__).parents[1] / "docs" / "images"
PAPERS = {"a4": (21.0, 29.7), "letter": (21.59, 27.94)}  # cm


def _chrome(tmp_path_factory: pytest.TempPathFactory) -> tuple[webdriver.Chrome, Path]:
    chromium, driver_path = system.chromium()
    system.poppler()
    downloads = tmp_path_factory.mktemp("downloads")
    options = webdriver.ChromeOptions()
    options.binary_location = chromium
    for arg in (
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-dev-shm-usage",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--window-size=1400,1100",
        f"--user-data-dir={tmp_path_factory.mktemp('chromium-profile')}",
    ):
        options.add_argument(arg)
    prefs: dict[str, object] = {"download.default_directory": str(downloads), "download.prompt_for_download": False}
    options.add_experimental_option("prefs", prefs)
    driver = webdriver.Chrome(service=Service(driver_path), options=options)
    driver.execute_cdp_cmd("Page.setDownloadBehavior", {"behavior": "allow", "downloadPath": str(downloads)})
    return driver, downloads


@pytest.fixture(scope="module")
def browser(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[webdriver.Chrome, Path]]:
    driver, downloads = _chrome(tmp_path_factory)
    try:
        yield driver, downloads
    finally:
        driver.quit()


def _wait(driver: webdriver.Chrome, title: str) -> None:
    """Until the page the last action opened has loaded (its title starts with ``title``)."""
    WebDriverWait(driver, 30).until(lambda d: d.title.startswith(title))
    WebDriverWait(driver, 30).until(lambda d: d.execute_script("return document.readyState") == "complete")


def _set(driver: webdriver.Chrome, name: str, value: str) -> None:
    field = driver.find_element(By.ID, f"f-{name}")
    label = driver.find_element(By.CSS_SELECTOR, f"label[for='f-{name}']")
    assert label.text  # every field has its label
    if field.tag_name == "select":
        Select(field).select_by_value(value)
    elif field.get_attribute("type") == "date":  # typed dates depend on the browser's locale
        driver.execute_script("arguments[0].value = arguments[1]", field, value)
    else:
        field.clear()
        field.send_keys(value)


def _fill_plan(driver: webdriver.Chrome, server: str, **extra: str) -> None:
    driver.get(f"{server}/")
    search = driver.find_element(By.ID, "q")
    search.send_keys("cenersen arm 3", Keys.ENTER)
    WebDriverWait(driver, 30).until(lambda d: "q=cenersen" in d.current_url)
    _wait(driver, "Regimens")
    link = WebDriverWait(driver, 30).until(until.element_to_be_clickable((By.LINK_TEXT, "cenersen-arm3")))
    link.send_keys(Keys.ENTER)  # the keyboard, not the mouse
    _wait(driver, "cenersen-arm3")
    for name, value in {"weight": "70", "bsa": "1.8", "age": "45", **extra}.items():
        _set(driver, name, value)
    driver.find_element(By.CSS_SELECTOR, "button.primary").send_keys(Keys.ENTER)


#: The plan table as the browser renders it: its headers, and each row's class and its cells' text.
PLAN_TABLE = """
const text = (cells) => [...cells].map((c) => c.innerText);
return [
  text(document.querySelectorAll("table.plan thead th")),
  [...document.querySelectorAll("table.plan tbody tr")].map((r) => [r.className, text(r.querySelectorAll("td"))]),
];
"""


def _rows(driver: webdriver.Chrome) -> tuple[list[str], list[tuple[str, list[str]]]]:
    """The plan table's headers and rows (class, cells), each cell's text as rendered (``innerText``), read in one
    call. Read element by element (``WebElement.text``, about 130 round trips to the driver for cenersen-arm3's 11
    rows) it took 0.84 to 0.94 s against 6 ms, and gave the same headers and rows."""
    headers, rows = driver.execute_script(PLAN_TABLE)
    return headers, [(cls, cells) for cls, cells in rows]


# 7 mg/h over 96 h: 672 mg in one infusion, 168 mg on each of 4 days
CENERSEN = "0.1 mg/kg/h × 70 kg = 7 mg/h continuously over 96 h = 672 mg; this day's share: 7 mg/h × 24 h = 168 mg"
IDARUBICIN = "12 mg/m²/day × 1.8 m² = 21.6 mg"  # days 2-4
CYTARABINE = "1 g/m²/day × 1.8 m² = 1.8 g/day = 1,800 mg"  # days 2-5 at 45 years (3 days over 60)
BY_HAND = [
    ("1", "cenersen", "168 mg", "7 mg/h", CENERSEN),
    ("2", "cenersen", "168 mg", "7 mg/h", CENERSEN),
    ("2", "idarubicin", "21.6 mg", "", IDARUBICIN),
    ("2", "cytarabine", "1,800 mg", "", CYTARABINE),
    ("3", "cenersen", "168 mg", "7 mg/h", CENERSEN),
    ("3", "idarubicin", "21.6 mg", "", IDARUBICIN),
    ("3", "cytarabine", "1,800 mg", "", CYTARABINE),
    ("4", "cenersen", "168 mg", "7 mg/h", CENERSEN),
    ("4", "idarubicin", "21.6 mg", "", IDARUBICIN),
    ("4", "cytarabine", "1,800 mg", "", CYTARABINE),
    ("5", "cytarabine", "1,800 mg", "", CYTARABINE),
]


def test_a_nurse_gets_every_dose_right(browser: tuple[webdriver.Chrome, Path], server: str) -> None:
    driver, downloads = browser
    _fill_plan(driver, server, start="2026-12-01", time="08:00", tz="Europe/Berlin")
    _wait(driver, "Plan: cenersen-arm3")
    headers, rows = _rows(driver)
    assert headers == ["Cycle", "Day", "Date", "Time", "Drug", "Dose", "Rate", "Route", "Method", "Working"]
    shown = [(c[1], c[4], c[5], c[6], c[9]) for _, c in rows]
    assert shown == BY_HAND  # every dose, as worked out by hand
    dates = [c[2] for _, c in rows]
    assert dates == ["2026-12-01"] + ["2026-12-02"] * 3 + ["2026-12-03"] * 3 + ["2026-12-04"] * 3 + ["2026-12-05"]
    assert all(not cls for cls, _ in rows)  # at 45 nothing is conditional
    totals = driver.find_element(By.CSS_SELECTOR, "table.totals").text
    assert "cenersen 672 mg" in totals and "idarubicin 64.8 mg" in totals and "cytarabine 7,200 mg" in totals
    timeline = driver.find_element(By.CSS_SELECTOR, "figure.timeline img")
    assert driver.execute_script("return arguments[0].complete && arguments[0].naturalWidth", timeline) > 300
    if os.environ.get("REGIMEN_UPDATE_SCREENSHOTS"):
        IMAGES.mkdir(parents=True, exist_ok=True)
        driver.save_screenshot(str(IMAGES / "plan-page.png"))
        driver.execute_script("arguments[0].scrollIntoView()", timeline)
        timeline.screenshot(str(IMAGES / "timeline.png"))

    # the calendar, downloaded as a person does: the button, then the file
    driver.find_element(By.ID, "ics-label").send_keys("bed 4")
    driver.find_element(By.XPATH, "//button[normalize-space()='Calendar (.ics)']").click()
    deadline = time.monotonic() + 30
    while not list(downloads.glob("*.ics")):
        assert time.monotonic() < deadline, "the .ics never arrived"
        time.sleep(0.1)
    time.sleep(0.3)
    (ics,) = downloads.glob("*.ics")
    assert ics.name == "cenersen-arm3-plan.ics"
    events = icalendar.Calendar.from_ical(ics.read_bytes()).walk("VEVENT")
    got = sorted((e["DTSTART"].dt, str(e["SUMMARY"])) for e in events)
    berlin = dt.timezone(dt.timedelta(hours=1))  # CET in December
    assert [start for start, _ in got] == [
        dt.datetime(2026, 12, 1, 8, tzinfo=berlin),  # cenersen, one 96 h infusion
        *(dt.datetime(2026, 12, d, 8, tzinfo=berlin) for d in (2, 2, 3, 3, 4, 4, 5)),
    ]
    summaries = [s for _, s in got]
    assert summaries[0].startswith("Cenersen 672 mg") and all("bed 4" in s for s in summaries)
    assert sorted(s.split(" — ")[0].split(" (")[0] for s in summaries[1:]) == sorted(
        ["Idarubicin 21.6 mg IV"] * 3 + ["Cytarabine 1,800 mg IV"] * 4
    )


def test_without_an_age_day_5_is_marked_only_if(browser: tuple[webdriver.Chrome, Path], server: str) -> None:
    driver, _ = browser
    _fill_plan(driver, server, age="")
    _wait(driver, "Plan: cenersen-arm3")
    headers, rows = _rows(driver)
    marked = [cells for cls, cells in rows if "conditional" in cls]
    only_if = headers.index("Only if")
    assert [(c[1], c[3], c[4], c[only_if]) for c in marked] == [("5", "cytarabine", "1,800 mg", "age ≤ 60 years")]
    tag = driver.find_element(By.CSS_SELECTOR, "tr.conditional .tag")
    assert tag.text == "only if age ≤ 60 years" and tag.is_displayed()
    cell = driver.find_element(By.CSS_SELECTOR, "tr.conditional td")
    background = driver.execute_script("return getComputedStyle(arguments[0]).backgroundImage", cell)
    assert "repeating-linear-gradient" in background  # hatched, not only coloured
    warning = driver.find_element(By.CSS_SELECTOR, "section.warnings").text
    assert "Give ‘Age’ to settle it" in warning and "--age" not in warning


def test_errors_sit_beside_their_field_in_the_browser(browser: tuple[webdriver.Chrome, Path], server: str) -> None:
    driver, _ = browser
    _fill_plan(driver, server, weight="154 lb", height="180 in", bsa="")
    error = WebDriverWait(driver, 30).until(until.presence_of_element_located((By.ID, "e-height")))
    assert error.text == "height 457.2 cm is impossible: give a value between 0 and 275 cm (‘Height’)"  # 180 × 2.54
    field = driver.find_element(By.ID, "f-height")
    assert field.get_attribute("aria-invalid") == "true" and field.get_attribute("value") == "180 in"
    assert driver.switch_to.active_element == field  # the keyboard is put where the fix is


#: What has the keyboard: its id, its tag, its outline's style (the focus can be seen) and its text.
FOCUSED = """
const e = document.activeElement;
return [e.id, e.tagName.toLowerCase(), getComputedStyle(e).outlineStyle, e.innerText];
"""


def test_the_form_is_walked_with_the_tab_key(browser: tuple[webdriver.Chrome, Path], server: str) -> None:
    """Tab, as a person presses it (the keyboard's action, to whatever has the focus), then one read of what has the
    focus. Read element by element (the fields' ids, then at each Tab the active element, its tag, its outline and
    its id: 253 round trips to the driver, against 69) the walk took 2.3 to 2.6 s, against 1.0 to 1.2 s."""
    driver, _ = browser
    driver.get(f"{server}/regimens/cenersen-arm3")
    fields = driver.execute_script(
        "return [...document.querySelectorAll(arguments[0])].map((f) => f.id)",
        "form.plan input:not([type=hidden]), form.plan select",
    )
    driver.find_element(By.ID, "f-weight").click()
    assert driver.execute_script(FOCUSED)[0] == "f-weight"
    visited = ["f-weight"]
    for _ in range(3 * len(fields)):  # a date field takes a Tab for each of its parts (day, month, year)
        ActionChains(driver).send_keys(Keys.TAB).perform()  # one Tab (a chain performed again repeats its keys)
        focused, tag, outline, text = driver.execute_script(FOCUSED)
        if tag == "button":
            break
        assert outline not in ("none", ""), focused  # the focus can be seen
        if focused != visited[-1]:
            visited.append(focused)
    assert visited == fields  # every field, in the order of the form
    assert (tag, text) == ("button", "Show the plan")


def test_the_core_flow_works_with_javascript_off(browser: tuple[webdriver.Chrome, Path], server: str) -> None:
    """The module's browser with its scripts switched off for this test (Chromium's own switch, through the DevTools
    protocol; a Chromium of its own, started with JavaScript blocked in its settings, cost a second of CPU)."""
    driver, _ = browser
    driver.execute_cdp_cmd("Emulation.setScriptExecutionDisabled", {"value": True})
    try:
        driver.get("data:text/html,<title>off</title><script>document.title = 'on'</script>")
        assert driver.title == "off"  # a page's script does not run
        driver.get(f"{server}/")
        driver.find_element(By.ID, "q").send_keys("cenersen arm 3", Keys.ENTER)
        WebDriverWait(driver, 30).until(lambda d: "q=cenersen" in d.current_url)
        driver.find_element(By.LINK_TEXT, "cenersen-arm3").click()
        WebDriverWait(driver, 30).until(lambda d: d.title.startswith("cenersen-arm3"))
        for name, value in {"weight": "70", "bsa": "1.8", "age": "45"}.items():
            driver.find_element(By.ID, f"f-{name}").send_keys(value)
        driver.find_element(By.CSS_SELECTOR, "button.primary").click()
        WebDriverWait(driver, 30).until(lambda d: d.title.startswith("Plan: cenersen-arm3"))
        cells = [c for _, c in _rows(driver)[1]]  # the driver's own script runs with the page's turned off
        assert [(c[1], c[3], c[4], c[5], c[8]) for c in cells] == BY_HAND
    finally:
        driver.execute_cdp_cmd("Emulation.setScriptExecutionDisabled", {"value": False})


def _printed(driver: webdriver.Chrome, paper: str, tmp_path: Path) -> list[Path]:
    options = PrintOptions()
    options.page_width, options.page_height = PAPERS[paper]
    options.margin_top = options.margin_bottom = options.margin_left = options.margin_right = 0
    pdf = tmp_path / f"handout-{paper}.pdf"
    pdf.write_bytes(base64.b64decode(driver.print_page(options)))
    subprocess.run(["pdftoppm", "-r", "30", "-gray", "-png", str(pdf), str(tmp_path / "page")], check=True)
    return sorted(tmp_path.glob("page-*.png"))


@pytest.mark.parametrize(
    ("regimen_id", "months"),
    [
        # capox from 1 December: 8 cycles of 21 days, the last from 27 April: December to May
        ("capox", ["December 2026", "January 2027", "February 2027", "March 2027", "April 2027", "May 2027"]),
        # mfolfox6: 12 cycles of 14 days, the last from 4 May, its pump into 5 May (the busiest days of all)
        ("mfolfox6", ["December 2026", "January 2027", "February 2027", "March 2027", "April 2027", "May 2027"]),
    ],
)
@pytest.mark.parametrize("paper", ["a4", "letter"])
def test_the_handout_prints_one_month_a_page(
    browser: tuple[webdriver.Chrome, Path], server: str, paper: str, tmp_path: Path, regimen_id: str, months: list[str]
) -> None:
    driver, _ = browser
    driver.get(f"{server}/regimens/{regimen_id}")
    for name, value in {"weight": "70", "bsa": "1.8", "age": "60", "start": "2026-12-01", "time": "08:00"}.items():
        _set(driver, name, value)
    driver.find_element(By.CSS_SELECTOR, "button.primary").click()
    _wait(driver, f"Plan: {regimen_id}")
    Select(driver.find_element(By.ID, "paper")).select_by_value(paper)
    driver.find_element(By.XPATH, "//button[normalize-space()='Open to print']").click()
    _wait(driver, "Treatment calendar")
    pages = _printed(driver, paper, tmp_path)
    assert len(pages) == len(months), f"{len(pages)} pages for {len(months)} months"
    pdf = tmp_path / f"handout-{paper}.pdf"
    for i, month in enumerate(months, start=1):
        text = subprocess.run(["pdftotext", "-f", str(i), "-l", str(i), "-layout", str(pdf), "-"], capture_output=True,
                              text=True, check=True).stdout  # fmt: skip
        assert re.search(rf"^\s*{month}\s*$", text, re.M), f"page {i} is not {month}"
        assert "Your care team" in text and "Research software" in text
    for page in pages:
        with Image.open(page) as image:
            assert sum(image.convert("L").histogram()[:128]) > 500, f"{page.name} is blank"
    if os.environ.get("REGIMEN_UPDATE_SCREENSHOTS") and paper == "a4" and regimen_id == "capox":
        subprocess.run(["pdftoppm", "-r", "60", "-f", "1", "-l", "1", "-singlefile", "-png", str(pdf),
                        str(IMAGES / "handout-page")], check=True)  # fmt: skip
