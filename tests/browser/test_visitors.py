"""Two visitors in two fresh browser contexts: neither ever sees the other's conversation, in
the widget or in anything the API sends the browser; the host page's CSS and the widget stay
out of each other's way; a message's text is shown as text, never as markup."""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable
from typing import Any

from playwright.sync_api import Response, expect

from tests.browser.pages import ACME_COLOR, MENU, Widget
from tests.local_stack import LocalStack


def test_a_second_visitor_never_sees_the_first_visitors_messages(
    stack: LocalStack,
    new_context: Callable[..., Any],
    shot: Callable[..., Any],
    resolve_after: Callable[[str], None],
) -> None:
    order = f"A-{uuid.uuid4().hex[:10]}"
    secret = f"My order is {order}, sent to 12 Elm Street"

    # Given a first visitor who started a conversation with a message
    first = Widget.visit(new_context().new_page(), stack)
    first.open()
    first.send(secret)
    first.expect_delivered(secret)
    resolve_after(first.conversation_id())

    # When a second visitor opens the same page in another browser
    page = new_context().new_page()
    bodies: list[str] = []

    def keep(response: Response) -> None:
        if "/v1/widget/" in response.url and response.request.method != "OPTIONS":
            bodies.append(response.text())

    page.on("response", keep)
    second = Widget.visit(page, stack)
    second.open()
    expect(second.messages()).to_have_count(0)
    second.start()
    second.expect_bot_said(MENU)
    resolve_after(second.conversation_id())

    # and asks for a person with the header button (the direct handoff, no bot turn)
    second.panel.locator("button.tool", has_text="Talk to a person").click()
    expect(second.status).to_have_text(re.compile(r"You are number \d+ in line"))
    shot(page, "11-second-visitor")

    # Then nothing of the first conversation reached the second browser
    expect(second.log).not_to_contain_text(order)
    assert all(secret not in body for body in bodies)
    assert second.stored()["token"] != first.stored()["token"]
    assert second.conversation_id() != first.conversation_id()
    # and the first conversation is not found with the second visitor's session
    with second.api() as api:
        theirs = api.get(f"/v1/widget/conversations/{first.conversation_id()}/messages")
        assert theirs.status_code == 404
        listed = [c["id"] for c in api.get("/v1/widget/conversations").json()["items"]]
    assert listed == [second.conversation_id()]


def test_the_host_page_and_the_widget_do_not_style_each_other(
    stack: LocalStack, new_context: Callable[..., Any], resolve_after: Callable[[str], None]
) -> None:
    page = new_context().new_page()
    # The shop styles every button (background !important, serif, upper case) before the
    # widget loads; the widget's own stylesheet lives in its shadow root.
    page.goto(f"{stack.api_url}/demo")
    cta = page.get_by_role("button", name="Shop the autumn range")
    before = cta.evaluate("b => getComputedStyle(b).cssText || getComputedStyle(b).background")
    widget = Widget(page, stack)
    expect(widget.launcher).to_be_visible()
    widget.open()

    launcher = widget.launcher.evaluate(
        "b => { const s = getComputedStyle(b); return [s.backgroundColor, s.textTransform,"
        " s.borderRadius]; }"
    )
    assert launcher == [ACME_COLOR, "none", "50%"]
    font = widget.composer.evaluate("t => getComputedStyle(t).fontFamily")
    assert "Georgia" not in font
    assert cta.evaluate("b => getComputedStyle(b).cssText || getComputedStyle(b).background") == (
        before
    )
    assert cta.evaluate("b => getComputedStyle(b).backgroundColor") == "rgb(154, 52, 18)"

    # Markup in a message is text: shown as typed, never run
    markup = '<img src=x onerror="window.__yoosrPwned = 1"><b>bold?</b>'
    widget.send(markup)
    widget.expect_delivered("bold?")
    resolve_after(widget.conversation_id())
    shown = widget.messages("visitor").locator(".text").last
    expect(shown).to_have_text(markup)
    assert shown.locator("img, b").count() == 0
    assert page.evaluate("() => window.__yoosrPwned") is None
