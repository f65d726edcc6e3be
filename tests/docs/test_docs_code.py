"""Every code block of README.md and docs/ runs as written, or is marked a fragment.

* A fenced ``python`` block runs: the blocks of one page share one namespace, in
  page order, in a temporary working directory of that page, with the network
  closed (only 127.0.0.1 is reachable). One test per block, named ``file:line``.
* A block whose previous non-blank line is ``<!-- fragment -->`` is not run (a
  piece of a larger program, or something that needs a real shop); the marker
  must be followed by a code block, and fragments must stay a small share.
* Shell blocks (``bash``, ``console``, ``sh``, ``shell``, ``ini``) are not run:
  they install packages, reach real shops or configure a scheduler. Each
  ``commerce-connectors …`` (or ``python -m commerce_connectors …``) command in
  them must name an existing command: ``--help`` of its command path exits 0.
* The prose speaks the library's language (no internal notes, no paths outside
  the repository) and every relative link points to a file that exists.
"""

from __future__ import annotations

import contextlib
import doctest
import io
import os
import re
import shlex
import socket
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]
FRAGMENT = "<!-- fragment -->"
PYTHON_LANGS = {"python", "py", "pycon"}
SHELL_LANGS = {"bash", "console", "sh", "shell"}
#: The most fragments allowed, as a share of all Python blocks.
MAX_FRAGMENT_SHARE = 0.25
_FENCE = re.compile(r"^(?P<indent> *)(?P<fence>`{3,}|~{3,})\s*(?P<info>[^`]*)$")


def doc_files() -> list[Path]:
    """README.md and every Markdown page under docs/."""
    return [ROOT / "README.md", *sorted((ROOT / "docs").rglob("*.md"))]


@dataclass
class Block:
    """One fenced code block."""

    path: Path
    line: int  # 1-based line of the opening fence
    lang: str
    code: str
    fragment: bool

    @property
    def id(self) -> str:
        return f"{self.path.relative_to(ROOT)}:{self.line}"


@dataclass
class Page:
    """A Markdown file split into its code blocks, its prose and its fragment markers."""

    path: Path
    blocks: list[Block] = field(default_factory=list)
    prose: list[tuple[int, str]] = field(default_factory=list)
    dangling_markers: list[int] = field(default_factory=list)


def parse(path: Path) -> Page:
    """Split a page into fenced blocks (with their fragment flag) and prose lines."""
    page = Page(path)
    lines = path.read_text(encoding="utf-8").splitlines()
    i = 0
    last_text: tuple[int, str] | None = None  # the previous non-blank prose line
    while i < len(lines):
        match = _FENCE.match(lines[i])
        if match is None:
            if lines[i].strip():
                if last_text is not None and last_text[1] == FRAGMENT:
                    page.dangling_markers.append(last_text[0])
                last_text = (i + 1, lines[i].strip())
                page.prose.append((i + 1, lines[i]))
            i += 1
            continue
        fence, indent = match["fence"], len(match["indent"])
        lang = (match["info"].split() or [""])[0].lower()
        body: list[str] = []
        start = i
        i += 1
        while i < len(lines) and not lines[i].strip().startswith(fence):
            body.append(lines[i][indent:] if lines[i][:indent].strip() == "" else lines[i])
            i += 1
        i += 1  # the closing fence
        fragment = last_text is not None and last_text[1] == FRAGMENT
        page.blocks.append(Block(path, start + 1, lang, "\n".join(body) + "\n", fragment))
        last_text = (start + 1, "```")
    if last_text is not None and last_text[1] == FRAGMENT:
        page.dangling_markers.append(last_text[0])
    return page


PAGES = [parse(p) for p in doc_files()]
PY_BLOCKS = [b for p in PAGES for b in p.blocks if b.lang in PYTHON_LANGS]
SHELL_BLOCKS = [b for p in PAGES for b in p.blocks if b.lang in SHELL_LANGS]


# ------------------------------------------------------------------ running Python blocks


class _PageRun:
    """The shared namespace of one page's blocks and how far it has run."""

    def __init__(self, workdir: Path) -> None:
        self.workdir = workdir
        self.namespace: dict[str, Any] = {"__name__": "__docs__"}
        self.done = 0
        self.failed: str | None = None


_RUNS: dict[Path, _PageRun] = {}


def _loopback_only(real_connect: Any) -> Any:
    def connect(self: socket.socket, address: Any) -> Any:
        host = address[0] if isinstance(address, tuple) else address
        remote = isinstance(host, str) and host not in ("127.0.0.1", "localhost", "::1")
        if remote and self.family in (socket.AF_INET, socket.AF_INET6):
            raise OSError(f"the docs tests have no network: {address!r}")
        return real_connect(self, address)

    return connect


@pytest.fixture
def no_network(monkeypatch: pytest.MonkeyPatch) -> None:
    """Refuse every connection that is not to this machine."""
    monkeypatch.setattr(socket.socket, "connect", _loopback_only(socket.socket.connect))


def _run_block(block: Block, run: _PageRun) -> None:
    """Run a block in the page's namespace; ``>>>`` blocks are checked as doctests."""
    out = io.StringIO()
    environ = dict(os.environ)
    try:
        with contextlib.redirect_stdout(out):
            if block.code.lstrip().startswith(">>>"):
                test = doctest.DocTestParser().get_doctest(
                    block.code, run.namespace, block.id, str(block.path), block.line
                )
                runner = doctest.DocTestRunner(optionflags=doctest.ELLIPSIS)
                report = io.StringIO()
                runner.run(test, out=report.write, clear_globs=False)
                run.namespace.update(test.globs)
                if runner.failures:
                    pytest.fail(f"{block.id}: doctest output differs:\n{report.getvalue()}")
            else:
                code = compile(block.code, block.id, "exec")
                exec(code, run.namespace)  # noqa: S102 - running the documentation is the point
    finally:
        os.environ.clear()
        os.environ.update(environ)


def _run_up_to(block: Block, tmp_path_factory: pytest.TempPathFactory) -> None:
    page_blocks = [b for b in PY_BLOCKS if b.path == block.path]
    run = _RUNS.get(block.path)
    if run is None:
        run = _RUNS[block.path] = _PageRun(tmp_path_factory.mktemp("docpage"))
    index = page_blocks.index(block)
    cwd = Path.cwd()
    os.chdir(run.workdir)
    try:
        for earlier in page_blocks[run.done : index + 1]:
            if run.failed is not None:
                pytest.fail(f"an earlier block of this page failed: {run.failed}")
            run.done += 1
            if earlier.fragment:
                continue
            try:
                _run_block(earlier, run)
            except BaseException:
                run.failed = earlier.id
                raise
    finally:
        os.chdir(cwd)


@pytest.mark.usefixtures("no_network")
@pytest.mark.parametrize("block", PY_BLOCKS, ids=[b.id for b in PY_BLOCKS])
def test_python_block_runs(block: Block, tmp_path_factory: pytest.TempPathFactory) -> None:
    """The block runs after the page's earlier blocks, without an exception."""
    if block.fragment:
        pytest.skip("marked <!-- fragment -->")
    _run_up_to(block, tmp_path_factory)


def test_fragment_markers_mark_code_blocks() -> None:
    """A fragment marker is followed by a code block, not by prose or nothing."""
    dangling = [f"{p.path.relative_to(ROOT)}:{n}" for p in PAGES for n in p.dangling_markers]
    assert dangling == [], f"{FRAGMENT} not followed by a code block at {dangling}"


def test_most_python_blocks_run() -> None:
    """Fragments are the exception: at most a quarter of the Python blocks."""
    fragments = [b.id for b in PY_BLOCKS if b.fragment]
    print(f"{len(PY_BLOCKS)} Python blocks, {len(fragments)} fragments: {fragments}")
    assert len(PY_BLOCKS) > 0
    assert len(fragments) <= MAX_FRAGMENT_SHARE * len(PY_BLOCKS), fragments


def test_python_blocks_are_python() -> None:
    """Blocks tagged as something else that are really Python would escape the runner."""
    suspicious = [
        b.id
        for p in PAGES
        for b in p.blocks
        if b.lang == "" and re.search(r"^(from \w+ import|import \w+)", b.code, re.M)
    ]
    assert suspicious == [], f"untagged blocks that look like Python (tag them): {suspicious}"


# ------------------------------------------------------------------ shell blocks


def _cli_paths() -> dict[tuple[str, ...], str]:
    """The command path (words before the first option) of every documented command."""
    paths: dict[tuple[str, ...], str] = {}
    for block in SHELL_BLOCKS:
        text = re.sub(r"\\\n\s*", " ", block.code)
        for line in text.splitlines():
            for part in re.split(r"&&|\|\||;|\|", line.split("#")[0]):
                try:
                    words = shlex.split(part.strip().lstrip("$ "))
                except ValueError:
                    continue
                while words and "=" in words[0] and not words[0].startswith("-"):
                    words = words[1:]  # VAR=value prefixes
                if words[:3] == ["python", "-m", "commerce_connectors"]:
                    words = ["commerce-connectors", *words[3:]]
                if not words or words[0] != "commerce-connectors":
                    continue
                command: list[str] = []
                for word in words[1:]:
                    if word.startswith("-") or not re.fullmatch(r"[a-z][a-z-]*", word):
                        break
                    command.append(word)
                paths.setdefault(tuple(command), block.id)
    return paths


CLI_PATHS = _cli_paths()


@pytest.mark.parametrize("command", list(CLI_PATHS), ids=[" ".join(c) or "-" for c in CLI_PATHS])
def test_documented_command_exists(command: tuple[str, ...]) -> None:
    """``commerce-connectors <command path> --help`` exits 0 for every command in the docs."""
    from commerce_connectors.cli import main  # the console script's entry point

    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        status = main([*command, "--help"], out=out, err=err)
    assert status == 0, (
        f"{CLI_PATHS[command]}: `commerce-connectors {' '.join(command)}` is not a command:\n"
        f"{err.getvalue()[-500:]}"
    )


# ------------------------------------------------------------------ words and links

#: Words from the project's internal notes that mean nothing to a user.
IN_HOUSE = [
    (re.compile(r"(?i)\bfact[- ]sheets?\b"), "fact sheet"),
    (re.compile(r"(?i)\.\./shared|\bshared/|official-specs|official-examples"), "../shared path"),
    (re.compile(r"(?i)\b(DESIGN|STYLE)\.md\b"), "internal design notes"),
    (
        re.compile(r"(?i)\bseed(s'|'s)|\b(the|integration's|integrations'|its own)\s+seeds?\b"),
        "seed",
    ),
    (re.compile(r"(?i)\bseed (document|page|text|table)s?\b"), "seed"),
    (re.compile(r"(?i)\bissues?\b"), "issue"),
    (re.compile(r"\bengineer [A-Z]\b|\bthe brief\b"), "internal roles"),
    (re.compile(r"commerce_connectors\._(http|parsing|connect|webhooks)\b"), "private module"),
]

_LINK = re.compile(r"\[[^\]]*\]\(([^)\s]+)(?:\s+\"[^\"]*\")?\)")


def _prose(page: Page) -> Iterator[tuple[int, str]]:
    # Code spans included: a private module or a path is no better inside backticks.
    yield from page.prose


@pytest.mark.parametrize("page", PAGES, ids=[str(p.path.relative_to(ROOT)) for p in PAGES])
def test_no_in_house_words(page: Page) -> None:
    """Prose and code speak the library's terms; nothing points outside the repository."""
    found = [
        f"line {n}: {label}: {line.strip()[:90]}"
        for n, line in _prose(page)
        for pattern, label in IN_HOUSE
        if pattern.search(line)
    ]
    for block in page.blocks:
        for pattern, label in IN_HOUSE[:3] + IN_HOUSE[-1:]:
            if pattern.search(block.code):
                found.append(f"block at line {block.line}: {label}")
    assert found == []


@pytest.mark.parametrize("page", PAGES, ids=[str(p.path.relative_to(ROOT)) for p in PAGES])
def test_relative_links_exist(page: Page) -> None:
    """Every relative link points to a file of the repository."""
    missing = []
    for number, line in page.prose:
        for target in _LINK.findall(line):
            if re.match(r"^[a-z][a-z0-9+.-]*:|^#|^mailto:", target):
                continue
            path = target.split("#")[0]
            if path and not (page.path.parent / path).exists():
                missing.append(f"line {number}: {target}")
    assert missing == []


# ------------------------------------------------------------------ pictures match the code


def test_phone_chain_picture_matches_the_default_rules() -> None:
    """The phone-fallback diagram in rules.md draws exactly the default customer chains."""
    from commerce_connectors.rules import defaults_for

    page = next(p for p in PAGES if p.path == ROOT / "docs" / "rules.md")
    (diagram,) = [b.code for b in page.blocks if b.lang == "mermaid" and "phone" in b.code]
    drawn: dict[str, list[str]] = {}
    for platform, number, label in re.findall(r'^\s*([a-z]+)(\d+)\["([^"]+)"\]', diagram, re.M):
        drawn.setdefault(platform, []).append(label)
        assert len(drawn[platform]) == int(number) + 1
    expected = {
        p: [str(c.path) for c in defaults_for(p).phone_chain("customer")]
        for p in ("shopify", "bigcommerce", "square", "tiendanube")
    }
    assert drawn == expected
