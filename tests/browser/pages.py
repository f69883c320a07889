"""Page objects for the demo site: the widget as a visitor sees it, and the agent view.

Playwright's CSS and role selectors reach into the widget's (open) shadow root, so the tests
find things the way a person (or a screen reader) would: by role and accessible name."""

from __future__ import annotations

import json
import re
from typing import TYPE_CHECKING, Any

import httpx
from playwright.sync_api import expect

if TYPE_CHECKING:
    from playwright.sync_api import Locator, Page

    from tests.local_stack import LocalStack

# The demo bot (local/demo_bot.json) and the acme workspace (local/seed.py).
GREETING = "Hi! I'm the Acme Outdoor assistant."
MENU = "What can I help you with?"
QUICK_REPLIES = ["Ask a question", "Where is my order?", "Talk to a person"]
PROMPT = "Sure - what would you like to know?"
HANDOFF = "Let me connect you with someone from our team."
WELCOME = "Hi! Welcome to Acme. Ask us anything about your order."
ACME_COLOR = "rgb(15, 118, 110)"  # #0F766E, the seeded appearance colour


class Widget:
    """The Yoosr widget on a demo page."""

    def __init__(self, page: Page, stack: LocalStack) -> None:
        self.page = page
        self.stack = stack
        self.host = page.locator("yoosr-widget")
        self.launcher = self.host.locator("button.launcher")
        self.panel = page.get_by_role("dialog", name="Acme support")
        self.log = self.panel.get_by_role("log", name="Conversation")
        self.composer = self.panel.get_by_role("textbox", name="Message")
        self.status = self.panel.locator(".status")
        self.quick_replies = self.panel.get_by_role("group", name="Quick replies")

    @classmethod
    def visit(cls, page: Page, stack: LocalStack, query: str = "") -> Widget:
        page.goto(f"{stack.api_url}/demo{query}")
        widget = cls(page, stack)
        expect(widget.launcher).to_be_visible()
        return widget

    # ---------------------------------------------------------------- actions

    def open(self) -> None:
        self.host.get_by_role("button", name=re.compile("^Open chat")).click()
        expect(self.panel).to_be_visible()

    def start(self) -> None:
        self.panel.get_by_role("button", name="Start a chat").click()

    def send(self, text: str) -> None:
        self.composer.fill(text)
        self.composer.press("Enter")

    def tap(self, label: str) -> None:
        self.quick_replies.get_by_role("button", name=label).click()

    # ---------------------------------------------------------------- reading

    def messages(self, sender: str | None = None) -> Locator:
        selector = "li.msg" + (f'[data-sender="{sender}"]' if sender else "")
        return self.log.locator(selector)

    def texts(self, sender: str | None = None) -> list[str]:
        return [t.strip() for t in self.messages(sender).locator(".text").all_text_contents()]

    def expect_bot_said(self, text: str) -> None:
        expect(self.messages("bot").locator(".text").filter(has_text=text)).to_have_count(1)

    def expect_delivered(self, text: str) -> None:
        """The visitor's message came back from the server (no longer pending)."""
        delivered = self.log.locator("li.msg.visitor[data-id]").filter(has_text=text)
        expect(delivered).to_have_count(1)

    def stored(self) -> dict[str, Any]:
        """What the widget keeps in the host page's localStorage."""
        raw = self.page.evaluate(
            "() => { const k = Object.keys(localStorage).find(k => k.startsWith('yoosr:'));"
            " return k ? localStorage.getItem(k) : null; }"
        )
        return dict(json.loads(raw)) if raw else {}

    def conversation_id(self) -> str:
        stored = self.stored()
        assert stored.get("conversation_id"), f"no conversation in storage: {stored}"
        return str(stored["conversation_id"])

    def api(self) -> httpx.Client:
        """The widget API as this visitor (their session token from storage), for checks."""
        acme = self.stack.workspaces["acme"]
        return httpx.Client(
            base_url=self.stack.api_url,
            timeout=30,
            headers={
                "X-Yoosr-Widget-Key": acme["widget_key"],
                "Origin": acme["allowed_origins"][0],
                "Authorization": f"Bearer {self.stored()['token']}",
            },
        )

    def server_messages(self) -> list[dict[str, Any]]:
        with self.api() as client:
            listed = client.get(
                f"/v1/widget/conversations/{self.conversation_id()}/messages",
                params={"limit": 200},
            )
        assert listed.status_code == 200, listed.text
        return list(listed.json()["items"])

    def shadow_focus(self) -> dict[str, Any] | None:
        """The focused element inside the widget (None when focus is elsewhere)."""
        focused: dict[str, Any] | None = self.page.evaluate(
            """() => {
                const host = document.querySelector('yoosr-widget');
                if (document.activeElement !== host) return null;
                const el = host.shadowRoot.activeElement;
                return el && {tag: el.tagName.toLowerCase(), label: el.getAttribute('aria-label'),
                              text: el.textContent.trim(), cls: el.className};
            }"""
        )
        return focused


class AgentView:
    """/demo/agent: the inbox, a conversation, reply and resolve."""

    def __init__(self, page: Page, stack: LocalStack) -> None:
        self.page = page
        page.goto(f"{stack.api_url}/demo/agent")
        self.inbox = page.get_by_role("list", name="Conversations")
        self.messages = page.get_by_role("log", name="Messages")
        self.reply_box = page.get_by_role("textbox", name="Reply")

    def open(self, conversation_id: str) -> None:
        self.page.locator(f'[data-conversation-id="{conversation_id}"]').click()
        expect(self.page.get_by_role("button", name="Resolve")).to_be_visible()

    def reply(self, text: str) -> None:
        self.reply_box.fill(text)
        self.page.get_by_role("button", name="Send reply").click()
        expect(self.messages.locator("li.agent").filter(has_text=text)).to_have_count(1)

    def resolve(self) -> None:
        self.page.get_by_role("button", name="Resolve").click()
        expect(self.page.get_by_role("button", name="Resolve")).to_be_hidden()
