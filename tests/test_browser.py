"""The web app in a real browser (issue 13.4): Debian's Chromium, headless, driven by Selenium through Debian's
chromedriver (``.ci/run`` installs both; CI cannot download a browser of its own).

A nurse's path: search, open cenersen-arm3 with the keyboard, fill the form for 70 kg / 1.8 m² / 45 years, check every
dose in the rendered table against ``regimen expand --format json``, download the .ics and parse it, print the handout
to PDF on A4 and on Letter and check each month is one page that is not blank (pdftoppm to PNG).

``REGIMEN_UPDATE_SCREENSHOTS=1`` also writes the README's screenshots (docs/images/) from this run.
"""

from __future__ import annotations

import base64
import json
import os
import re
import shutil
import subprocess
import time
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import icalendar
import pytest
from click.testing import CliRunner
from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.common.print_page_options import PrintOptions
from selenium.webdriver.support import expected_conditions as until
from selenium.webdriver.support.ui import Select, WebDriverWait
from tests.test_web import server

from regimen.cli import cli

__all__ = ["server"]

IMAGES = Path(__file__).parents[1] / "docs" / "images"
PAPERS = {"a4": (21.0, 29.7), "letter": (21.59, 27.94)}  # cm


@pytest.fixture(scope="module")
def browser(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[webdriver.Chrome, Path]]:
    chromium = shutil.which("chromium") or "/usr/bin/chromium"
    driver_path = shutil.which("chromedriver") or "/usr/bin/chromedriver"
    assert Path(chromium).exists() and Path(driver_path).exists(), "apt-get install chromium chromium-driver"
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
    options.add_experimental_option(
        "prefs", {"download.default_directory": str(downloads), "download.prompt_for_download": False}
    )
    driver = webdriver.Chrome(service=Service(driver_path), options=options)
    driver.execute_cdp_cmd("Page.setDownloadBehavior", {"behavior": "allow", "downloadPath": str(downloads)})
    try:
        yield driver, downloads
    finally:
        driver.quit()


def _number(text: str) -> Decimal:
    match = re.match(r"([\d,]+(?:\.\d+)?)", text.strip())
    assert match is not None, text
    return Decimal(match.group(1).replace(",", ""))


def _wait(driver: webdriver.Chrome, title: str) -> None:
    """Until the page the last action opened has loaded (its title starts with ``title``)."""
    WebDriverWait(driver, 30).until(lambda d: d.title.startswith(title) and d.execute_script(
        "return document.readyState") == "complete")  # fmt: skip


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
        field = driver.find_element(By.ID, f"f-{name}")
        label = driver.find_element(By.CSS_SELECTOR, f"label[for='f-{name}']")
        assert label.text  # every field has its label
        if field.get_attribute("type") == "date":  # typed dates depend on the browser's locale
            driver.execute_script("arguments[0].value = arguments[1]", field, value)
        else:
            field.clear()
            field.send_keys(value)
    driver.find_element(By.CSS_SELECTOR, "button.primary").send_keys(Keys.ENTER)
    if extra.get("weight") != "700":
        _wait(driver, "Plan: cenersen-arm3")


def test_a_nurse_gets_every_dose_right(browser: tuple[webdriver.Chrome, Path], server: str) -> None:
    driver, downloads = browser
    _fill_plan(driver, server, start="2026-12-01", time="08:00", tz="Europe/Berlin")
    assert driver.title.startswith("Plan: cenersen-arm3")
    rows = driver.find_elements(By.CSS_SELECTOR, "table.plan tbody tr")
    shown = []
    for row in rows:
        cells = [c.text for c in row.find_elements(By.TAG_NAME, "td")]
        shown.append((int(cells[1]), cells[4], _number(cells[5])))
    expected = json.loads(
        CliRunner()
        .invoke(
            cli,
            [
                "expand",
                "cenersen-arm3",
                "--weight",
                "70",
                "--bsa",
                "1.8",
                "--age",
                "45",
                "--start",
                "2026-12-01",
                "--format",
                "json",
            ],
        )
        .stdout
    )["administrations"]
    assert sorted(shown) == sorted((a["day"], a["drug"], Decimal(str(a["dose"]))) for a in expected)
    assert (2, "idarubicin", Decimal("21.6")) in shown and (1, "cenersen", Decimal("168")) in shown
    working = driver.find_element(By.CSS_SELECTOR, "table.plan tbody tr td:last-child").text
    assert "0.1 mg/kg/h × 70 kg" in working
    timeline = driver.find_element(By.CSS_SELECTOR, "figure.timeline img")
    assert driver.execute_script("return arguments[0].naturalWidth", timeline) > 300  # the SVG rendered
    if os.environ.get("REGIMEN_UPDATE_SCREENSHOTS"):
        IMAGES.mkdir(parents=True, exist_ok=True)
        driver.save_screenshot(str(IMAGES / "plan-page.png"))
        driver.execute_script("arguments[0].scrollIntoView()", timeline)
        timeline.screenshot(str(IMAGES / "timeline.png"))

    # the calendar, downloaded as a person does: the button, then the file
    driver.find_element(By.XPATH, "//button[normalize-space()='Calendar (.ics)']").click()
    deadline = time.monotonic() + 30
    while not list(downloads.glob("*.ics")):
        assert time.monotonic() < deadline, "the .ics never arrived"
        time.sleep(0.1)
    time.sleep(0.3)
    calendar = icalendar.Calendar.from_ical(next(downloads.glob("*.ics")).read_bytes())
    summaries = sorted(str(e["SUMMARY"]) for e in calendar.walk("VEVENT"))
    assert len(summaries) == 8 and any(s.startswith("Cenersen 672 mg") for s in summaries)


def test_errors_sit_beside_their_field_in_the_browser(browser: tuple[webdriver.Chrome, Path], server: str) -> None:
    driver, _ = browser
    _fill_plan(driver, server, weight="700")
    error = WebDriverWait(driver, 30).until(until.presence_of_element_located((By.ID, "e-weight")))
    assert "700 kg is impossible" in error.text
    assert driver.find_element(By.ID, "f-weight").get_attribute("aria-invalid") == "true"


@pytest.mark.parametrize("paper", ["a4", "letter"])
def test_the_handout_prints_one_month_a_page(
    browser: tuple[webdriver.Chrome, Path], server: str, paper: str, tmp_path: Path
) -> None:
    driver, _ = browser
    # capox from 1 December: 8 cycles of 21 days, December to May: six months
    driver.get(f"{server}/regimens/capox")
    for name, value in {"weight": "70", "bsa": "1.8", "age": "60"}.items():
        driver.find_element(By.ID, f"f-{name}").send_keys(value)
    driver.execute_script("arguments[0].value = '2026-12-01'", driver.find_element(By.ID, "f-start"))
    driver.find_element(By.CSS_SELECTOR, "button.primary").click()
    _wait(driver, "Plan: capox")
    Select(driver.find_element(By.ID, "paper")).select_by_value(paper)
    driver.find_element(By.XPATH, "//button[normalize-space()='Open to print']").click()
    _wait(driver, "Treatment calendar")
    options = PrintOptions()
    options.page_width, options.page_height = PAPERS[paper]
    options.margin_top = options.margin_bottom = options.margin_left = options.margin_right = 0
    pdf = tmp_path / f"handout-{paper}.pdf"
    pdf.write_bytes(base64.b64decode(driver.print_page(options)))
    subprocess.run(["pdftoppm", "-r", "30", "-gray", "-png", str(pdf), str(tmp_path / "page")], check=True)
    pages = sorted(tmp_path.glob("page-*.png"))
    assert len(pages) == 6, f"{len(pages)} pages for 6 months"
    from PIL import Image

    for page in pages:
        with Image.open(page) as image:
            dark = sum(1 for v in image.convert("L").getdata() if v < 128)
            assert dark > 500, f"{page.name} is blank"
    if os.environ.get("REGIMEN_UPDATE_SCREENSHOTS") and paper == "a4":
        shutil.copy(pages[0], IMAGES / "handout-page.png")
