"""``regimen check``: one cycle's values against the regimen's gates and modification table, and the proposal."""

from __future__ import annotations

import json
from typing import Any

import click

from regimen.cli.options import regimen_argument, regimen_path_option
from regimen.clinical.gates import CycleCheck, evaluate, refuse_nothing_to_check
from regimen.engine.courses.gatecheck import crcl_of
from regimen.engine.courses.records import parse_cycle
from regimen.errors import RegimenError
from regimen.export.io import write_output
from regimen.protocol.catalog import load
from regimen.quantities.labs import TESTS, LabValue, describe, read

#: The command line's name of each test (``--plt`` is the ward's word for platelets).
FLAGS = {"plt": "platelets", **{name.replace("_", "-"): name for name in TESTS}}


def test_options(fn: Any) -> Any:
    for flag in reversed(list(FLAGS)):
        test = FLAGS[flag]
        shown = describe(test)
        if flag == "platelets":
            continue  # --plt and --platelets are one option
        names = ["--plt", "--platelets"] if flag == "plt" else [f"--{flag}"]
        fn = click.option(*names, test, metavar="VALUE", help=shown + ".")(fn)
    return fn


@click.command()
@regimen_argument
@click.option(
    "--cycle",
    required=True,
    metavar="N|PHASE:N",
    help="The cycle about to start (1 = the first); PHASE:N in a regimen of phases (ac:2): only that phase's gates.",
)
@test_options
@click.option(
    "--scr",
    metavar="SCR",
    help="Serum creatinine (mg/dL, or '97 umol/L'): with --age, --weight and --sex "
    "the Cockcroft-Gault CrCl when --crcl is not given.",
)
@click.option("--age", metavar="Y", help="Age in completed years (for the CrCl).")
@click.option("--weight", metavar="W", help="Body weight (for the CrCl): kg, or with a unit.")
@click.option("--sex", metavar="S", help="female or male (for the CrCl).")
@click.option(
    "--delays",
    type=int,
    default=0,
    show_default=True,
    help="Times this cycle has already been delayed (for the table's 'after N delays' lines).",
)
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["text", "json"]),
    default="text",
    show_default=True,
    help="text (the default) or json.",
)
@click.option("-o", "--output", metavar="FILE", help="Write to FILE instead of standard output.")
@regimen_path_option
def check(
    regimen_ref: str,
    cycle: str,
    scr: str | None,
    age: str | None,
    weight: str | None,
    sex: str | None,
    delays: int,
    fmt: str,
    output: str | None,
    regimen_path: tuple[str, ...],
    **tests: str | None,
) -> None:
    """Check one cycle's values against REGIMEN's gates and modification table; propose go, delay, reduce, omit or
    stop per drug, with the rule that fired and its source. Nothing is recorded.

    \b
    Example:
      regimen check r-chop-21 --cycle 2 --anc 1.2 --plt 150
      regimen check mfolfox6 --cycle 4 --anc 2.1 --plt 180 --neuropathy '2 persistent'
      regimen check dd-ac-t --cycle paclitaxel:2 --anc 1.8 --neuropathy 3
    """
    reg = load(regimen_ref, regimen_path)
    refuse_nothing_to_check(reg)
    phase, number = parse_cycle(cycle, reg)
    if delays < 0:
        raise RegimenError("--delays is a count of delays: 0 or more")
    values: dict[str, LabValue] = {test: read(test, raw) for test, raw in tests.items() if raw is not None}
    extra: list[str] = []

    def run(crcl: LabValue) -> CycleCheck:
        return evaluate(reg, number, {**values, "crcl": crcl}, {m.text: delays for m in reg.modifications}, phase)

    if "crcl" not in values and scr is not None:  # without the sex: the same proposal for either sex, or refused
        values["crcl"], lines = crcl_of(scr, age, weight, sex, run)
        extra.extend(lines)
    result = evaluate(reg, number, values, {m.text: delays for m in reg.modifications}, phase)
    text = (
        json.dumps(check_record(result, extra), indent=2, ensure_ascii=False) + "\n"
        if fmt == "json"
        else (check_text(result, extra))
    )
    write_output(text, output)


def check_text(result: CycleCheck, extra: list[str]) -> str:
    out = [f"{result.regimen}, cycle {result.label}: {result.proposal.upper()}"]
    if result.delay_days:
        out[0] += f" (delay {result.delay_days} days)"
    out += ["", "Before the cycle:"]
    none = (
        f"- the regimen states no gates for the {result.phase} phase"
        if result.phase
        else "- the regimen states no gates"
    )
    out += [f"- {c.line()}" for c in result.checks] or [none]
    out += [f"- {line}" for line in extra]
    out += ["", "Proposal per drug:"]
    out += [f"- {line}" for line in result.drug_lines()]
    if result.warnings:
        out += ["", "Warnings:", *(f"- {w}" for w in result.warnings)]
    if result.notes:
        out += ["", "Notes:", *(f"- {n}" for n in result.notes)]
    out += ["", "A proposal from the regimen's table: the prescriber decides. Nothing was recorded."]
    return "\n".join(out) + "\n"


def check_record(result: CycleCheck, extra: list[str]) -> dict[str, Any]:
    return {
        "regimen": result.regimen,
        "cycle": result.cycle,
        "phase": result.phase,
        "proposal": result.proposal,
        "delay_days": result.delay_days,
        "checks": [
            {
                "test": c.condition.test,
                "require": c.condition.text,
                "value": c.value.shown if c.value else None,
                "working": c.value.working if c.value else None,
                "met": c.met,
                "source": c.source,
            }
            for c in result.checks
        ],
        "drugs": [
            {
                "component": d.component,
                "drug": d.drug,
                "proposal": d.proposal,  # the table's own for this drug
                "waits_with_cycle": d.waits(result.held),  # True: a gate no rule answers holds the cycle, and it
                "text": line,
                "rules": [{"rule": f.line(), "source": f.modification.source} for f in d.steps],
            }
            for d, line in zip(result.drugs, result.drug_lines(), strict=True)
        ],
        "working": extra,
        "warnings": list(result.warnings),
        "notes": list(result.notes),
    }


__all__ = ["FLAGS", "check", "check_record", "check_text", "test_options"]
