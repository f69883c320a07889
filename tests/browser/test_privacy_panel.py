"""The "your data" panel: a visitor asks for a copy of this session's data, downloads it, then
has it deleted (issue 5's widget routes, API.md). The panel itself is always checked; the
requests are exercised only once the template serves POST /v1/widget/privacy-requests."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import httpx
import pytest
from playwright.sync_api import Download, Page, expect

from tests.browser.pages import Widget
from tests.local_stack import LocalStack

PRIVACY_ROUTE = "POST /v1/widget/privacy-requests"
JOB_TIMEOUT_MS = 90_000


def privacy_routes_served(stack: LocalStack) -> bool:
    routes = httpx.get(f"{stack.api_url}/_local/routes", timeout=10).json()["routes"]
    return PRIVACY_ROUTE in {route["routeKey"] for route in routes}


def test_a_visitor_gets_a_copy_of_their_data_and_then_deletes_it(
    stack: LocalStack,
    new_context: Callable[..., Any],
    shot: Callable[..., Any],
    resolve_after: Callable[[str], None],
) -> None:
    context = new_context()
    page = context.new_page()
    widget = Widget.visit(page, stack)
    widget.open()
    widget.send("Please send the tent to my office")
    widget.expect_delivered("Please send the tent to my office")
    resolve_after(widget.conversation_id())

    # The panel: reached from the header, focus on its heading, both requests offered
    widget.panel.get_by_role("button", name="Your data").click()
    heading = widget.panel.get_by_role("heading", name="Your data")
    expect(heading).to_be_focused()
    expect(widget.panel.get_by_role("button", name="Get a copy of my data")).to_be_visible()
    expect(widget.composer).to_be_hidden()
    shot(page, "18-your-data-panel")
    if not privacy_routes_served(stack):
        pytest.skip(
            f"{PRIVACY_ROUTE} is not in template.yaml yet (issue 5 in progress): the panel "
            "renders, the export and deletion requests are not exercised"
        )

    # Ask for a copy: the request is listed with its status, and a download once it is done
    widget.panel.get_by_role("button", name="Get a copy of my data").click()
    requests = widget.panel.get_by_role("list", name="Your requests")
    expect(requests.get_by_text("Copy of your data")).to_be_visible()
    download_button = requests.get_by_role("button", name="Download your data")
    expect(download_button).to_be_visible(timeout=JOB_TIMEOUT_MS)
    shot(page, "19-export-ready")
    fetched = start_download(page, download_button.click)
    assert fetched, "the download neither started nor opened the package"

    # Delete: confirmed first; once done the session is gone and the widget starts afresh
    widget.panel.get_by_role("button", name="Delete my data").click()
    widget.panel.get_by_role("button", name="Yes, delete my data").click()
    expect(requests.get_by_text("Deletion of your data")).to_be_visible()
    token = widget.stored()["token"]
    expect(widget.status).to_contain_text("Your data was deleted", timeout=JOB_TIMEOUT_MS)
    shot(page, "20-data-deleted")
    assert widget.stored().get("token") is None
    acme = stack.workspaces["acme"]
    after = httpx.get(
        f"{stack.api_url}/v1/widget/conversations",
        headers={
            "X-Yoosr-Widget-Key": acme["widget_key"],
            "Origin": acme["allowed_origins"][0],
            "Authorization": f"Bearer {token}",
        },
        timeout=30,
    )
    assert after.status_code == 401, after.text


def start_download(page: Page, click: Callable[[], None]) -> bool:
    """Click, then wait for a download (a zip saved by the page) or a new tab opening the
    short-lived URL; True when either happened."""
    seen: list[Any] = []

    def on_download(download: Download) -> None:
        seen.append(download)

    def on_page(popup: Page) -> None:
        seen.append(popup)

    page.on("download", on_download)
    page.context.on("page", on_page)
    click()
    deadline = time.monotonic() + 20
    while not seen and time.monotonic() < deadline:
        page.wait_for_timeout(200)
    return bool(seen)
