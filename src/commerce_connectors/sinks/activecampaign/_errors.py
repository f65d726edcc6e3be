"""ActiveCampaign's error bodies as typed errors that name the fields at fault.

ActiveCampaign answers errors in two shapes:

* ``{"errors": [{"title", "detail", "code", "source": {"pointer": "/data/attributes/<field>"}}]}``
  (validation, 422; also some 404s);
* ``{"message": "No Result found for …"}`` (not found and other failures).

:class:`ActiveCampaignErrorMapper` plugs into the HTTP engine: it keeps the library's
mapping by status (401 → ``AuthenticationError``, 429 → ``RateLimitError``, 5xx →
``ServerError`` …) and turns 400 and 422 answers into
:class:`ActiveCampaignValidationError`, a ``ClientRequestError`` that lists every
problem with its field.

Example:
    >>> problems = parse_problems({"errors": [
    ...     {"title": "Email address already exists in the system", "detail": "",
    ...      "code": "duplicate", "source": {"pointer": "/data/attributes/email"}}]})
    >>> str(problems[0]), problems[0].is_duplicate
    ('email: Email address already exists in the system (duplicate)', True)
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import attrs
import httpx

from ..._http import DefaultErrorMapper, Redactor
from ...errors import APIError, ClientRequestError, FieldProblem, InvalidRecordError

__all__ = [
    "ActiveCampaignErrorMapper",
    "ActiveCampaignProblem",
    "ActiveCampaignValidationError",
    "RecordRejectedError",
    "parse_problems",
]

_POINTER_PREFIX = "/data/attributes/"


@attrs.frozen
class ActiveCampaignProblem:
    """One problem of an ActiveCampaign error answer.

    Attributes:
        title: what is wrong, in ActiveCampaign's words.
        detail: more words, when given.
        code: the machine-readable code (``duplicate``, ``field_missing`` …).
        field: the field at fault, from ``source.pointer`` (``email``; nested
            paths keep their slashes: ``orderProducts/0/price``).
    """

    title: str
    detail: str | None = None
    code: str | None = None
    field: str | None = None

    @property
    def is_duplicate(self) -> bool:
        """Whether the problem says the object already exists."""
        words = f"{self.title} {self.detail or ''}".lower()
        return self.code == "duplicate" or "already exists" in words

    @property
    def text(self) -> str:
        """What is wrong, without the field: title, detail and code."""
        text = self.title
        if self.detail and self.detail != self.title:
            text = f"{text}: {self.detail}"
        return f"{text} ({self.code})" if self.code else text

    def __str__(self) -> str:
        return f"{self.field}: {self.text}" if self.field else self.text


def _text(value: Any) -> str | None:
    if value is None or isinstance(value, bool):
        return None
    text = str(value).strip()
    return text or None


def parse_problems(body: Any) -> tuple[ActiveCampaignProblem, ...]:
    """Every problem an ActiveCampaign error body names (none for ``{}``).

    Example:
        >>> parse_problems({"message": "No Result found for EcomOrder with id 9"})
        (ActiveCampaignProblem(title='No Result found for EcomOrder with id 9', detail=None, code=None, field=None),)
    """  # noqa: E501
    if not isinstance(body, Mapping):
        return ()
    problems: list[ActiveCampaignProblem] = []
    errors = body.get("errors")
    if isinstance(errors, list):
        for item in errors:
            if not isinstance(item, Mapping):
                text = _text(item)
                if text:
                    problems.append(ActiveCampaignProblem(text))
                continue
            source = item.get("source")
            pointer = _text(source.get("pointer")) if isinstance(source, Mapping) else None
            field = None
            if pointer:
                field = (
                    pointer[len(_POINTER_PREFIX) :]
                    if pointer.startswith(_POINTER_PREFIX)
                    else pointer
                )
            title = _text(item.get("title")) or _text(item.get("detail")) or "error"
            problems.append(
                ActiveCampaignProblem(
                    title, _text(item.get("detail")), _text(item.get("code")), field
                )
            )
    message = _text(body.get("message"))
    if message and not problems:
        problems.append(ActiveCampaignProblem(message))
    return tuple(problems)


class ActiveCampaignValidationError(ClientRequestError):
    """ActiveCampaign refused a request (400 or 422): every problem, with its field.

    Attributes:
        problems: what ActiveCampaign said, one entry per error.
        fields: the fields at fault, in order (empty when the answer named none).
    """

    def __init__(
        self, message: str, *, problems: Iterable[ActiveCampaignProblem] = (), **kwargs: Any
    ) -> None:
        super().__init__(message, **kwargs)
        self.problems = tuple(problems)
        self.fields = tuple(p.field for p in self.problems if p.field)

    @property
    def is_duplicate(self) -> bool:
        """Whether ActiveCampaign said the object already exists."""
        return any(p.is_duplicate for p in self.problems)


@attrs.frozen
class ActiveCampaignErrorMapper:
    """The engine's response → exception mapping for ActiveCampaign.

    Example:
        >>> resp = httpx.Response(422, json={"errors": [{"title": "The connection service was not provided.",
        ...     "code": "field_missing", "source": {"pointer": "/data/attributes/service"}}]},
        ...     request=httpx.Request("POST", "https://acct.api-us1.com/api/3/connections"))
        >>> err = ActiveCampaignErrorMapper()(resp, resp.json(), platform="activecampaign",
        ...                                   redactor=Redactor())
        >>> type(err).__name__, err.fields, err.message
        ('ActiveCampaignValidationError', ('service',), 'service: The connection service was not provided. (field_missing)')
    """  # noqa: E501

    base: DefaultErrorMapper = attrs.field(factory=DefaultErrorMapper)

    def __call__(
        self, response: httpx.Response, body: Any, *, platform: str, redactor: Redactor
    ) -> APIError | None:
        """Return the exception for ``response``, or ``None`` when it is a success."""
        error = self.base(response, body, platform=platform, redactor=redactor)
        if error is None or type(error) is not ClientRequestError:
            return error
        problems = parse_problems(body)
        message = "; ".join(str(p) for p in problems[:5]) or error.message
        if len(problems) > 5:
            message += f"; (+{len(problems) - 5} more)"
        return ActiveCampaignValidationError(
            redactor.text(message),
            problems=problems,
            platform=error.platform,
            status_code=error.status_code,
            request_id=error.request_id,
            method=error.method,
            url=error.url,
            body_excerpt=error.body_excerpt,
            code=error.code,
        )


class RecordRejectedError(InvalidRecordError):
    """A record the sink could not write to ActiveCampaign: skip it, keep its payload.

    Raised for nothing; carried by the item's outcome (``ItemOutcome.error``)
    for every item it reports ``refused`` because ActiveCampaign cannot take the
    record (an amount it cannot represent) or refused it (422). It is an
    :class:`~commerce_connectors.errors.InvalidRecordError`, so the sync engine can
    dead-letter it with the record's raw payload and replay it after a fix.

    Attributes:
        cause: ActiveCampaign's answer, when it refused the record.
    """

    def __init__(
        self,
        *,
        platform: str,
        kind: str,
        record_id: str | None,
        problems: Iterable[FieldProblem],
        payload: Any,
        cause: APIError | None = None,
    ) -> None:
        super().__init__(
            platform=platform,
            kind=kind,
            record_id=record_id,
            problems=tuple(problems),
            payload=payload,
        )
        self.cause = cause
