"""The package's docstrings, comments and messages speak the library's terms.

The API reference renders the docstrings for users, and comments are read by
contributors: neither may lean on the project's internal notes. No "fact sheet",
no paths to notes kept outside the repository (``shared/...``), no section marks
(``§1.5``) or source tags (``[SH-LIM]``) pointing into them, and no "seed" in the
sense of the help pages the defaults were drawn from. A random-number seed
(``seed: int``, "the same seed gives the same data") is a different word and fine.

Only comments and string literals (docstrings included) are read: names in the
code are not prose.
"""

from __future__ import annotations

import io
import re
import tokenize
from collections.abc import Iterator
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[2] / "src" / "commerce_connectors"

#: (pattern, what it is): words from the project's internal notes.
IN_HOUSE: list[tuple[re.Pattern[str], str]] = [
    (re.compile(r"(?i)\bfact[- ]?sheets?\b"), "fact sheet"),
    (
        re.compile(r"(?i)\.\./shared\b|\bshared/|official-specs|official-examples"),
        "path outside the repository",
    ),
    (re.compile(r"(?i)\b(DESIGN|STYLE)\.md\b"), "internal design notes"),
    (re.compile("\u00a7"), "section mark of an internal note"),
    (
        re.compile(r"\[(SH|BC|SQ|TN|AC|SW)(-[A-Za-z0-9-]+)?[\] ]"),
        "source tag of an internal note",
    ),
    # "seed" as the help pages the defaults follow, never as a random-number seed.
    (re.compile(r"(?i)\bseed(s'|'s)"), "seed (help page)"),
    (re.compile(r"(?i)\ba seed \(|\bthe seeds?:"), "seed (help page)"),
    (
        re.compile(
            r"(?i)\b(shopify|bigcommerce|square|tiendanube|platform|integrations?)'?s? seeds?\b"
        ),
        "seed (help page)",
    ),
    (
        re.compile(r"(?i)\bseeds? (wording|rules?|tables?|documents?|pages?|texts?)\b"),
        "seed (help page)",
    ),
    (
        re.compile(r"(?i)\bthe seeds? (maps?|says?|wants?|lists?|describes?|documents?)\b"),
        "seed (help page)",
    ),
    (re.compile(r"(?i)\bissues?\b"), "issue"),
    (re.compile(r"\bengineer [A-Z]\b|\bthe brief\b"), "internal roles"),
]

_PROSE_TOKENS = {tokenize.COMMENT, tokenize.STRING}


def _prose(source: str) -> Iterator[tuple[int, str]]:
    """(line number, text) of every comment and string literal line of ``source``."""
    for token in tokenize.generate_tokens(io.StringIO(source).readline):
        if token.type in _PROSE_TOKENS:
            for offset, line in enumerate(token.string.splitlines()):
                yield token.start[0] + offset, line


def _findings(source: str) -> list[str]:
    return [
        f"line {number}: {label}: {line.strip()[:90]}"
        for number, line in _prose(source)
        for pattern, label in IN_HOUSE
        if pattern.search(line)
    ]


MODULES = sorted(PACKAGE.rglob("*.py"))


def test_the_package_is_found() -> None:
    assert len(MODULES) > 50, PACKAGE


@pytest.mark.parametrize("module", MODULES, ids=[str(m.relative_to(PACKAGE)) for m in MODULES])
def test_no_in_house_words(module: Path) -> None:
    """Docstrings, comments and messages of ``module`` use no internal vocabulary."""
    assert _findings(module.read_text(encoding="utf-8")) == []


@pytest.mark.parametrize(
    "text",
    [
        '"""Every value comes from ``shared/platforms/square.md``."""',
        "# The seed's rule, exactly: customer phone first.",
        "#: Square payments (the Square seed's table: order number).",
        "x = 1  # reproduce the seeds' field tables",
        '"""Each entry says where it comes from: a seed (the help pages)."""',
        "# The seed: guest checkouts are not synced.",
        "# canonical field   CRM field   seed wording",
        "# the seed maps the item id to the product id",
        '"""(the platform fact sheet)"""',
        "# The update takes the same body (fact sheet \u00a71.5).",
        '"""Up to 250 resources per page [SH-GQLPAG]."""',
        "# relative to the API root [SH-JS graphql/client.ts].",
        "# the error shape [BC `reference/orders.v2.oas2.yml`]",
        "# sort order reported in an issue",
        "msg = 'see DESIGN.md'",
    ],
)
def test_in_house_words_are_found(text: str) -> None:
    """Each kind of internal wording the package once held is caught."""
    assert _findings(text + "\n") != []


@pytest.mark.parametrize(
    "text",
    [
        "def build(seed: int) -> None:\n    '''seed: seeds the data and the faults.'''\n",
        '"""seed: the seed; the same seed and the same sequence of calls give the same data."""',
        "# The faults' dice restart from the seed, so a test sees them again.",
        "x = f'handmade, seed {seed}.'",
        "# a seeded realistic store; each platform's store draws from its own seed",
        "issued_at = 1  # when the token was issued",
        '"""Values follow Square\'s published API reference (https://developer.squareup.com)."""',
        "# As the Shopify integration documents: guests are synced.",
    ],
)
def test_library_wording_passes(text: str) -> None:
    """Random-number seeds and the library's own wording are not flagged."""
    assert _findings(text + "\n") == []
