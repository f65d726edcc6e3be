"""Secrets never show: reprs, exception strings, URLs, bodies, and DEBUG logs."""

from __future__ import annotations

import logging

import httpx
import pytest
from httpkit import TOKEN, make_engine, scripted

from commerce_connectors._http import (
    LOGGER_NAME,
    BearerAuth,
    HeaderTokenAuth,
    HttpEngine,
    HttpEvent,
    NoAuth,
    RedactingFilter,
    Redactor,
    RetryPolicy,
    get_logger,
)
from commerce_connectors.clock import FakeClock
from commerce_connectors.errors import APIError, ConfigurationError, TransportError


@pytest.mark.parametrize(
    ("auth", "header", "value"),
    [
        (HeaderTokenAuth.shopify(TOKEN), "X-Shopify-Access-Token", TOKEN),
        (HeaderTokenAuth.bigcommerce(TOKEN), "X-Auth-Token", TOKEN),
        (HeaderTokenAuth.activecampaign(TOKEN), "Api-Token", TOKEN),
        (HeaderTokenAuth.tiendanube(TOKEN), "Authentication", f"bearer {TOKEN}"),
        (BearerAuth(TOKEN), "Authorization", f"Bearer {TOKEN}"),
    ],
)
def test_auth_strategies_send_their_header_and_hide_the_token(
    auth: HeaderTokenAuth, header: str, value: str
) -> None:
    assert auth.headers() == {header: value}
    assert auth.secrets == (TOKEN,)
    assert TOKEN not in repr(auth)
    assert TOKEN not in str(auth)
    assert "***" in repr(auth)


def test_auth_equality_and_validation() -> None:
    assert HeaderTokenAuth.shopify(TOKEN) == HeaderTokenAuth.shopify(TOKEN)
    assert HeaderTokenAuth.shopify(TOKEN) != HeaderTokenAuth.bigcommerce(TOKEN)
    assert len({BearerAuth("abcd1"), BearerAuth("abcd1")}) == 1
    with pytest.raises(ConfigurationError):
        HeaderTokenAuth.shopify("  ")
    assert NoAuth().headers() == {}
    assert NoAuth().secrets == ()


def test_redactor_text_url_headers() -> None:
    r = Redactor([TOKEN, "short"])
    assert r.text(f"Bearer {TOKEN}!") == "Bearer ***!"
    assert r.text("short") == "***"
    assert r.text('{"password": "hunter2", "client_secret":"s", "id": 4}') == (
        '{"password": "***", "client_secret":"***", "id": 4}'
    )
    assert r.text("api_key=abc&x=1 token=zz") == "api_key=***&x=1 token=***"
    # "code" is only sensitive in URLs (OAuth callbacks), never in error bodies.
    assert r.text('{"code": "NOT_FOUND"}') == '{"code": "NOT_FOUND"}'
    assert (
        r.url("https://u:pw@h.test/cb?code=oauthcode&state=1")
        == "https://***@h.test/cb?code=***&state=1"
    )
    assert r.url(f"https://h.test/x?api_key={TOKEN}") == "https://h.test/x?api_key=***"
    assert r.headers({"X-Auth-Token": "anything", "Accept": "application/json"}) == {
        "X-Auth-Token": "***",
        "Accept": "application/json",
    }
    assert TOKEN not in repr(r)
    assert Redactor(["abc"]).text("abc") == "abc"  # too short to be a real secret


def test_engine_repr_and_errors_never_show_the_token() -> None:
    clock = FakeClock()
    handler, _ = scripted(
        [
            httpx.Response(401, json={"errors": f"bad token {TOKEN}"}),
            httpx.ConnectError(f"cannot reach ?access_token={TOKEN}"),
        ]
    )
    engine = make_engine(handler, clock, retry=RetryPolicy.no_retry())
    assert TOKEN not in repr(engine)
    with engine:
        with pytest.raises(APIError) as api:
            engine.get("x", params={"access_token": TOKEN})
        with pytest.raises(TransportError) as transport:
            engine.get("x")
    for exc in (api.value, transport.value):
        assert TOKEN not in str(exc)
        assert TOKEN not in repr(exc)
        assert all(TOKEN not in str(v) for v in vars(exc).values())


def test_debug_logs_never_show_the_token(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG, logger=LOGGER_NAME)
    clock = FakeClock()
    handler, _ = scripted(
        [
            httpx.Response(503, json={"errors": f"echo {TOKEN}"}),
            httpx.ReadTimeout(f"timeout {TOKEN}"),
            httpx.Response(200, json={"token": TOKEN}),
            httpx.Response(403, json={"errors": TOKEN}),
        ]
    )
    with make_engine(handler, clock) as engine:
        engine.get("orders.json", params={"access_token": TOKEN, "limit": 5})
        with pytest.raises(APIError):
            engine.get("orders.json", params={"api_key": TOKEN})
        # Someone else's code logging carelessly on our logger is cleaned too.
        get_logger().debug("careless %s and %s", TOKEN, f"Authorization: Bearer {TOKEN}")
        logging.getLogger(LOGGER_NAME).info(f"careless f-string {TOKEN}")
    assert len(caplog.records) >= 6
    assert TOKEN not in caplog.text
    for record in caplog.records:
        assert TOKEN not in record.getMessage()
    assert "access_token=***" in caplog.text
    assert "retrying in" in caplog.text


def test_filter_with_one_redactor_and_broken_format() -> None:
    f = RedactingFilter(Redactor(["sekret-value"]))
    record = logging.LogRecord("x", logging.INFO, __file__, 1, "a %s b %d", ("sekret-value",), None)
    assert f.filter(record)
    assert "sekret-value" not in record.getMessage()
    assert "***" in record.getMessage()


def test_events_carry_redacted_urls() -> None:
    clock = FakeClock()
    events: list[HttpEvent] = []
    handler, _ = scripted([httpx.Response(500), httpx.Response(200, json={})])
    with make_engine(handler, clock, on_event=events.append) as engine:
        engine.get("x", params={"access_token": TOKEN})
    assert [e.kind for e in events] == ["response", "retry", "response"]
    assert all(TOKEN not in e.url for e in events)
    assert events[1].wait is not None
    assert events[0].status_code == 500


def test_closed_engine_forgets_its_secrets_in_the_global_filter() -> None:
    clock = FakeClock()
    secret = "only-this-engine-knows-1"
    handler, _ = scripted([])
    engine = make_engine(handler, clock, auth=HeaderTokenAuth.bigcommerce(secret))
    record = logging.LogRecord(LOGGER_NAME, logging.INFO, __file__, 1, secret, None, None)
    RedactingFilter().filter(record)
    assert record.getMessage() == "***"
    engine.close()
    record = logging.LogRecord(LOGGER_NAME, logging.INFO, __file__, 1, secret, None, None)
    RedactingFilter().filter(record)
    assert record.getMessage() == secret


def test_redactor_without_sensitive_keys_still_masks_secrets() -> None:
    r = Redactor(["literal-secret"], sensitive_keys=(), sensitive_params=())
    assert r.text('{"password": "x"} literal-secret') == '{"password": "x"} ***'
    assert r.url("https://h.test/?password=x") == "https://h.test/?password=x"
    assert r.has_secrets
    assert not Redactor().has_secrets


def test_a_redirect_is_never_followed_even_on_a_callers_client() -> None:

    seen: list[tuple[str, str | None]] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append((request.url.host, request.headers.get("x-auth-token")))
        if request.url.host == "api.example.com":
            return httpx.Response(302, headers={"Location": "https://evil.example/steal"})
        return httpx.Response(200, json={})

    client = httpx.Client(transport=httpx.MockTransport(handler), follow_redirects=True)
    engine = HttpEngine(
        platform="test",
        base_url="https://api.example.com",
        auth=HeaderTokenAuth("X-Auth-Token", "s3cr3t-token-value"),
        client=client,
    )
    with pytest.raises(APIError):
        engine.get("/things")
    assert [host for host, _ in seen] == ["api.example.com"]
