"""Where a command's data and state live: ``--sink`` and ``--state``, checked before use.

A SQLite target may be given as a URL (``sqlite:///path.db``, ``sqlite:////abs/path.db``)
or as a plain file path (``shop.db``, ``./data/shop.db``), which means the same file.
Every other URL (``memory://``, ``activecampaign://…``, ``postgresql://…``) goes to
:func:`~commerce_connectors.sinks.open_sink` / :func:`~commerce_connectors.state.open_state_store`
untouched. A SQLite file is checked first, so that a mistake is reported, not acted on:

* its directory must exist (nothing creates directories for a typo);
* an existing file must be an SQLite database;
* commands that only read (``status``, ``dead-letters list``, ``connections list`` …)
  need the file to exist: they never create one, and open it read-only (no table
  created, the journal mode untouched: its bytes never change); a SQLite file that
  holds no state is refused (``not a commerce-connectors database``).

Example:
    >>> sqlite_url("shop.db"), sqlite_url("sqlite:///shop.db"), sqlite_url("memory://")
    ('sqlite:///shop.db', 'sqlite:///shop.db', 'memory://')
    >>> state_url_for("sqlite:///shop.db", None), state_url_for("memory://", None)
    ('sqlite:///shop.db', 'memory://')
    >>> state_url_for("activecampaign://acme.api-us1.com", None)
    'sqlite:///commerce-connectors-state.db'
"""

from __future__ import annotations

import os
from pathlib import Path

from ..errors import ConfigurationError

__all__ = [
    "DEFAULT_SINK",
    "DEFAULT_STATE",
    "check_sqlite",
    "sqlite_file",
    "sqlite_url",
    "state_url_for",
]

DEFAULT_SINK = "sqlite:///commerce-connectors.db"
#: Where checkpoints go when the sink keeps none itself (a CRM).
DEFAULT_STATE = "sqlite:///commerce-connectors-state.db"

_SQLITE = "sqlite:///"
_HEADER = b"SQLite format 3\x00"
# Schemes whose URL is their store: the state goes beside the data by default.
_SELF_STATED = ("sqlite:", "memory://", "postgresql://", "postgresql+", "postgres://")


def sqlite_url(text: str, *, option: str = "--sink") -> str:
    """``text`` as a store URL: a plain path becomes ``sqlite:///path``; URLs are kept.

    Raises:
        ConfigurationError: a SQLite URL in a wrong form (``sqlite://x.db``, ``sqlite:x.db``),
            with the right one shown.
    """
    text = text.strip()
    if not text:
        raise ConfigurationError(f"{option} is empty: give sqlite:///path.db or a file path")
    if text.startswith("sqlite:") and not text.startswith(_SQLITE):
        rest = text.removeprefix("sqlite:").lstrip("/")
        raise ConfigurationError(
            f"{option} {text}: a SQLite URL has three slashes before a relative path and"
            f" four before an absolute one: {option} {_SQLITE}{rest} or {option} {_SQLITE}/{rest}"
        )
    if "://" in text:
        return text
    return _SQLITE + text


def sqlite_file(url: str) -> Path | None:
    """The file a SQLite URL names (``None`` for another scheme or ``:memory:``)."""
    if not url.startswith(_SQLITE) or url == _SQLITE + ":memory:":
        return None
    return Path(os.path.expanduser(url[len(_SQLITE) :]))


def state_url_for(sink: str, state: str | None) -> str:
    """The state store URL: ``--state``, else the sink's own store, else the default file."""
    if state:
        return sqlite_url(state, option="--state")
    if sink.startswith(_SELF_STATED):
        # memory:// too: durable checkpoints for data that vanishes with the process
        # would make the next run skip what it never kept.
        return sink
    return DEFAULT_STATE


def check_sqlite(url: str, *, option: str, must_exist: bool) -> None:
    """Refuse a SQLite target that cannot be what the user meant (see the module docstring).

    Raises:
        ConfigurationError: the directory is missing, the file is not SQLite, or (with
            ``must_exist``) there is no file.
    """
    path = sqlite_file(url)
    if path is None:
        return
    if not path.exists():
        if must_exist:
            raise ConfigurationError(
                f"no database at {path} ({option} {url}): nothing was synced there yet, or the"
                " path is mistyped; this command only reads, so it creates nothing"
            )
        parent = path.parent if str(path.parent) else Path(".")
        if not parent.is_dir():
            raise ConfigurationError(
                f"the directory {parent} does not exist ({option} {url}): create it first,"
                " or correct the path"
            )
        return
    if path.is_dir():
        raise ConfigurationError(f"{path} is a directory, not a database file ({option})")
    try:
        with path.open("rb") as fh:
            head = fh.read(len(_HEADER))
    except OSError as exc:
        raise ConfigurationError(f"cannot read {path} ({option}): {exc.strerror}") from None
    if head and head != _HEADER:
        raise ConfigurationError(
            f"{path} is not an SQLite database ({option} {url}): give another file"
        )
    if not head and must_exist:
        raise ConfigurationError(f"{path} is empty: nothing was synced there yet ({option})")
