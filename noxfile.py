"""The one entry point for checks: `nox -s tests lint typing docs bench`."""

from __future__ import annotations

import nox

nox.options.sessions = ["lint", "typing", "tests"]
nox.options.reuse_existing_virtualenvs = True

PYTHONS = ["3.10", "3.11", "3.12", "3.13"]


@nox.session
def tests(session: nox.Session) -> None:
    """Run the test suite with coverage (pass pytest arguments after `--`)."""
    session.install("-e", ".[test]")
    session.run(
        "pytest",
        "--cov=commerce_connectors",
        "--cov-report=term",
        *session.posargs,
    )


@nox.session(python=PYTHONS)
def tests_matrix(session: nox.Session) -> None:
    """Run the tests on every supported Python that is installed here."""
    session.install("-e", ".[test]")
    session.run("pytest", "-q", *session.posargs)


@nox.session
def lint(session: nox.Session) -> None:
    """ruff check and ruff format --check over the whole tree."""
    session.install("ruff")
    session.run("ruff", "check", ".")
    session.run("ruff", "format", "--check", ".")


@nox.session
def typing(session: nox.Session) -> None:
    """mypy --strict on src/ and on tests/typing (the public API as users type it)."""
    session.install("-e", ".[dev]")
    session.run("mypy", "--strict", "src", "tests/typing")


@nox.session
def docs(session: nox.Session) -> None:
    """Build the site with --strict; run every code block of README and docs/ and the docstrings."""
    session.install("-e", ".[test,docs]")
    session.run("mkdocs", "build", "--strict", "--site-dir", session.create_tmp() + "/site")
    session.run("pytest", "-q", "tests/docs", "--doctest-modules", "src/commerce_connectors")


@nox.session
def bench(session: nox.Session) -> None:
    """Run the benchmarks; they print figures and ratios, they assert nothing about time."""
    session.install("-e", ".[test,fast]")
    session.run("python", "-m", "benchmarks", *session.posargs)
