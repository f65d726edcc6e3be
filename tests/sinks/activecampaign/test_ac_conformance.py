"""The ActiveCampaign sink passes check_sink against the simulator: acks and what is stored."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from _acfakes import InspectableView, pair

from commerce_connectors.protocols import InspectableSink, Sink
from commerce_connectors.sinks.activecampaign import ActiveCampaignSink
from commerce_connectors.testing.sink_conformance import (
    SINK_CHECKS,
    SinkFactory,
    check_contacts_merge_by_identity,
    check_rewrite_is_idempotent,
    check_sink,
    check_update_if_newer,
)


def plain(**kw: Any) -> ActiveCampaignSink:
    return pair(**kw)[1]


def inspectable(**kw: Any) -> InspectableView:
    return InspectableView(*pair(**kw))


def test_check_sink_passes() -> None:
    check_sink(plain)


def test_the_sink_is_a_sink_but_not_inspectable_itself() -> None:
    sink = plain()
    assert isinstance(sink, Sink)
    # What ActiveCampaign stores is not the field map's output: the content checks run
    # through a view of the simulator's account instead.
    assert not isinstance(sink, InspectableSink)
    assert isinstance(inspectable(), InspectableSink)
    sink.close()


# update-if-newer compares the stored "fields" with the field map's output, which a CRM
# does not store as such (no status, no storeName): it runs on acknowledgements only.
CONTENT_CHECKS = [c for c in SINK_CHECKS if c is not check_update_if_newer]


@pytest.mark.parametrize("check", CONTENT_CHECKS, ids=lambda c: c.__name__)
def test_content_checks_on_the_account(check: Callable[[SinkFactory], None]) -> None:
    check(inspectable)


def test_content_checks_pass_without_the_cache() -> None:
    """After a restart the sink finds everything by lookups: still idempotent, still merged."""

    class Restarted(InspectableView):
        def write(self, batch: Any) -> Any:
            self.sink._forget()  # as a new process would: nothing known but the account
            return super().write(batch)

    check_rewrite_is_idempotent(lambda **kw: Restarted(*pair(**kw)))
    check_contacts_merge_by_identity(lambda **kw: Restarted(*pair(**kw)))


def test_the_view_can_fail() -> None:
    """A sink that makes a second contact on a rewrite is caught by the content check."""

    class Duplicating(InspectableView):
        def write(self, batch: Any) -> Any:
            ack = super().write(batch)
            for item in batch.items:
                if item.kind == "contact":
                    self.sim.add_contact("dup-" + item.key.external_id)
            return ack

    with pytest.raises(Exception, match=r"duplicate contact|changed the stored content"):
        check_rewrite_is_idempotent(lambda **kw: Duplicating(*pair(**kw)))
