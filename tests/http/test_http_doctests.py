"""The examples in the _http docstrings are true (they are the connectors' first documentation)."""

from __future__ import annotations

import doctest
import importlib

import pytest

MODULES = [
    "auth",
    "engine",
    "errormap",
    "pagination",
    "ratelimit",
    "redaction",
    "request",
    "retry",
    "stats",
]


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name: str) -> None:
    module = importlib.import_module(f"commerce_connectors._http.{name}")
    result = doctest.testmod(module, optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    assert result.failed == 0
    assert result.attempted > 0
