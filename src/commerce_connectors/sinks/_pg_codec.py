"""How text and JSON that PostgreSQL cannot hold as they are get stored, and read back exactly.

PostgreSQL's ``text`` and ``jsonb`` refuse the NUL character (``\\x00``), ``jsonb``
refuses ``NaN`` and ``Infinity``, and it keeps numbers as ``numeric``: a float
such as ``1.23e19`` would come back as an int. SQLite keeps all of these, so
the PostgreSQL sink and state store encode them, losslessly, on every
connection they open (:func:`install`), and decode them on every read:

* in text, ``\\x01`` is the escape character: NUL is stored as ``\\x01\\x01``,
  ``\\x01`` itself as ``\\x01\\x02`` and a lone surrogate (which UTF-8 cannot
  hold; JSON such as ``"\\ud800"`` parses to one) as ``\\x01\\x03`` and its four
  hex digits. Text without these is stored unchanged, and the encoding keeps
  the ``COLLATE "C"`` order of text without surrogates;
* in JSON, every string (and key) is encoded the same way, and a float that
  ``jsonb`` would not give back as it was (``NaN``, ``Infinity``, ``-0.0``, an
  exponent form such as ``1.23e+19``) is stored as the string ``\\x01F`` and its
  Python ``repr`` (no encoded string starts so).

Other programs reading the tables see the encoded form; records without these
characters or floats (nearly all) look exactly as written.

Example:
    >>> encode_text("a\\x00b"), decode_text(encode_text("a\\x00b\\x01"))
    ('a\\x01\\x01b', 'a\\x00b\\x01')
    >>> decode_json(dumps_json({"x": float("inf"), "n\\x00": [1.23e19]}))
    {'x': inf, 'n\\x00': [1.23e+19]}
"""

from __future__ import annotations

import json
import math
import re
from typing import Any

__all__ = ["decode_json", "decode_text", "dumps_json", "encode_text", "install"]

_ESC = "\x01"
_FLOAT = _ESC + "F"
_DECODE = re.compile("\x01(\x01|\x02|\x03[0-9a-f]{4})")
_SURROGATE = re.compile("[\ud800-\udfff]")
# A float in exponent form: Python's repr always signs the exponent (1e+19, 1e-07).
_EXPONENT = re.compile(r"[0-9]e[-+][0-9]")


def _suspect(text: str) -> bool:
    """Whether JSON text may hold what needs encoding (cheap substring tests first)."""
    return (
        "\\u0000" in text
        or "\\u0001" in text
        or "\\ud" in text
        or "NaN" in text
        or "Infinity" in text
        or "-0.0" in text
        or (("e+" in text or "e-" in text) and _EXPONENT.search(text) is not None)
    )


def encode_text(text: str) -> str:
    """``text`` with NUL, lone surrogates and the escape character encoded."""
    if "\x00" in text or _ESC in text:
        text = text.replace(_ESC, "\x01\x02").replace("\x00", "\x01\x01")
    try:
        text.encode()
    except UnicodeEncodeError:  # a lone surrogate (JSON's "\ud800" parses to one)
        text = _SURROGATE.sub(lambda m: f"\x01\x03{ord(m.group()):04x}", text)
    return text


def _decoded(match: re.Match[str]) -> str:
    code = match.group(1)
    if code == "\x01":
        return "\x00"
    if code == "\x02":
        return _ESC
    return chr(int(code[1:], 16))


def decode_text(text: str) -> str:
    """The inverse of :func:`encode_text`."""
    if _ESC not in text:
        return text
    return _DECODE.sub(_decoded, text)


def _encode(value: Any) -> Any:
    if isinstance(value, str):
        return encode_text(value)
    if isinstance(value, float):
        shown = repr(value)
        if not math.isfinite(value) or "e" in shown or shown == "-0.0":
            return _FLOAT + shown
        return value
    if isinstance(value, dict):
        return {(encode_text(k) if isinstance(k, str) else k): _encode(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_encode(v) for v in value]
    return value


def _decode(value: Any) -> Any:
    if isinstance(value, str):
        if value.startswith(_FLOAT):
            return float(value[2:])
        return decode_text(value)
    if isinstance(value, dict):
        return {decode_text(k): _decode(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_decode(v) for v in value]
    return value


def dumps_json(value: Any) -> str:
    """JSON text of ``value`` that ``jsonb`` stores and gives back exactly."""
    text = json.dumps(value)
    if not _suspect(text):
        return text
    return json.dumps(_encode(value), allow_nan=False)


def decode_json(text: str | bytes) -> Any:
    """The value :func:`dumps_json` stored (``jsonb`` shows ``\\x01`` as ``\\u0001``)."""
    value = json.loads(text)
    marker = b"\\u0001" if isinstance(text, bytes) else "\\u0001"
    if marker not in text:  # type: ignore[operator]
        return value
    return _decode(value)


def install(conn: Any) -> None:
    """Make ``conn`` (a psycopg connection, client encoding UTF-8) encode and decode so."""
    from psycopg import adapt
    from psycopg.pq import Format
    from psycopg.types.json import set_json_dumps, set_json_loads

    class TextDumper(adapt.Dumper):
        # Untyped, as psycopg's own text dumper: the server infers the type.
        oid = 0
        format = Format.TEXT

        def dump(self, obj: str) -> bytes:
            return encode_text(obj).encode()

    class TextLoader(adapt.Loader):
        format = Format.TEXT

        def load(self, data: Any) -> str:
            return decode_text(bytes(data).decode())

    conn.adapters.register_dumper(str, TextDumper)
    for name in ("text", "varchar", "bpchar"):
        conn.adapters.register_loader(name, TextLoader)
    set_json_dumps(dumps_json, context=conn)
    set_json_loads(decode_json, context=conn)
