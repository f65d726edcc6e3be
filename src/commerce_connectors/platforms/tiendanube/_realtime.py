"""Webhook subscriptions and event resolution, mixed into :class:`TiendanubeConnector`.

Subscriptions go through the Webhook resource: ``GET /webhooks`` (paged, filtered
by ``url``), ``POST /webhooks`` with ``{"event", "url"}`` and ``DELETE
/webhooks/{id}``, on the connector's HTTP engine (its rate limit, retries and
error mapping). A Tiendanube delivery names only the record
(``{"store_id", "event", "id"}``), so an event is resolved by fetching the record
(``GET /orders/{id}``, ``/customers/{id}``, ``/products/{id}``) and parsing it
with the parser the connector's streams use.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from ..._http import PageWalk, Request
from ..._webhooks import WebhookAction, WebhookEvent, WebhookSubscription
from ...errors import ConfigurationError, MalformedResponseError, NotFoundError
from ...models import Platform
from ...protocols import InvalidRecordHandler, Stream
from . import constants as c
from ._paging import TiendanubePaginator, _page_number
from .webhooks import DEFAULT_TOPICS, PRIVACY_TOPICS, check_callback_url

if TYPE_CHECKING:
    from ..._http import HttpEngine
    from ..base import Record

__all__ = ["TiendanubeRealtime"]

logger = logging.getLogger("commerce_connectors.tiendanube")

# Record kinds an event may name, and the stream whose parser reads them.
_STREAMS: Mapping[str, Stream] = {
    "customer": Stream.CUSTOMERS,
    "order": Stream.ORDERS,
    "product": Stream.PRODUCTS,
}
_PATHS: Mapping[str, str] = {"customer": "customers", "order": "orders", "product": "products"}
# The README asks for this exact Content-Type on POST and PUT (415 without it).
_JSON = {"Content-Type": "application/json; charset=utf-8"}


def _subscription(item: Any) -> WebhookSubscription | None:
    """A ``GET /webhooks`` or ``POST /webhooks`` object; ``None`` when it is not one."""
    if not isinstance(item, Mapping):
        return None
    wid, event, url = item.get("id"), item.get("event"), item.get("url")
    # "The unique numeric identifier for the Webhook": it goes into DELETE /webhooks/{id},
    # so anything but ASCII digits is refused (the listing is then malformed).
    if isinstance(wid, bool) or not isinstance(wid, (int, str)):
        return None
    if not c.NUMERIC_ID.fullmatch(str(wid)):
        return None
    if not isinstance(event, str) or not isinstance(url, str):
        return None
    # Tiendanube has no "active" flag: a webhook it lists is delivered to.
    return WebhookSubscription(id=str(wid), topic=event, url=url)


class TiendanubeRealtime:
    """``ensure_webhooks``, ``list_webhooks``, ``remove_webhooks``, ``owns_event`` and
    ``records_for_event`` for :class:`TiendanubeConnector` (see its documentation)."""

    if TYPE_CHECKING:
        # Provided by TiendanubeConnector and BaseConnector.
        engine: HttpEngine
        store_id: str
        on_invalid: InvalidRecordHandler
        _header_language: str | None

        def _parser(self, stream: Stream) -> Callable[[Any], Record]: ...

        def _parse(
            self, stream: Stream, payload: Any, parser: Callable[[Any], Record]
        ) -> Record | None: ...

    # -- subscriptions -----------------------------------------------------------------

    def list_webhooks(self, *, url: str | None = None) -> list[WebhookSubscription]:
        """Every webhook this app has on this store (``GET /webhooks``, every page).

        Args:
            url: only those delivering to this URL (the ``url`` filter, re-checked here).

        Raises:
            APIError: the listing failed (after the engine's retries).
            MalformedResponseError: a page that is not the documented list of webhooks.

        Example:
            >>> from commerce_connectors.clock import FakeClock
            >>> from commerce_connectors.platforms.tiendanube import TiendanubeConnector
            >>> from commerce_connectors.testing.simulators.tiendanube import (
            ...     TiendanubeSimulator)
            >>> sim = TiendanubeSimulator(customers=1, orders=0, products=0, checkouts=0)
            >>> conn = TiendanubeConnector(store_id=sim.store_id, access_token=sim.token,
            ...     user_agent="Demo (dev@example.com)", base_url=sim.base_url,
            ...     transport=sim.transport(), clock=sim.clock)
            >>> conn.list_webhooks()
            []
        """
        params: dict[str, Any] = {"per_page": c.MAX_PAGE_SIZE}
        if url is not None:
            params["url"] = url
        first = Request("GET", "webhooks", params=params)
        walk = PageWalk(
            TiendanubePaginator(c.MAX_PAGE_SIZE),
            first,
            platform="tiendanube",
            redact=self.engine.redactor.url,
        )
        found: dict[str, WebhookSubscription] = {}
        request: Request | None = first
        while request is not None:
            try:
                response = self.engine.send(request)
            except NotFoundError:
                # Past the last page the API answers 404 ("Last page is N").
                if _page_number(request) > 1:
                    break
                raise
            self.engine.stats.add(pages=1)
            body = response.body
            items = body if isinstance(body, list) else None
            subscriptions = [_subscription(item) for item in items or ()]
            if items is None or None in subscriptions:
                raise MalformedResponseError(
                    "GET /webhooks: expected a JSON array of webhooks with id, event and url",
                    platform="tiendanube",
                    status_code=response.status_code,
                    method="GET",
                    url=self.engine.redactor.url("webhooks"),
                )
            for sub in subscriptions:
                assert sub is not None
                found[sub.id] = sub  # a page shifted by a concurrent change repeats one
            request = walk.advance(response)
        return [s for s in found.values() if url is None or s.url == url]

    def ensure_webhooks(
        self, callback_url: str, topics: Sequence[str] | None = None
    ) -> list[WebhookSubscription]:
        """Subscribe ``callback_url`` to each of ``topics`` it is not subscribed to yet.

        Idempotent: the URL's existing webhooks are listed first and a topic already
        delivered to it is not created again. The data-protection events
        (``store/redact``, ``customers/redact``, ``customers/data_request``) are not
        subscribed through the API: set their URLs in the app's settings in the
        partner portal.

        Args:
            callback_url: the public ``https`` URL of your receiver.
            topics: event names (default: :data:`~.webhooks.DEFAULT_TOPICS`).

        Returns:
            Every webhook delivering to ``callback_url`` after the call.

        Raises:
            ConfigurationError: a URL Tiendanube refuses (not https, localhost, its own
                domains), or a data-protection topic; nothing is sent then.
            ClientRequestError: the API refused a subscription (422 names the field).

        Example:
            >>> from commerce_connectors.platforms.tiendanube import TiendanubeConnector
            >>> from commerce_connectors.testing.simulators.tiendanube import (
            ...     TiendanubeSimulator)
            >>> sim = TiendanubeSimulator(customers=1, orders=0, products=0, checkouts=0)
            >>> conn = TiendanubeConnector(store_id=sim.store_id, access_token=sim.token,
            ...     user_agent="Demo (dev@example.com)", base_url=sim.base_url,
            ...     transport=sim.transport(), clock=sim.clock)
            >>> subs = conn.ensure_webhooks("https://hooks.example.com/tn", ["order/paid"])
            >>> [(s.topic, s.url) for s in subs]
            [('order/paid', 'https://hooks.example.com/tn')]
            >>> len(conn.ensure_webhooks("https://hooks.example.com/tn", ["order/paid"]))
            1
        """
        check_callback_url(callback_url)
        wanted: list[str] = []
        for topic in DEFAULT_TOPICS if topics is None else topics:
            if not isinstance(topic, str) or not topic.strip():
                raise ConfigurationError(f"a webhook topic is an event name, got {topic!r}")
            if topic in PRIVACY_TOPICS:
                raise ConfigurationError(
                    f"{topic} cannot be subscribed through the API: set its URL in the "
                    "app's settings in the Tiendanube / Nuvemshop partner portal"
                )
            if topic not in wanted:
                wanted.append(topic)
        existing = self.list_webhooks(url=callback_url)
        have = {s.topic for s in existing}
        created: list[WebhookSubscription] = []
        for topic in wanted:
            if topic in have:
                continue
            # Not retried once sent (POST): a blind retry could subscribe twice.
            response = self.engine.post(
                "webhooks", json={"event": topic, "url": callback_url}, headers=_JSON
            )
            sub = _subscription(response.body)
            if sub is None:
                raise MalformedResponseError(
                    "POST /webhooks: expected the created webhook (id, event, url)",
                    platform="tiendanube",
                    status_code=response.status_code,
                    method="POST",
                    url=self.engine.redactor.url("webhooks"),
                )
            logger.info("tiendanube %s: subscribed %s to %s", self.store_id, callback_url, topic)
            created.append(sub)
            have.add(topic)
        return existing + created

    def remove_webhooks(self, callback_url: str | None = None) -> int:
        """Delete the webhooks delivering to ``callback_url`` (every one of them if ``None``).

        A webhook already gone (404) is not counted.

        Returns:
            How many were deleted.
        """
        removed = 0
        for sub in self.list_webhooks(url=callback_url):
            try:
                self.engine.request("DELETE", f"webhooks/{sub.id}")
            except NotFoundError:
                continue
            removed += 1
        return removed

    # -- events ------------------------------------------------------------------------

    def owns_event(self, event: WebhookEvent) -> bool:
        """Whether ``event`` is a Tiendanube event about this connection's store."""
        return event.platform is Platform.TIENDANUBE and event.store_id.strip() == self.store_id

    def records_for_event(self, event: WebhookEvent) -> list[Record]:
        """The current record an upsert event names, fetched from the API and parsed.

        Tiendanube's deliveries carry ids only, so the record is always fetched
        (``GET /orders/{id}``, ``/customers/{id}`` or ``/products/{id}``) and parsed
        exactly as :meth:`iter_orders` and the other streams parse it.

        Returns:
            ``[record]``; ``[]`` when the event is another store's, is not an upsert of
            a customer, order or product, the record no longer exists (404), or the
            parser refused it (it then went to ``on_invalid``).

        Raises:
            APIError: the fetch failed (other than 404), after the engine's retries.
        """
        if not self.owns_event(event) or event.action is not WebhookAction.UPSERT:
            return []
        kind, record_id = event.kind, event.external_id
        # Tiendanube ids are numbers in ASCII digits: anything else (a path, "..",
        # full-width digits that str.isdigit() accepts) cannot name a record and must
        # not reach the URL path. A payload never decides a path.
        if kind is None or kind not in _STREAMS or not record_id:
            return []
        if not c.NUMERIC_ID.fullmatch(record_id):
            logger.warning(
                "tiendanube %s: %s event names a non-numeric id %r; ignored",
                self.store_id,
                event.topic,
                record_id[:40],
            )
            return []
        path = f"{_PATHS[kind]}/{record_id}"
        try:
            response = self.engine.get(path)
        except NotFoundError:
            return []
        if not isinstance(response.body, Mapping):
            raise MalformedResponseError(
                f"GET /{_PATHS[kind]}/{{id}}: expected a JSON object",
                platform="tiendanube",
                status_code=response.status_code,
                method="GET",
                url=self.engine.redactor.url(path),
            )
        language = response.headers.get(c.MAIN_LANGUAGE_HEADER)
        if language and language.strip():
            self._header_language = language.strip()
        stream = _STREAMS[kind]
        record = self._parse(stream, response.body, self._parser(stream))
        return [] if record is None else [record]
