"""Issue 27 item 1: the antiemetics follow the regimen's emetogenic risk as the guidelines state it. Most files
encode no antiemetic (the libraries leave them to local policy): then `regimen show` says so and names what the
class calls for (MASCC/ESMO 2016, ASCO 2011), never a guessed dose."""

from __future__ import annotations

from dataclasses import replace

from click.testing import CliRunner

from regimen import load
from regimen.cli import cli
from regimen.model import EmetogenicRisk
from regimen.protocol.antiemetics import antiemetic_lines


def test_a_high_risk_regimen_without_antiemetics_says_they_are_not_encoded_and_what_the_class_calls_for() -> None:
    shown = CliRunner().invoke(cli, ["show", "dd-ac-t"])
    assert shown.exit_code == 0, shown.output
    assert (
        "Antiemetics: not encoded in this file (prescribe per local policy). For high emetic risk the guidelines "
        "call for an NK1 receptor antagonist + a 5-HT3 receptor antagonist + dexamethasone" in shown.output
    )


def test_a_moderate_risk_regimen_names_the_two_agent_classes_and_where_asco_differs() -> None:
    # 7+3 is of moderate risk and encodes no antiemetic (mFOLFOX6, used here before, now encodes the NZ SRL ones)
    shown = CliRunner().invoke(cli, ["show", "7-plus-3"])
    assert shown.exit_code == 0, shown.output
    assert (
        "Antiemetics: not encoded in this file (prescribe per local policy). For moderate emetic risk the guidelines "
        "call for a 5-HT3 receptor antagonist + dexamethasone" in shown.output
    )
    assert "ASCO 2011 allows an NK1 receptor antagonist in addition" in shown.output


def test_mfolfox6_names_the_antiemetics_it_encodes_beside_what_its_class_calls_for() -> None:
    shown = CliRunner().invoke(cli, ["show", "mfolfox6"])
    assert shown.exit_code == 0, shown.output
    assert "Antiemetics for moderate emetic risk: a 5-HT3 receptor antagonist + dexamethasone" in shown.output
    assert "encoded in this file: ondansetron, dexamethasone, dexamethasone-days-2-3." in shown.output
    assert "not encoded in this file" not in shown.output
    assert "- Ondansetron 8 mg by mouth, day 1, 60 min before oxaliplatin [antiemetic]." in shown.output
    assert "- Dexamethasone 8 mg by mouth, days 2\u20133 [antiemetic]." in shown.output


def test_encoded_antiemetics_are_named_and_no_risk_means_no_line() -> None:
    risk = EmetogenicRisk(level="low", source="s")
    components = {c.id: c for c in load("paclitaxel-weekly").components()}
    paclitaxel = components["paclitaxel"]
    ondansetron = replace(components["dexamethasone"], id="ondansetron", drug="ondansetron", kind="antiemetic")
    (line,) = antiemetic_lines(risk, [ondansetron, paclitaxel])
    assert line.startswith("Antiemetics for low emetic risk: one agent: dexamethasone, a 5-HT3 receptor antagonist")
    assert line.endswith("encoded in this file: ondansetron.")
    assert antiemetic_lines(None, [ondansetron]) == []
    (minimal,) = antiemetic_lines(EmetogenicRisk(level="minimal", source="s"), [paclitaxel])
    assert "no routine prophylaxis" in minimal and "not encoded" not in minimal
