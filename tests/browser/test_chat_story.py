"""The whole story in a real browser: a visitor on the demo shop chats with the bot, gets a
knowledge-base answer, asks for a person; the agent view (a second browser) replies and
resolves; the visitor sees the reply, rates the conversation, and a reload keeps it all."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from playwright.sync_api import expect

from local.seed import demo_knowledge
from tests.browser.pages import (
    HANDOFF,
    MENU,
    PROMPT,
    QUICK_REPLIES,
    WELCOME,
    AgentView,
    Widget,
)
from tests.local_stack import LocalStack

SHIPPING = next(e["content"] for e in demo_knowledge() if e["title"] == "Shipping times")
AGENT_REPLY = "Hi, this is Sam from Acme. Your tent ships today, tracking follows by email."


def test_a_visitor_chats_with_the_bot_then_an_agent_and_rates_it(
    stack: LocalStack,
    new_context: Callable[..., Any],
    shot: Callable[..., Any],
    resolve_after: Callable[[str], None],
) -> None:
    # Given the demo shop with the widget for acme
    page = new_context().new_page()
    widget = Widget.visit(page, stack)
    shot(page, "01-demo-page")

    # When the visitor opens the widget, the workspace greets them before anything is stored
    widget.open()
    expect(widget.panel.get_by_text(WELCOME)).to_be_visible()
    assert widget.stored().get("token") is None
    shot(page, "02-widget-open")

    # and starts a chat: the bot greets with its quick replies
    widget.start()
    widget.expect_bot_said(MENU)
    expect(widget.quick_replies.get_by_role("button")).to_have_text(QUICK_REPLIES)
    shot(page, "03-bot-greeting-and-buttons")
    resolve_after(widget.conversation_id())

    # Tapping "Ask a question" sends its label and value; a question gets the knowledge answer
    widget.tap("Ask a question")
    widget.expect_bot_said(PROMPT)
    expect(widget.quick_replies).to_be_hidden()
    widget.send("How long does shipping take?")
    widget.expect_bot_said(SHIPPING)
    shot(page, "04-knowledge-answer")
    tapped = next(m for m in widget.server_messages() if m["text"] == "Ask a question")
    assert (tapped["sender_type"], tapped["reply_value"]) == ("visitor", "question")

    # Asking for a person in words hands off: the visitor is told they wait in line
    widget.send("I want to talk to a human")
    widget.expect_bot_said(HANDOFF)
    expect(widget.status).to_have_text(re.compile(r"You are number \d+ in line"))
    expect(widget.panel.get_by_role("button", name="Talk to a person")).to_be_hidden()
    shot(page, "05-waiting-for-an-agent")

    # The agent (another browser, the agent view) sees it in the inbox and replies
    agent_page = new_context(viewport={"width": 1100, "height": 760}).new_page()
    agent = AgentView(agent_page, stack)
    agent.open(widget.conversation_id())
    expect(agent.messages).to_contain_text("How long does shipping take?")
    agent.reply(AGENT_REPLY)
    shot(agent_page, "06-agent-view-replied")

    # The visitor sees the reply, marked as the team's
    reply = widget.messages("agent").filter(has_text=AGENT_REPLY)
    expect(reply).to_have_count(1)
    expect(reply.locator(".who")).to_have_text("Support team")
    expect(widget.status).to_be_hidden()
    shot(page, "07-visitor-sees-agent-reply")

    # The agent resolves; the widget asks for a rating
    agent.resolve()
    rating = widget.panel.get_by_role("group", name="How would you rate this conversation?")
    expect(rating).to_be_visible()
    shot(page, "08-csat-prompt")
    rating.locator("label", has_text="5 – Excellent").click()
    expect(rating.get_by_role("radio", name="5 – Excellent")).to_be_checked()
    widget.panel.get_by_role("textbox", name="Comment (optional)").fill("Quick and friendly")
    widget.panel.get_by_role("button", name="Send rating").click()
    expect(widget.panel.get_by_text("Thank you for your feedback!")).to_be_visible()
    shot(page, "09-rated")
    with widget.api() as visitor:
        listed = visitor.get("/v1/widget/conversations").json()["items"]
    mine = next(c for c in listed if c["id"] == widget.conversation_id())
    assert (mine["status"], mine["csat_rating"]) == ("resolved", 5)

    # A reload resumes the same session and conversation (the panel reopens by itself)
    stored = widget.stored()
    page.reload()
    widget = Widget(page, stack)
    expect(widget.panel).to_be_visible()
    expect(widget.messages("agent").filter(has_text=AGENT_REPLY)).to_have_count(1)
    expect(widget.messages("bot").filter(has_text=SHIPPING)).to_have_count(1)
    expect(widget.panel.get_by_text("Thank you for your feedback!")).to_be_visible()
    assert widget.stored()["token"] == stored["token"]
    assert widget.stored()["conversation_id"] == stored["conversation_id"]
    # every message once, in the server's order
    assert widget.texts() == [m["text"] for m in widget.server_messages()]
    shot(page, "10-after-reload")

    # Storage holds the opaque token and ids only: nothing the visitor said or is
    assert set(stored) <= {
        "token",
        "visitor_id",
        "expires_at",
        "conversation_id",
        "ccid",
        "open",
        "privacy",
        "uh",
    }
    assert "shipping" not in str(stored).lower()
