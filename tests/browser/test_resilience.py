"""Sending when the network fails: offline, a response lost after the server stored the
message, and a 429. The widget says what is happening, retries with the same client id, and
the server ends up with each message exactly once."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from playwright.sync_api import Route, expect

from tests.browser.pages import Widget
from tests.local_stack import LocalStack

MESSAGES_ROUTE = "**/v1/widget/conversations/*/messages"


def count(widget: Widget, text: str) -> int:
    return sum(1 for m in widget.server_messages() if m["text"] == text)


def test_messages_sent_offline_or_with_lost_responses_arrive_exactly_once(
    stack: LocalStack,
    new_context: Callable[..., Any],
    shot: Callable[..., Any],
    resolve_after: Callable[[str], None],
) -> None:
    context = new_context()
    page = context.new_page()
    widget = Widget.visit(page, stack)
    widget.open()
    widget.send("First message")
    widget.expect_delivered("First message")
    resolve_after(widget.conversation_id())

    # Offline: the widget says so and keeps the message; back online, it is sent once
    context.set_offline(True)
    expect(widget.status).to_contain_text("You are offline")
    widget.send("Written while offline")
    expect(
        widget.log.locator("li.pending").filter(has_text="Written while offline")
    ).to_be_visible()
    shot(page, "16-offline")
    context.set_offline(False)
    widget.expect_delivered("Written while offline")
    expect(widget.status).to_be_hidden()

    # A response lost on the way back (the server stored the message): the retry with the
    # same client_message_id gets the stored message back, and the widget shows it once
    lost: list[str] = []

    def lose_first_response(route: Route) -> None:
        if route.request.method == "POST" and not lost:
            body = json.loads(route.request.post_data or "{}")
            lost.append(body["client_message_id"])
            route.fetch()  # the server stores it ...
            route.abort("connectionreset")  # ... and the answer never arrives
            return
        route.continue_()

    page.route(MESSAGES_ROUTE, lose_first_response)
    widget.send("Sent once, answered twice")
    widget.expect_delivered("Sent once, answered twice")
    page.unroute(MESSAGES_ROUTE)
    assert len(lost) == 1

    # A 429 is explained, then the message goes out after Retry-After
    limited: list[bool] = []

    def rate_limit_once(route: Route) -> None:
        if route.request.method == "POST" and not limited:
            limited.append(True)
            origin = route.request.headers.get("origin", "*")
            route.fulfill(
                status=429,
                headers={
                    "Retry-After": "2",
                    "Access-Control-Allow-Origin": origin,
                    "Access-Control-Expose-Headers": "retry-after",
                    "Content-Type": "application/json",
                },
                body=json.dumps({"error": {"code": "rate_limited", "message": "Slow down."}}),
            )
            return
        route.continue_()

    page.route(MESSAGES_ROUTE, rate_limit_once)
    widget.send("After a rate limit")
    expect(widget.status).to_contain_text("sending messages too quickly")
    shot(page, "17-rate-limited")
    widget.expect_delivered("After a rate limit")
    page.unroute(MESSAGES_ROUTE)

    for text in ("Written while offline", "Sent once, answered twice", "After a rate limit"):
        assert count(widget, text) == 1, text
        expect(widget.messages("visitor").filter(has_text=text)).to_have_count(1)
