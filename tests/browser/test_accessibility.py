"""The widget with a keyboard only, and on a phone-width screen."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from playwright.sync_api import expect

from tests.browser.pages import MENU, PROMPT, Widget
from tests.local_stack import LocalStack

MAX_TABS = 40


def test_the_launcher_composer_and_quick_replies_work_with_the_keyboard_alone(
    stack: LocalStack,
    new_context: Callable[..., Any],
    shot: Callable[..., Any],
    resolve_after: Callable[[str], None],
) -> None:
    page = new_context().new_page()
    widget = Widget.visit(page, stack)
    expect(widget.launcher).to_have_attribute("aria-expanded", "false")
    expect(widget.launcher).to_have_attribute("aria-controls", "yoosr-panel")

    # Tab through the shop until the launcher has focus (it comes last on the page)
    page.locator("body").click(position={"x": 5, "y": 300})
    for _ in range(MAX_TABS):
        page.keyboard.press("Tab")
        focused = widget.shadow_focus()
        if focused and focused["label"] == "Open chat":
            break
    else:
        raise AssertionError("the launcher never received focus from Tab")
    shot(page, "12-keyboard-launcher-focused")

    # Enter opens the panel and puts the caret in the composer
    page.keyboard.press("Enter")
    expect(widget.panel).to_be_visible()
    expect(widget.launcher).to_have_attribute("aria-expanded", "true")
    assert (widget.shadow_focus() or {}).get("label") == "Message"

    # Typing and Enter sends; the bot's reply arrives in a polite live region
    page.keyboard.type("Hello from the keyboard")
    page.keyboard.press("Enter")
    widget.expect_delivered("Hello from the keyboard")
    resolve_after(widget.conversation_id())
    expect(widget.log).to_have_attribute("aria-live", "polite")
    widget.expect_bot_said(MENU)

    # Shift+Tab reaches the quick replies; Space taps one
    for _ in range(MAX_TABS):
        page.keyboard.press("Shift+Tab")
        if (widget.shadow_focus() or {}).get("text") == "Ask a question":
            break
    else:
        raise AssertionError("no quick reply received focus from Shift+Tab")
    page.keyboard.press("Space")
    widget.expect_bot_said(PROMPT)
    assert (widget.shadow_focus() or {}).get("label") == "Message"
    shot(page, "13-keyboard-quick-reply")

    # Escape closes the panel and gives focus back to the launcher
    page.keyboard.press("Escape")
    expect(widget.panel).to_be_hidden()
    expect(widget.launcher).to_have_attribute("aria-expanded", "false")
    assert (widget.shadow_focus() or {}).get("label", "").startswith("Open chat")


def test_the_widget_is_usable_at_phone_width(
    stack: LocalStack,
    new_context: Callable[..., Any],
    shot: Callable[..., Any],
    resolve_after: Callable[[str], None],
) -> None:
    width, height = 360, 740
    context = new_context(
        viewport={"width": width, "height": height},
        device_scale_factor=2,
        is_mobile=True,
        has_touch=True,
        reduced_motion="reduce",  # the panel's opening animation is off, its box final
    )
    page = context.new_page()
    widget = Widget.visit(page, stack)
    box = widget.launcher.bounding_box()
    assert box is not None
    assert box["x"] + box["width"] <= width and box["y"] + box["height"] <= height
    assert box["width"] >= 44 and box["height"] >= 44  # a comfortable touch target
    shot(page, "14-phone-page")

    widget.launcher.tap()
    expect(widget.panel).to_be_visible()
    # The panel fills the screen; its close button, composer and send button are on it
    panel = widget.panel.bounding_box()
    assert panel == {"x": 0, "y": 0, "width": width, "height": height}
    for control in (
        widget.panel.get_by_role("button", name="Close chat"),
        widget.composer,
        widget.panel.get_by_role("button", name="Send message"),
    ):
        expect(control).to_be_in_viewport()

    widget.start()
    widget.expect_bot_said(MENU)
    resolve_after(widget.conversation_id())
    for reply in widget.quick_replies.get_by_role("button").all():
        reply_box = reply.bounding_box()
        assert reply_box is not None and reply_box["x"] + reply_box["width"] <= width
    overflow = widget.panel.evaluate("p => p.scrollWidth - p.clientWidth")
    assert overflow <= 0
    widget.composer.tap()
    widget.composer.fill("Do you ship to Norway?")
    widget.panel.get_by_role("button", name="Send message").tap()
    widget.expect_delivered("Do you ship to Norway?")
    shot(page, "15-phone-chat")

    widget.panel.get_by_role("button", name="Close chat").tap()
    expect(widget.panel).to_be_hidden()
    expect(widget.launcher).to_be_visible()
