"""The marks that make the fast subset (``pytest -m "not integration and not slow"``) name tests that exist, and the
marks themselves are the ones pyproject.toml registers."""

from __future__ import annotations

import ast
import tomllib

from tests.conftest import INTEGRATION_TESTS, MARKS_BY_FIXTURE, MARKS_BY_MODULE, ROOT, SLOW_TESTS


def test_every_test_marked_slow_or_integration_by_name_exists() -> None:
    for table, by_module in {"SLOW_TESTS": SLOW_TESTS, "INTEGRATION_TESTS": INTEGRATION_TESTS}.items():
        for module, names in by_module.items():
            tree = ast.parse((ROOT / "tests" / module).read_text(encoding="utf-8"))
            defined = {node.name for node in tree.body if isinstance(node, ast.FunctionDef)}
            assert names <= defined, f"{module}: no test named {sorted(names - defined)}; update {table} in conftest.py"


def test_every_module_marked_exists_and_every_mark_is_registered() -> None:
    assert all((ROOT / "tests" / module).is_file() for module in MARKS_BY_MODULE)
    config = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    registered = {m.split(":")[0] for m in config["tool"]["pytest"]["ini_options"]["markers"]}
    used = {m for ms in [*MARKS_BY_MODULE.values(), *MARKS_BY_FIXTURE.values()] for m in ms} | {"slow"}
    assert used <= registered
