"""The marks that make the fast subset (``pytest -m "not integration and not slow"``) name tests that exist, and the
marks themselves are the ones pyproject.toml registers."""

from __future__ import annotations

import ast
import sys
import tomllib

from tests.conftest import FIRST, INTEGRATION_TESTS, MARKS_BY_FIXTURE, MARKS_BY_MODULE, ROOT, SLOW_TESTS, never_selected


def test_every_test_marked_slow_or_integration_by_name_exists() -> None:
    tables = {"SLOW_TESTS": SLOW_TESTS, "INTEGRATION_TESTS": INTEGRATION_TESTS, "FIRST": FIRST}
    for table, by_module in tables.items():
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


def test_conftest_imports_at_its_top_only_the_standard_library_pytest_and_hypothesis() -> None:
    """Every pytest process imports conftest.py first, the controlling one of ``-n 2`` too, which runs no test: the
    package, SQLAlchemy and the servers' helpers are imported inside the fixtures that use them."""
    tree = ast.parse((ROOT / "tests" / "conftest.py").read_text(encoding="utf-8"))
    imported = set()
    for node in tree.body:  # the module's own statements; an `if TYPE_CHECKING:` block is not one of them
        if isinstance(node, ast.Import):
            imported |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module:
            imported.add(node.module.split(".")[0])
    assert imported - sys.stdlib_module_names - {"__future__"} == {"pytest", "hypothesis"}


def test_a_module_is_left_unimported_only_when_the_expression_leaves_out_every_test_it_can_hold() -> None:
    """``pytest_ignore_collect`` in conftest.py skips importing a module of ``MARKS_BY_MODULE`` when no test in it
    can be selected, whatever marks a test adds to its module's."""
    integration = {"integration"}
    assert never_selected("not integration and not slow", integration)  # the fast subset
    assert never_selected("not integration and not slow", {"slow"})
    assert never_selected("not (integration or browser)", {"browser", "integration"})
    assert not never_selected("integration", integration)
    assert not never_selected("not slow", integration)  # an integration module is run by a run that leaves out slow
    assert not never_selected("slow or not integration", integration)  # a test of it marked slow would be selected
    assert not never_selected("not integration or postgres", integration)  # ... and one marked postgres
    assert not never_selected("not integration(reason=1)", integration)  # a mark with arguments: not sure, import
    assert not never_selected("", integration)
    assert never_selected("not if", {"if"})  # a mark named like a Python word is still a name


def test_a_property_tests_count_of_examples_is_written_examples_n() -> None:
    """``@settings(max_examples=examples(N))``, never a bare number: the fast subset draws a tenth of N
    (tests/helpers.py), the whole suite all of them. A bare number drew all of them in the edit loop too (seven tests
    of test_speed and test_cohort_ids did, a second of the fast subset)."""
    bare = []
    for path in sorted((ROOT / "tests").glob("test_*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Call) and getattr(node.func, "id", None) == "settings":
                for keyword in node.keywords:
                    if keyword.arg == "max_examples" and isinstance(keyword.value, ast.Constant):
                        bare.append(f"{path.name}:{node.lineno}")
    assert not bare, f"write max_examples=examples(N) (tests/helpers.py): {bare}"
