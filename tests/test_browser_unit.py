"""A day of a unit in a real browser (issue 28.4): headless Chromium (tests/test_browser.py drives it) against
``regimen serve`` with sign-in, three users made with ``regimen users add``.

The prescriber signs in, starts an mFOLFOX6 course on the courses page and records the DPYD result as met; the
pharmacist signs in, checks an order of oxaliplatin 10 % above
the computed dose (flagged), and verifies cycle 1 on the page; the nurse signs in and records each dose of day 1 as
given; the course page's history and ``regimen course export`` name the three.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from selenium import webdriver
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import Select, WebDriverWait
from tests.test_browser import browser
from tests.webserver import running

from regimen.cli import cli

__all__ = ["browser"]
pytestmark = [pytest.mark.browser, pytest.mark.integration]

PW = "a long passphrase for the unit"
# mFOLFOX6 for 70 kg, 175 cm: BSA (Mosteller) √(175 × 70 / 3600) = 1.845 m²; oxaliplatin 85 mg/m² × 1.845 m² =
# 156.825 mg; leucovorin and the fluorouracil bolus 400 × 1.845 = 738 mg; the 46 h pump 2,400 × 1.845 = 4,428 mg.
DAY_1 = [("oxaliplatin", "156.8 mg"), ("leucovorin", "738 mg"), ("fluorouracil-bolus", "738 mg")]
DAY_1 += [("fluorouracil-pump", "4428 mg")]


def regimen(*args: str, stdin: str | None = None) -> Result:
    result = CliRunner().invoke(cli, list(args), input=stdin)
    assert result.exit_code == 0, result.output
    return result


@pytest.fixture
def unit(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """A course database with an administrator and three users (made with 'regimen users add'), served."""
    monkeypatch.setenv("REGIMEN_SESSION", str(tmp_path / "session"))
    db = str(tmp_path / "unit.sqlite3")
    regimen("users", "add", "admin", "--role", "administrator", "--db", db, stdin=f"{PW}\n{PW}\n")
    regimen("login", "--user", "admin", "--db", db, "--password-stdin", stdin=PW + "\n")
    for name, role in (("dr.jones", "prescriber"), ("pkhan", "pharmacist"), ("rsmith", "nurse")):
        regimen("users", "add", name, "--role", role, "--db", db, "--password-stdin", stdin=PW + "\n")
    with running(tmp_path / "server.log", "--db", db, "--rate-limit", "0") as base:
        yield base


def _loaded(driver: webdriver.Chrome, title: str) -> None:
    WebDriverWait(driver, 30).until(lambda d: d.title.startswith(title))
    WebDriverWait(driver, 30).until(lambda d: d.execute_script("return document.readyState") == "complete")


def _sign_in(driver: webdriver.Chrome, base: str, name: str, page: str = "/courses/bed4") -> None:
    driver.get(f"{base}{page}")
    _loaded(driver, "Sign in")  # nobody signed in reaches a course
    driver.find_element(By.ID, "user").send_keys(name)
    driver.find_element(By.ID, "password").send_keys(PW)
    driver.find_element(By.CSS_SELECTOR, "form[action='/signin'] button").click()
    _loaded(driver, "Course" if page != "/courses" else "Courses")  # and back where they were sent from


def _sign_out(driver: webdriver.Chrome) -> None:
    driver.find_element(By.CSS_SELECTOR, "form.signout button").click()
    _loaded(driver, "Sign in")


def _submit(driver: webdriver.Chrome, kind: str, **fields: str) -> str:
    """Fill the course page's form of ``kind`` and send it; the line the page says was recorded."""
    form = driver.find_element(By.CSS_SELECTOR, f"form[action$='/record/{kind}']")
    for name, value in fields.items():
        field = form.find_element(By.NAME, name)
        if field.tag_name == "select":
            Select(field).select_by_value(value)
        else:
            field.clear()
            field.send_keys(value)
    form.find_element(By.CSS_SELECTOR, "button[type=submit]").click()
    WebDriverWait(driver, 30).until(
        lambda d: "recorded=" in d.current_url or d.find_elements(By.CSS_SELECTOR, "p.error")
    )
    errors = driver.find_elements(By.CSS_SELECTOR, "p.error[role=alert]")
    assert not errors, errors[0].text
    return str(driver.find_element(By.CSS_SELECTOR, "p.recorded").text)


def test_a_day_of_the_unit_with_three_users(unit: str, browser: tuple[webdriver.Chrome, Path], tmp_path: Path) -> None:
    base, driver = unit, browser[0]
    today = dt.date.today().isoformat()
    _sign_in(driver, base, "dr.jones", "/courses")
    assert "Signed in as dr.jones (prescriber)" in driver.find_element(By.CSS_SELECTOR, "form.signout").text
    start = driver.find_element(By.CSS_SELECTOR, "form[action='/courses/start']")
    Select(start.find_element(By.NAME, "regimen")).select_by_value("mfolfox6")
    values = {"course": "bed4", "weight": "70", "height": "175", "age": "60", "sex": "female"}
    for name, value in values.items():
        start.find_element(By.NAME, name).send_keys(value)
    driver.execute_script("arguments[0].value = arguments[1]", start.find_element(By.NAME, "start"), today)
    start.find_element(By.CSS_SELECTOR, "button[type=submit]").click()
    _loaded(driver, "Course bed4")
    said = _submit(driver, "requirement", id="dpyd", status="met", result="DPYD normal metabolizer")
    assert "dr.jones: requirement dpyd: met (DPYD normal metabolizer)" in said
    assert not driver.find_elements(By.CSS_SELECTOR, "form[action$='/record/verify']")  # not the prescriber's
    _sign_out(driver)

    _sign_in(driver, base, "pkhan")
    # an order 10 % over the computed dose: 172.5 mg of oxaliplatin is +9.995 % of 156.825 mg, outside ±5 %
    orders = driver.find_element(By.CSS_SELECTOR, "form[action$='/orders']")
    orders.find_element(By.NAME, "orders").send_keys("oxaliplatin@1=172.5mg over 2h")
    orders.find_element(By.CSS_SELECTOR, "button[type=submit]").click()
    flag = WebDriverWait(driver, 30).until(lambda d: d.find_element(By.CSS_SELECTOR, "tr.flag"))
    assert flag.is_displayed() and "OUTSIDE the ±5 % tolerance" in flag.text and "+10" in flag.text
    weight = driver.execute_script("return getComputedStyle(arguments[0].querySelector('td')).fontWeight", flag)
    assert int(weight) >= 700  # the flag stands out, not only by its word
    summary = driver.find_element(By.ID, "orders-title").text
    assert summary.startswith("NOT VERIFIED: 0 of 1 order within tolerance; 1 order outside the tolerance")
    said = _submit(driver, "verify", cycle="1")
    assert (
        "pkhan: cycle 1: doses verified against the protocol (day 1 ondansetron 8 mg, day 1 dexamethasone 8 mg, "
        "day 1 oxaliplatin 156.825 mg"  # the antiemetics first, as the plan gives them
    ) in said
    assert "day 1-2 fluorouracil-pump 4,428 mg" in said
    _sign_out(driver)

    _sign_in(driver, base, "rsmith")
    for n, (drug, dose) in enumerate(DAY_1, start=1):
        said = _submit(driver, "given", cycle="1", day="1", drug=drug, dose=dose, lot=f"LOT-{n}")
        assert f"rsmith: given: {drug} cycle 1 day 1 {dose}" in said and f"lot LOT-{n}" in said
    driver.get(f"{base}/due?from={today}")
    _loaded(driver, "Due")
    # the day's antiemetics (ondansetron and dexamethasone, by mouth an hour before oxaliplatin) come first, verified
    # with the cycle and not recorded here; the four anticancer preparations given
    assert [t.text for t in driver.find_elements(By.CSS_SELECTOR, "table.plan tbody td:first-child")] == [
        "verified",
        "verified",
        *["given"] * 4,
    ]
    driver.get(f"{base}/courses/bed4")
    history = [li.text for li in driver.find_elements(By.CSS_SELECTOR, "ol.history li")]
    assert [h.split(" ")[4].rstrip(":") for h in history] == ["dr.jones", "dr.jones", "pkhan", *["rsmith"] * 4]
    assert history[0].endswith(f"started mfolfox6 from {today} (why: course started)")
    _sign_out(driver)

    # the audit trail, as exported, names the three
    exported = json.loads(regimen("course", "export", "bed4", "--db", str(tmp_path / "unit.sqlite3")).stdout)
    assert exported["records"]["started_by"] == "dr.jones"
    assert [(c["kind"], c["who"]) for c in exported["records"]["changes"]] == [
        ("requirement", "dr.jones"),
        ("verify", "pkhan"),
        *[("given", "rsmith")] * 4,
    ]
