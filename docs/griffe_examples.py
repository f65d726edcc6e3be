"""A griffe extension for the API reference: ``Example:`` sections are read as examples.

The library's docstrings follow Google style and title their doctests ``Example:``;
griffe reads only ``Examples:`` as an examples section (code rendered as code) and
``Example:`` as a free-text admonition, where doctest output such as ``['a', 'b']``
would be taken for Markdown links. Used by ``mkdocs.yml`` only; not shipped.
"""

from __future__ import annotations

import re
from typing import Any

import griffe

_EXAMPLE = re.compile(r"^(\s*)Example:\s*$", re.MULTILINE)


class ExampleSections(griffe.Extension):
    """Rename ``Example:`` section titles to ``Examples:`` before docstrings are parsed."""

    def on_instance(self, *, obj: griffe.Object, **kwargs: Any) -> None:
        """Rewrite the section title of one object's docstring."""
        if obj.docstring is not None:
            obj.docstring.value = _EXAMPLE.sub(r"\1Examples:", obj.docstring.value)
