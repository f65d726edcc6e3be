"""Every public docstring example in commerce_connectors.rules runs and holds."""

from __future__ import annotations

import doctest
import importlib
import pkgutil

import pytest

import commerce_connectors.rules as rules

_MODULES = [rules.__name__] + [
    f"{rules.__name__}.{m.name}" for m in pkgutil.iter_modules(rules.__path__)
]


@pytest.mark.parametrize("name", _MODULES)
def test_rules_docstring_examples(name: str) -> None:
    result = doctest.testmod(importlib.import_module(name), optionflags=doctest.ELLIPSIS)
    assert result.failed == 0


def test_every_public_class_and_function_has_a_docstring() -> None:
    for name in rules.__all__:
        obj = getattr(rules, name)
        if callable(obj):
            assert (obj.__doc__ or "").strip(), f"{name} has no docstring"
