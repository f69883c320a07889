"""Browser tests: the demo site and the widget in Debian's Chromium (/usr/bin/chromium, or
YOOSR_CHROMIUM), driven by Playwright from PyPI, which launches that system browser (it never
downloads one). One local stack for the whole session, started like tests/e2e's.

Without Chromium or Playwright every browser test is skipped with the reason (pytest -ra lists
it); `make test` installs Chromium first when it runs as root. Screenshots of the key states go
to test-artifacts/browser/ (and FAILED-<test>.png when a test fails)."""

from __future__ import annotations

import importlib.util
import os
import shutil
from collections.abc import Callable, Generator, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx
import pytest

from tests.local_stack import ROOT, LocalStack, running_stack

if TYPE_CHECKING:
    from playwright.sync_api import Browser, BrowserContext, Page

CHROMIUM = Path(os.environ.get("YOOSR_CHROMIUM", "/usr/bin/chromium"))
ARTIFACTS = ROOT / "test-artifacts" / "browser"
# What works on these machines: no sandbox as root, and none of Chromium's background
# connections (the network is closed). Playwright adds --headless and a fresh profile dir.
LAUNCH_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
EXPECT_TIMEOUT_MS = 25_000


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "browser: runs in headless Chromium against the local stack")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    here = Path(__file__).parent
    for item in items:
        if here in Path(str(item.path)).parents:
            item.add_marker(pytest.mark.browser)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Any:
    report = yield
    if report.when == "call":
        item.stash[CALL_FAILED] = report.failed
    return report


CALL_FAILED = pytest.StashKey[bool]()


@pytest.fixture(scope="session")
def chromium() -> str:
    """The system Chromium's path; skips (with the reason) when it or Playwright is missing."""
    if not CHROMIUM.exists():
        pytest.skip(
            f"no Chromium at {CHROMIUM}: install Debian's `chromium` (make test does, as root) "
            "or point YOOSR_CHROMIUM at one"
        )
    if importlib.util.find_spec("playwright") is None:
        pytest.skip("Playwright is not installed: pip install -r requirements/dev.txt")
    return str(CHROMIUM)


@pytest.fixture(scope="session")
def browser(chromium: str) -> Iterator[Browser]:
    from playwright.sync_api import expect, sync_playwright

    expect.set_options(timeout=EXPECT_TIMEOUT_MS)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium, args=LAUNCH_ARGS)
        try:
            yield browser
        finally:
            browser.close()


@pytest.fixture(scope="session")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalStack]:
    """`python -m local` without a model: the demo bot answers from its knowledge base."""
    with running_stack(
        tmp_path_factory, "yoosr-local-browser", {"YOOSR_LOCAL_MODEL": "off"}
    ) as running:
        yield running


@pytest.fixture(scope="session")
def artifacts() -> Path:
    shutil.rmtree(ARTIFACTS, ignore_errors=True)
    ARTIFACTS.mkdir(parents=True)
    return ARTIFACTS


Shot = Callable[["Page", str], Path]


@pytest.fixture
def shot(artifacts: Path) -> Shot:
    """shot(page, "name") saves test-artifacts/browser/name.png."""

    def take(page: Page, name: str) -> Path:
        path = artifacts / f"{name}.png"
        page.screenshot(path=str(path))
        return path

    return take


@pytest.fixture
def new_context(
    request: pytest.FixtureRequest, browser: Browser, stack: LocalStack, artifacts: Path
) -> Generator[Callable[..., BrowserContext], None, None]:
    """Fresh browser contexts (a visitor each: own storage, no shared state); closed after
    the test, with a screenshot of every open page when the test failed."""
    contexts: list[BrowserContext] = []

    def make(**options: Any) -> BrowserContext:
        options.setdefault("viewport", {"width": 1280, "height": 860})
        context = browser.new_context(**options)
        contexts.append(context)
        return context

    yield make
    failed = request.node.stash.get(CALL_FAILED, False)
    for number, context in enumerate(contexts):
        for index, page in enumerate(context.pages):
            if failed:
                name = f"FAILED-{request.node.name}-{number}-{index}.png"
                try:
                    page.screenshot(path=str(artifacts / name))
                except Exception as error:  # a lost screenshot must not mask the failure
                    print(f"could not save {name}: {error}")
        context.close()


@pytest.fixture
def resolve_after(stack: LocalStack) -> Iterator[Callable[[str], None]]:
    """Register conversation ids the test created; an agent resolves them afterwards, so no
    test leaves a visitor waiting in the shared queue."""
    created: list[str] = []
    yield created.append
    acme = stack.workspaces["acme"]
    with httpx.Client(
        base_url=stack.api_url,
        timeout=30,
        headers={"Authorization": f"Bearer {acme['agent_token']}"},
    ) as agent:
        for conversation_id in created:
            agent.post(f"/v1/conversations/{conversation_id}/resolve", json={})
