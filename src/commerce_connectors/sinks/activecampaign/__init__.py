"""The ActiveCampaign sink: synced stores into ActiveCampaign's Deep Data (e-commerce) API v3.

:class:`ActiveCampaignSink` implements the :class:`~commerce_connectors.protocols.Sink`
protocol: contacts (with tags, account and list subscription on consent),
e-commerce customers, orders and abandoned carts, written lookup-or-create so a
re-run creates nothing twice, paced under the account's 5 requests per second.
See ``docs/activecampaign.md``.

Example:
    >>> from commerce_connectors.sinks.activecampaign import ActiveCampaignSink, StoreInfo
    >>> sink = ActiveCampaignSink(api_url="https://acct.api-us1.com", api_token="0123-secret",
    ...                           stores={"shopify:acme": StoreInfo("Acme Toys")})
    >>> sink.capabilities.accepts_phone_only, "0123-secret" in repr(sink)
    (False, False)
    >>> sink.close()
"""

from __future__ import annotations

from ._constants import DEFAULT_REQUESTS_PER_SECOND, DEFAULT_SERVICE, TOKEN_ENV
from ._errors import (
    ActiveCampaignErrorMapper,
    ActiveCampaignProblem,
    ActiveCampaignValidationError,
    RecordRejectedError,
    parse_problems,
)
from ._payloads import (
    Inexact,
    OrderBody,
    StoreInfo,
    UnrepresentableError,
    ac_datetime,
    checkout_ids,
    line_externalid,
    minor_units,
    order_body,
)
from ._sink import ActiveCampaignSink, ActiveCampaignSinkError, SinkNotice, activecampaign_limiter

__all__ = [
    "DEFAULT_REQUESTS_PER_SECOND",
    "DEFAULT_SERVICE",
    "TOKEN_ENV",
    "ActiveCampaignErrorMapper",
    "ActiveCampaignProblem",
    "ActiveCampaignSink",
    "ActiveCampaignSinkError",
    "ActiveCampaignValidationError",
    "Inexact",
    "OrderBody",
    "RecordRejectedError",
    "SinkNotice",
    "StoreInfo",
    "UnrepresentableError",
    "ac_datetime",
    "activecampaign_limiter",
    "checkout_ids",
    "line_externalid",
    "minor_units",
    "order_body",
    "parse_problems",
]
