"""Tasks: ``nox -s fast``, ``tests``, ``lint``, ``types``, ``docs`` (``nox -l`` lists them).

By default every session runs in the environment nox is started from, normally the project's activated
``.venv`` after ``pip install -e '.[dev]'``: the tools pinned in pyproject.toml are already there, so a
session costs only its command. ``nox --default-venv-backend venv`` runs each session in a fresh
virtualenv of its own instead, into which it installs ``.[test]`` first (slower, but independent of the
local environment, like CI).

Arguments after ``--`` go to the session's tool: ``nox -s fast -- tests/test_cli.py -x``.
"""

from __future__ import annotations

import nox

nox.options.default_venv_backend = "none"
# `nox` alone: the quick checks to run before a commit. The full suite and the docs build on request.
nox.options.sessions = ["lint", "types", "fast"]


def _install(session: nox.Session) -> None:
    """In a session virtualenv of its own, install the project and its test tools; in the current one, nothing."""
    if session.venv_backend != "none":
        session.install("-e", ".[test]")


@nox.session
def fast(session: nox.Session) -> None:
    """The fast subset for the edit loop: no server, browser or other process, nothing marked slow."""
    _install(session)
    session.run("python", "-m", "pytest", "-q", "-m", "not integration and not slow", *session.posargs)


@nox.session
def tests(session: nox.Session) -> None:
    """The whole test suite on two cores (pytest-xdist), the tests CI runs (.ci/run)."""
    _install(session)
    session.run("python", "-m", "pytest", "-q", "-n", "2", *session.posargs)


@nox.session
def lint(session: nox.Session) -> None:
    """ruff's lint rules and its formatter, checked (rules and line length in pyproject.toml); changes nothing."""
    _install(session)
    paths = session.posargs or ["."]
    session.run("python", "-m", "ruff", "check", *paths)
    session.run("python", "-m", "ruff", "format", "--check", *paths)


@nox.session
def types(session: nox.Session) -> None:
    """mypy --strict on src/regimen (configuration in pyproject.toml)."""
    _install(session)
    session.run("python", "-m", "mypy", *session.posargs)


@nox.session
def docs(session: nox.Session) -> None:
    """The documentation site (mkdocs.yml) into site/, warnings as errors; the CLI reference is rendered from --help."""
    _install(session)
    session.run("python", "-m", "mkdocs", "build", "--strict", *session.posargs)
