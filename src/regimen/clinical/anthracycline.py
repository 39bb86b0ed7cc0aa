"""Cumulative anthracycline exposure as doxorubicin-equivalent mg/m².

The factors are data, never code: each table is a TOML file with a name, version and source
(``src/regimen/data/anthracycline-*.toml``, or any file given by path). Tables disagree, and some make no
recommendation for some drugs; a drug without a factor in the chosen table is reported ("no factor for
idarubicin in table ighg-2025") and not counted, never given a guessed factor.

Every drug named in any bundled table (with or without a factor) is treated as an anthracycline (or the
anthraquinone mitoxantrone) when a plan is checked.
"""

from __future__ import annotations

import functools
import re
import tomllib
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from fractions import Fraction
from itertools import repeat
from operator import is_
from pathlib import Path

from regimen.errors import RegimenError, option
from regimen.model import Administration, Regimen
from regimen.quantities.exact import exact_sum, format_fraction, ratio_text, significant_text
from regimen.quantities.units import parse_dose

PREFIX = "anthracycline-"

#: The table and lifetime limit a plan is held against when the user chooses none (--anthracycline-table,
#: --anthracycline-limit): a regimen with an anthracycline always shows its doxorubicin-equivalent total.
DEFAULT_TABLE = "esc-2022"
DEFAULT_LIMIT = Fraction(450)  # mg/m² doxorubicin-equivalent
DEFAULT_LIMIT_SOURCE = (
    "default; US doxorubicin prescribing information: cardiomyopathy in 5-8 % at a cumulative 450 mg/m², "
    "rising steeply above 400 mg/m²"
)


class AnthracyclineError(RegimenError):
    """A factor table or a prior dose that cannot be used."""


@dataclass(frozen=True, slots=True)
class FactorTable:
    name: str
    title: str
    version: str
    source: str
    factors: dict[str, Fraction]
    notes: dict[str, str] = field(default_factory=dict)  # drug -> caveat of the source
    no_factor: dict[str, str] = field(default_factory=dict)  # drug -> why the source gives none
    path: str | None = None
    caveat: str = ""  # the source's own caveat about the whole table (whom the ratios come from)

    @property
    def drugs(self) -> set[str]:
        return set(self.factors) | set(self.no_factor)

    def label(self) -> str:
        return f"table {self.name} ({self.title}; {self.source})"


def _data_dir() -> Path:
    return Path(__file__).parent / "data"


def bundled_tables() -> list[str]:
    return sorted(p.stem[len(PREFIX) :] for p in _data_dir().glob(f"{PREFIX}*.toml"))


def load_table(ref: str) -> FactorTable:
    """A bundled table by name ('esc-2022') or a table file by path."""
    if not (ref.endswith(".toml") or "/" in ref):
        return _bundled(ref)  # read once per process: every plan with an anthracycline uses one
    return _read_table(Path(ref), ref)


@functools.cache
def _bundled(name: str) -> FactorTable:
    return _read_table(_data_dir() / f"{PREFIX}{name}.toml", name)


def _read_table(path: Path, ref: str) -> FactorTable:
    if not path.is_file():
        raise AnthracyclineError(
            f"unknown anthracycline table {ref!r}: use one of {', '.join(bundled_tables())} or a path to a .toml table"
        )
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise AnthracyclineError(f"{path}: not a valid TOML factor table ({exc})") from None
    for key in ("name", "title", "version", "source", "factor"):
        if key not in data:
            raise AnthracyclineError(
                f"{path}: missing {key!r}; a factor table needs name, title, version, source and [factor]"
            )
    factors: dict[str, Fraction] = {}
    for drug, raw in dict(data["factor"]).items():
        try:
            value = Fraction(Decimal(str(raw)))
        except (InvalidOperation, ValueError):
            raise AnthracyclineError(f'{path}: factor for {drug} must be a number as text, e.g. "0.8"') from None
        if value <= 0:
            raise AnthracyclineError(f"{path}: factor for {drug} must be positive")
        factors[drug.lower()] = value
    no_factor = {k.lower(): str(v) for k, v in dict(data.get("no_factor", {})).items()}
    both = set(factors) & set(no_factor)
    if both:
        raise AnthracyclineError(f"{path}: {sorted(both)[0]} is listed with a factor and without one; keep one")
    return FactorTable(
        name=str(data["name"]),
        title=str(data["title"]),
        version=str(data["version"]),
        source=str(data["source"]),
        factors=factors,
        notes={k.lower(): str(v) for k, v in dict(data.get("note", {})).items()},
        no_factor=no_factor,
        path=str(path),
        caveat=str(data.get("caveat", "")),
    )


@functools.cache
def known_anthracyclines() -> frozenset[str]:
    """Drugs named in any bundled table: the drugs a plan reports as anthracyclines."""
    return frozenset().union(*(load_table(name).drugs for name in bundled_tables()))


#: :func:`_known_with` of each table and the lines that open its working (:func:`_heading`), by the table's identity
#: (the entry holds the table, and is checked by ``is``).
_KNOWN_WITH: dict[int, tuple[FactorTable, frozenset[str], tuple[str, ...]]] = {}


def _known_with(table: FactorTable) -> frozenset[str]:
    """The drugs a plan counts with ``table``: the known anthracyclines and the table's own drugs, worked out once
    per table object rather than twice for every plan (issue 29). Emptied when full."""
    return _of_table(table)[1]


def _of_table(table: FactorTable) -> tuple[FactorTable, frozenset[str], tuple[str, ...]]:
    """The table, :func:`_known_with` and :func:`_heading` of ``table``, worked out once per table object."""
    found = _KNOWN_WITH.get(id(table))
    if found is not None and found[0] is table:
        return found
    if len(_KNOWN_WITH) >= 256:
        _KNOWN_WITH.clear()
    found = _KNOWN_WITH[id(table)] = (table, known_anthracyclines() | table.drugs, _heading(table))
    return found


def anthracyclines_of(regimen: Regimen) -> frozenset[str]:
    """The drugs of ``regimen`` that any bundled table names (:func:`known_anthracyclines`): the only ones a plan of it
    counts with the default table. Of the regimen alone: the engine works it out once per regimen object."""
    known = known_anthracyclines()
    return frozenset(c.drug for c in regimen.components() if c.drug.lower() in known)


@dataclass(frozen=True, slots=True)
class Prior:
    """An earlier cumulative dose, e.g. ``doxorubicin 240 mg/m2``."""

    drug: str
    mg_m2: Fraction
    text: str


def parse_prior(text: str) -> Prior:
    """'doxorubicin 240 mg/m2', or 'doxorubicin=240 mg/m2' as the other options of a drug are written
    (``--round DRUG=...``, ``--dose-percent DRUG=...``): the drug, then its cumulative dose."""
    found = re.fullmatch(r"\s*([^\s=]+)\s*(?:=\s*|\s+)(.*)", text, re.S)
    drug, dose_text = found.groups() if found else ("", "")
    if not drug or not dose_text.strip():
        raise AnthracyclineError(
            f"{option('prior')} {text!r}: write the drug and its cumulative dose, e.g. "
            f"{option('prior')} 'doxorubicin 240 mg/m2'"
        )
    try:
        dose = parse_dose(dose_text.strip())
    except RegimenError as exc:
        raise AnthracyclineError(f"{option('prior')} {text!r}: {exc.message}") from None
    if dose.unit.basis != "bsa" or dose.unit.time != "none":
        raise AnthracyclineError(
            f"{option('prior')} {text!r}: give the cumulative dose in mg/m², e.g. 'doxorubicin 240 mg/m2'"
        )
    return Prior(
        drug=drug.lower(),
        mg_m2=dose.canonical if dose.unit.output_unit == "mg" else dose.canonical / 1000,
        text=text.strip(),
    )


def _n(x: Fraction) -> str:
    """mg/m² for display: 4 significant figures, half up (the plan's display rounding); sums and the limit
    comparison use the exact values."""
    return significant_text(x, 4)


@dataclass(frozen=True, slots=True)
class Exposure:
    lines: tuple[str, ...]  # working, for the plan's notes
    warnings: tuple[str, ...]
    total: Fraction | None  # doxorubicin-equivalent mg/m², planned + prior (None when nothing counted)


def _mg(row: Administration) -> Fraction:
    return row.dose / 1000 if row.dose_unit == "mcg" else row.dose


#: Doses of one kind ("planned", "given", "still planned"), each with the BSA (m²) it is counted against (the
#: patient's BSA when it was or will be given; None when unknown).
Part = tuple[str, Sequence[tuple[Administration, Fraction | None]]]


def exposure(
    rows: tuple[Administration, ...],
    bsa_m2: Fraction | None,
    table: FactorTable | None,
    prior: tuple[Prior, ...],
    limit: Fraction | None,
    drugs: Collection[str] | None = None,
    rows_of: Callable[[frozenset[str]], Sequence[Administration]] | None = None,
) -> Exposure:
    """The planned course's doxorubicin-equivalent plus prior exposure, against a limit. A plan with an
    anthracycline (or a prior dose) is always counted: without a chosen table or limit, the defaults
    (:data:`DEFAULT_TABLE`, :data:`DEFAULT_LIMIT`) are used and said so. ``drugs``: the drugs of ``rows``, when the
    caller knows them without reading every row; ``rows_of``: given some of those drugs, the rows of ``rows`` that
    give them, in order, when the caller can pick them out without reading every row."""
    # each drug once, not each row (a CAPOX plan has 272 rows of four drugs: a tenth of its time, row by row)
    if drugs is None:
        drugs = {r.drug for r in rows}
    if not prior and not any(drug.lower() in known_anthracyclines() for drug in drugs):
        if table is None and limit is None:
            return Exposure((), (), None)
    chosen = limit is not None
    used = table if table is not None else load_table(DEFAULT_TABLE)
    # only the rows of the drugs counted() counts are handed to it (8 of an R-CHOP plan's 96)
    known = _known_with(used)
    counted_drugs = frozenset(drug for drug in drugs if drug.lower() in known)
    mine = rows_of(counted_drugs) if rows_of is not None else [r for r in rows if r.drug in counted_drugs]
    limit_of = (limit, "--anthracycline-limit") if chosen else (DEFAULT_LIMIT, DEFAULT_LIMIT_SOURCE)
    if not prior:  # the usual plan: its own doses alone, all against the patient's one BSA
        found = _planned(mine, bsa_m2, used, limit_of)
    else:
        found = counted([("planned", [(r, bsa_m2) for r in mine])], used, prior, *limit_of)
    if prior or not found.lines:
        return found
    unknown = "no earlier anthracycline given (--prior): the total is this plan's alone; add any earlier dose"
    return Exposure((*found.lines, unknown), found.warnings, found.total)


def course_exposure(
    given: Sequence[tuple[Administration, Fraction | None]],
    planned: Sequence[tuple[Administration, Fraction | None]],
    table: FactorTable | None,
    prior: tuple[Prior, ...],
    limit: Fraction | None,
) -> Exposure:
    """A treatment course's exposure: the doses recorded as given, each in mg/m² of the BSA of its own cycle, plus
    prior exposure; then with the doses still planned. Each total is held against the limit."""
    if table is None and not prior and limit is None:
        known = known_anthracyclines()
        drugs = dict.fromkeys(r.drug.lower() for r, _ in (*given, *planned) if r.drug.lower() in known)
        return Exposure(
            tuple(
                f"{drug} is an anthracycline: the course was started without --anthracycline-table "
                f"({', '.join(bundled_tables())}), so its doxorubicin-equivalent dose is not counted"
                for drug in drugs
            ),
            (),
            None,
        )
    return counted([("given", given), ("still planned", planned)], table, prior, limit)


def counted(
    parts: Sequence[Part],
    table: FactorTable | None,
    prior: tuple[Prior, ...],
    limit: Fraction | None,
    limit_source: str = "--anthracycline-limit",
) -> Exposure:
    """The doxorubicin-equivalent of ``parts`` in turn (the first with the prior exposure), each running total held
    against ``limit``. A part after the first that holds no anthracycline is left out."""
    known = _known_with(table) if table else known_anthracyclines()
    sums: list[tuple[str, dict[str, dict[Fraction | None, Fraction]]]] = []
    for what, rows in parts:
        # the doses of each drug by BSA, gathered by the BSA object (a plan's rows share one): a Fraction's hash is a
        # modular inverse, most of the cost of a row here; then added, and keyed by value, once per BSA
        gathered: dict[str, dict[int, tuple[Fraction | None, list[Fraction]]]] = {}
        for r, bsa in rows:
            drug = r.drug.lower()
            if drug in known:
                by_bsa = gathered.setdefault(drug, {})
                found = by_bsa.get(id(bsa))
                if found is None:
                    by_bsa[id(bsa)] = (bsa, [_mg(r)])
                else:
                    found[1].append(_mg(r))
        by_drug: dict[str, dict[Fraction | None, Fraction]] = {}
        for drug, by_bsa in gathered.items():
            totals: dict[Fraction | None, Fraction] = {}
            by_drug[drug] = totals
            for bsa, doses in by_bsa.values():
                # one product when one dose; a BSA seen first is its sum alone (no addition to a zero)
                earlier = totals.get(bsa)
                totals[bsa] = exact_sum(doses) if earlier is None else earlier + exact_sum(doses)
        if by_drug or not sums:
            sums.append((what, by_drug))
    if table is None:
        if prior or limit is not None:
            raise AnthracyclineError(
                f"{option('prior')} and {option('anthracycline_limit')} need a factor table: add "
                f"{option('anthracycline_table')} ({', '.join(bundled_tables())})"
            )
        hints = [
            f"{drug} is an anthracycline: pass --anthracycline-table ({', '.join(bundled_tables())}) to count "
            "its doxorubicin-equivalent dose"
            for drug in dict.fromkeys(d for _, by_drug in sums for d in by_drug)
        ]
        return Exposure(tuple(hints), (), None)
    if not any(by_drug for _, by_drug in sums) and not prior:
        return Exposure((), (), None)
    lines: list[str] = list(_heading(table))
    warnings: list[str] = []
    missing: list[str] = []  # drugs that the total leaves out
    total = Fraction(0)
    counted_any = False

    def convert(drug: str, mg_m2: Fraction, what: str) -> Fraction | None:
        factor = table.factors.get(drug)
        if factor is None:
            warnings.append(_no_factor(table, drug, what, _n(mg_m2)))
            missing.append(drug)
            return None
        equivalent = mg_m2 * factor
        lines.append(_converted(table, drug, what, _n(mg_m2), factor, _n(equivalent)))
        return equivalent

    names: list[str] = []
    for n, (what, by_drug) in enumerate(sums):
        names.append(what)
        for drug, at in by_drug.items():
            unknown = at.pop(None, None)
            if unknown is not None:
                warnings.append(_without_bsa(drug, what, unknown))
                missing.append(drug)
            if not at:
                continue
            per_m2 = [mg / bsa for bsa, mg in at.items() if bsa is not None]
            mg_m2 = per_m2[0] if len(per_m2) == 1 else sum(per_m2, Fraction(0))  # one BSA (a plan's): no addition
            terms = " + ".join(f"{format_fraction(mg)} mg ÷ {format_fraction(bsa)} m²" for bsa, mg in at.items() if bsa)
            lines.append(f"{what} {drug}: {terms} (BSA, uncapped) = {_n(mg_m2)} mg/m²")
            value = convert(drug, mg_m2, what)
            if value is not None:
                total = total + value if counted_any else value  # the first one alone: no addition to a zero
                counted_any = True
        if n == 0:
            for p in prior:
                value = convert(p.drug, p.mg_m2, "prior")
                if value is not None:
                    total = total + value if counted_any else value
                    counted_any = True
        _held(" + ".join([*names, "prior"]), total, missing, table, (limit, limit_source), lines, warnings)
    return Exposure(tuple(lines), tuple(warnings), total if counted_any else None)


def _planned(
    rows: Sequence[Administration], bsa: Fraction | None, table: FactorTable, limit_of: tuple[Fraction | None, str]
) -> Exposure:
    """:func:`counted` of a plan's own doses (the one part "planned", all against ``bsa``) with no prior exposure:
    the same lines, warnings and total, written straight (issue 29: a plan's cumulative dose was a seventh of an
    R-CHOP-21 plan's time, most of it in the general case's gathering of parts, BSAs and priors). Each number is
    written once (the same amount per m², its doxorubicin-equivalent at a factor of 1 and the total of one drug are
    one number); the table's heading is worked out once per table (:func:`_of_table`)."""
    _, known, heading = _of_table(table)
    doses: dict[str, list[Fraction]] = {}
    named: dict[str, str] = {}  # each drug's name in lower case, once (the rows of one drug share its name)
    for r in rows:
        drug = named.get(r.drug)
        if drug is None:
            drug = named[r.drug] = r.drug.lower()
        if drug in known:
            dose = r.dose
            mg = dose / 1000 if r.dose_unit == "mcg" else dose  # _mg, written out: a step for each of the rows
            mgs = doses.get(drug)
            if mgs is None:
                doses[drug] = [mg]
            else:
                mgs.append(mg)
    if not doses:
        return Exposure((), (), None)
    lines = list(heading)
    warnings: list[str] = []
    missing: list[str] = []
    total: Fraction | None = None
    total_text = ""
    for drug, mgs in doses.items():
        n, d = _sum_ratio(mgs)
        if bsa is None:
            warnings.append(_without_bsa(drug, "planned", Fraction(n, d)))
            missing.append(drug)
            continue
        mg_m2 = Fraction(n * bsa.denominator, d * bsa.numerator)  # mg / bsa, one Fraction made (bsa > 0)
        per_m2 = _n(mg_m2)
        lines.append(
            f"planned {drug}: {ratio_text(n, d)} mg ÷ {format_fraction(bsa)} m² (BSA, uncapped) = {per_m2} mg/m²"
        )
        factor = table.factors.get(drug)
        if factor is None:
            warnings.append(_no_factor(table, drug, "planned", per_m2))
            missing.append(drug)
            continue
        if factor.numerator == factor.denominator:  # a factor of 1: the same number, written once
            equivalent, said = mg_m2, per_m2
        else:
            equivalent = mg_m2 * factor
            said = _n(equivalent)
        lines.append(_converted(table, drug, "planned", per_m2, factor, said))
        if total is None:  # the first one alone: no addition to a zero
            total, total_text = equivalent, said
        else:
            total = total + equivalent
            total_text = ""
    _held(
        "planned + prior",
        total if total is not None else Fraction(0),
        missing,
        table,
        limit_of,
        lines,
        warnings,
        total_text or None,
    )
    return Exposure(tuple(lines), tuple(warnings), total)


def _sum_ratio(values: Sequence[Fraction]) -> tuple[int, int]:
    """:func:`exact_sum` of ``values`` as a numerator and a denominator, not necessarily in lowest terms: a drug's
    doses in a plan are one dose object given in every cycle (each later cycle's rows repeat the first's), whose sum
    is its numerator times their number, without a Fraction made for it (its text and its mg/m² are written from
    the two integers)."""
    first = values[0]
    if all(map(is_, values, repeat(first))):
        return first.numerator * len(values), first.denominator
    total = exact_sum(values)
    return total.numerator, total.denominator


def _without_bsa(drug: str, what: str, mg: Fraction) -> str:
    """The warning for a drug's ``what`` ("planned", "prior") milligrams that no BSA turns into mg/m²."""
    return (
        f"{drug}: the {what} {format_fraction(mg)} mg cannot be expressed in mg/m² without the "
        "body-surface area: pass --bsa, or --height with --weight"
    )


def _no_factor(table: FactorTable, drug: str, what: str, per_m2: str) -> str:
    """The warning for a drug that ``table`` gives no factor for (its ``per_m2`` mg/m², as :func:`_n` writes it)."""
    why = f" ({table.no_factor[drug]})" if drug in table.no_factor else ""
    return (
        f"no factor for {drug} in table {table.name}{why}: {what} {per_m2} mg/m² "
        "is not counted in the doxorubicin-equivalent total; choose another table or count it by hand"
    )


def _converted(table: FactorTable, drug: str, what: str, per_m2: str, factor: Fraction, equivalent: str) -> str:
    """The line that turns a drug's mg/m² into its doxorubicin-equivalent (each number as :func:`_n` writes it)."""
    caveat = f" [{table.notes[drug]}]" if drug in table.notes else ""
    return (
        f"{what} {drug} {per_m2} mg/m² × {format_fraction(factor)} = {equivalent} mg/m² doxorubicin-equivalent{caveat}"
    )


def _heading(table: FactorTable) -> tuple[str, ...]:
    """The lines that open a table's working: what it is, and the source's caveat on the whole table."""
    heading = (f"anthracycline doxorubicin-equivalent by {table.label()}:",)
    return (*heading, f"caveat of table {table.name}: {table.caveat}") if table.caveat else heading


def _held(
    label: str,
    total: Fraction,
    missing: list[str],
    table: FactorTable,
    limit_of: tuple[Fraction | None, str],
    lines: list[str],
    warnings: list[str],
    said: str | None = None,
) -> None:
    """The running total ``label`` ("planned + prior"), and held against the limit (with where it comes from).
    ``said``: the total as :func:`_n` writes it, when already written."""
    limit, source = limit_of
    left_out = ", ".join(dict.fromkeys(missing))
    incomplete = f" (incomplete: {left_out} not counted)" if missing else ""
    at_least = "at least " if missing else ""  # what is left out can only add to the total
    shown = said if said is not None else _n(total)
    lines.append(f"cumulative ({label}): {at_least}{shown} mg/m² doxorubicin-equivalent{incomplete}")
    if limit is None:
        return
    cited = f"{format_fraction(limit)} mg/m² ({source})"
    # the total against the limit, in integers (denominators are positive): a Fraction's comparison checks the
    # other number's type through the numbers ABCs
    over = total.numerator * limit.denominator - limit.numerator * total.denominator
    if over > 0:
        warnings.append(
            f"cumulative anthracycline {at_least}{shown} mg/m² doxorubicin-equivalent "
            f"({label}, table {table.name}){incomplete} exceeds the limit {cited}"
        )
    elif missing:
        # a total that leaves a drug out is never "within" a limit: the drug left out could cross it
        verb = "are" if len(set(missing)) > 1 else "is"
        warnings.append(
            f"the cumulative anthracycline dose cannot be judged against the limit "
            f"{format_fraction(limit)} mg/m²: {left_out} {verb} not counted (counted so far "
            f"{shown} mg/m² doxorubicin-equivalent, {label}, table {table.name}); count "
            "it by hand (--anthracycline-limit)"
        )
    elif over == 0:
        # at the limit is not "within" it: any further anthracycline crosses it
        warnings.append(
            f"cumulative anthracycline {shown} mg/m² doxorubicin-equivalent ({label}, table {table.name}) is "
            f"at the limit {cited}: no further anthracycline without crossing it"
        )
    else:
        lines.append(f"within the limit {cited}")


__all__ = [
    "DEFAULT_LIMIT",
    "DEFAULT_TABLE",
    "AnthracyclineError",
    "Exposure",
    "FactorTable",
    "Prior",
    "anthracyclines_of",
    "bundled_tables",
    "counted",
    "course_exposure",
    "exposure",
    "known_anthracyclines",
    "load_table",
    "parse_prior",
]
