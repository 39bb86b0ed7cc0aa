"""Formularies: the vial (or tablet) sizes a pharmacy stocks, per drug, from an editable TOML file.

Used for vial rounding and supply forecasts. Sizes are exact amounts in mg (or mcg).
An example formulary ships with regimen (``formulary/example.toml``); it is marked as an example
because presentations differ between markets.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

from regimen.errors import Problem, RegimenError, RegimenFileError
from regimen.quantities.units import classify_dose_unit, split_number


@dataclass(frozen=True, slots=True)
class DrugStock:
    drug: str
    vials: tuple[Fraction, ...]  # sizes in ``unit``, ascending
    unit: str  # "mg" or "mcg"
    note: str | None = None


@dataclass(frozen=True, slots=True)
class Formulary:
    name: str
    drugs: dict[str, DrugStock]
    status: str | None = None
    path: str | None = None

    def stock(self, drug: str) -> DrugStock | None:
        return self.drugs.get(drug.lower())


def example_path() -> Path:
    """The example formulary: inside the installed package, or formulary/ of a checkout."""
    packaged = Path(__file__).parents[1] / "formulary" / "example.toml"  # inside the package in a wheel
    if packaged.is_file():
        return packaged
    return Path(__file__).resolve().parents[3] / "formulary" / "example.toml"


def _size(text: object, where: str, problems: list[Problem], file: str) -> tuple[Fraction, str] | None:
    if not isinstance(text, str):
        problems.append(Problem(file, where, f"vial size {text!r} must be text such as '100 mg'"))
        return None
    split = split_number(text)
    try:
        if split is None or split[0] <= 0:
            raise ValueError(f"vial size {text!r} must be a positive amount such as '100 mg'")
        unit = classify_dose_unit(split[1])
        if unit.basis != "flat" or unit.time != "none":
            raise ValueError(f"vial size {text!r} must be a plain amount (mg, g, mcg)")
    except ValueError as exc:
        problems.append(Problem(file, where, str(exc)))
        return None
    return Fraction(split[0]) * unit.to_canonical, unit.output_unit


def load_formulary(path: str | Path | None = None) -> Formulary:
    """Load a formulary file (the example when ``path`` is None), reporting every problem."""
    p = Path(path) if path is not None else example_path()
    file = str(p)
    try:
        data = tomllib.loads(p.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise RegimenError(f"{p}: no such formulary file; check the path") from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise RegimenFileError([Problem(file, "", f"not a valid TOML formulary ({exc})")]) from None
    problems: list[Problem] = []
    drugs: dict[str, DrugStock] = {}
    raw_drugs = data.get("drug", [])
    if not isinstance(raw_drugs, list) or not raw_drugs:
        problems.append(Problem(file, "", "no [[drug]] tables: add one per drug with its vial sizes"))
        raw_drugs = []
    for i, raw in enumerate(raw_drugs, 1):
        where = f"drug {i}"
        if not isinstance(raw, dict) or not isinstance(raw.get("drug"), str) or not raw["drug"].strip():
            problems.append(Problem(file, where, 'each [[drug]] needs drug = "name" and vials = ["100 mg", ...]'))
            continue
        name = raw["drug"].strip().lower()
        where = f"drug {name!r}"
        vials = raw.get("vials")
        if not isinstance(vials, list) or not vials:
            problems.append(Problem(file, where + ", field 'vials'", 'list the vial sizes, e.g. ["100 mg", "500 mg"]'))
            continue
        sizes = [s for v in vials if (s := _size(v, where + ", field 'vials'", problems, file)) is not None]
        units = {u for _, u in sizes}
        if len(units) > 1:
            problems.append(Problem(file, where, "vial sizes mix mg and mcg; use one unit per drug"))
            continue
        if name in drugs:
            problems.append(Problem(file, where, "drug listed twice"))
            continue
        if sizes:
            note = raw.get("note") if isinstance(raw.get("note"), str) else None
            drugs[name] = DrugStock(drug=name, vials=tuple(sorted({s for s, _ in sizes})), unit=sizes[0][1], note=note)
    if problems:
        raise RegimenFileError(problems)
    name = str(data["name"]) if isinstance(data.get("name"), str) else p.stem
    status = data.get("status") if isinstance(data.get("status"), str) else None
    return Formulary(name=name, drugs=drugs, status=status, path=file)
