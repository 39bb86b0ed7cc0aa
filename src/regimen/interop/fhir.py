"""FHIR R4 in: a regimen file from a PlanDefinition that ``regimen export-definition`` wrote (issue 14).

The regimen's own fields ride in the definition's ``regimen-file-fields`` extensions, so the round trip is exact;
:func:`check_definition` refuses a definition whose standard elements were edited without those fields. Definitions
from elsewhere (the HL7 NZ Cancer Control Agency SACT IG's) are read by :mod:`regimen.interop.nzsact`.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from regimen.export.fhir import BASE, EXT_REGIMEN, definition
from regimen.model import Regimen


def _obj(value: object, what: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise ValueError(f"{what} must be a JSON object, not {_kind(value)}")
    return value


def _list(value: object, what: str) -> list[Any]:
    if value is None:
        return []
    if not isinstance(value, list):
        raise ValueError(f"{what} must be a JSON array, not {_kind(value)}")
    return value


def _kind(value: object) -> str:
    return {dict: "an object", list: "an array", str: "a string", bool: "true or false", type(None): "null"}.get(
        type(value), "a number"
    )


def _fields(resource: Mapping[str, Any], what: str) -> dict[str, Any]:
    for i, ext in enumerate(_list(resource.get("extension"), f"{what}: extension")):
        ext = _obj(ext, f"{what}: extension[{i}]")
        if ext.get("url") == EXT_REGIMEN:
            text = ext.get("valueString")
            if not isinstance(text, str):
                raise ValueError(f"{what}: the {EXT_REGIMEN} extension has no valueString")
            try:
                value = json.loads(text)
            except ValueError:
                raise ValueError(f"{what}: the {EXT_REGIMEN} extension's valueString is not JSON") from None
            return _obj(value, f"{what}: the {EXT_REGIMEN} extension's value")
    raise ValueError(f"{what} has no {EXT_REGIMEN} extension: it was not written by 'regimen export-definition'")


def _positive(condition: object) -> bool:
    """An applicability condition that holds when a rule holds (a variant's), not when none does (the protocol's)."""
    described = str((_obj(condition, "action.condition").get("expression") or {}).get("description", ""))
    return not described.startswith("not (")


def written_by_regimen(resource: Mapping[str, Any]) -> bool:
    """True for a PlanDefinition that carries regimen's own id (written by ``regimen export-definition``)."""
    return any(
        isinstance(i, dict) and i.get("system") == f"{BASE}/regimen-id" for i in resource.get("identifier") or []
    )


def regimen_data(plan_definition: object) -> dict[str, Any]:
    """A regimen file's fields (as TOML writes them) from a PlanDefinition written by :func:`definition`.

    Raises ValueError, with what is wrong, for anything else: another resource, a PlanDefinition from elsewhere, one
    whose parts are not of the shapes FHIR and :func:`definition` give them. :func:`check_definition` then checks that
    its standard elements still say what its regimen fields say."""
    resource = _obj(plan_definition, "the file")
    if resource.get("resourceType") != "PlanDefinition":
        raise ValueError(f"expected a FHIR PlanDefinition, got resourceType {resource.get('resourceType')!r}")
    data: dict[str, Any] = {}
    ident = [
        i.get("value")
        for i in _list(resource.get("identifier"), "PlanDefinition.identifier")
        if isinstance(i, dict) and i.get("system") == f"{BASE}/regimen-id"
    ]
    if not ident or not isinstance(ident[0], str):
        raise ValueError(
            f"the PlanDefinition has no regimen id (identifier system {BASE}/regimen-id): it was not written by "
            "'regimen export-definition'"
        )
    data["id"] = ident[0]
    for element, field in (("title", "name"), ("description", "indication"), ("version", "version")):
        value = resource.get(element)
        if value is not None and not isinstance(value, str):
            raise ValueError(f"PlanDefinition.{element} must be a string, not {_kind(value)}")
        if value:
            data[field] = value
    data.setdefault("name", ident[0])
    data.update(_fields(resource, "the PlanDefinition"))
    contained: dict[str, dict[str, Any]] = {}
    for i, item in enumerate(_list(resource.get("contained"), "PlanDefinition.contained")):
        item = _obj(item, f"PlanDefinition.contained[{i}]")
        contained[str(item.get("id"))] = item
    actions = _list(resource.get("action"), "PlanDefinition.action")
    phases = []
    for p_index, action in enumerate(actions):
        action = _obj(action, f"PlanDefinition.action[{p_index}]")
        fields = _fields(action, f"phase {action.get('title')!r}")
        components = []
        for c_index, sub in enumerate(_list(action.get("action"), f"PlanDefinition.action[{p_index}].action")):
            sub = _obj(sub, f"PlanDefinition.action[{p_index}].action[{c_index}]")
            if any(_positive(c) for c in _list(sub.get("condition"), "action.condition")):
                continue  # a variant's own action: its rule and days are in the component's regimen fields
            ref = str(sub.get("definitionCanonical", "")).removeprefix("#")
            if ref not in contained:
                raise ValueError(
                    f"action {sub.get('title')!r} names {ref!r}, which the PlanDefinition does not contain"
                )
            components.append(_fields(contained[ref], f"ActivityDefinition {ref}"))
        if fields or len(actions) > 1:
            phases.append({**fields, "component": components})
        else:
            data["component"] = components
    if phases:
        data["phase"] = phases
    return data


def check_definition(plan_definition: Mapping[str, Any], regimen: Regimen, data: Mapping[str, Any]) -> None:
    """Refuse a PlanDefinition whose standard elements no longer say what its regimen fields say.

    The regimen is rebuilt from the regimen fields alone; a reader of the standard elements (a hospital system, a
    person) must see the same drugs, doses, days, cycles, routes and maximum doses. So the definition that
    :func:`definition` writes for the rebuilt regimen must be the one given, element for element: an edit to one
    side only (a dose changed in doseQuantity but not in the fields) is refused, never half applied."""
    expected = json.loads(json.dumps(definition(regimen, data)))
    where = _first_difference(expected, plan_definition, "PlanDefinition")
    if where is not None:
        raise ValueError(
            f"{where} differs from what its regimen fields give: the definition was edited in one place but not the "
            "other; export it again from the regimen file, or make both say the same"
        )


def _first_difference(expected: Any, given: Any, path: str) -> str | None:
    if isinstance(expected, dict) and isinstance(given, dict):
        for key in sorted(expected.keys() | given.keys()):
            if key not in expected or key not in given:
                return f"{path}.{key}"
            found = _first_difference(expected[key], given[key], f"{path}.{key}")
            if found is not None:
                return found
        return None
    if isinstance(expected, list) and isinstance(given, list):
        if len(expected) != len(given):
            return path
        for i, (a, b) in enumerate(zip(expected, given, strict=True)):
            found = _first_difference(a, b, f"{path}[{i}]")
            if found is not None:
                return found
        return None
    if _number(expected) and _number(given):
        return None if expected == given else path  # 2 and 2.0 are one JSON number
    return None if expected == given and type(expected) is type(given) else path


def _number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


__all__ = ["check_definition", "regimen_data", "written_by_regimen"]
