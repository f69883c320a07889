"""The demo site over plain HTTP (no browser needed): what the local stack serves at /demo,
/demo/agent and /demo/yoosr-widget.js, to whom, and the widget script's own budget."""

from __future__ import annotations

import gzip
import json
import re
import shutil
import subprocess
from html.parser import HTMLParser
from typing import Any

import httpx
import pytest

from local.demo import WIDGET_SCRIPT
from tests.local_stack import LocalStack

# The widget's size budget: one file a site can afford to load on every page.
MAX_BYTES = 64 * 1024
MAX_GZIP_BYTES = 16 * 1024


class _Scripts(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tags: list[dict[str, str | None]] = []
        self.json: dict[str, str] = {}
        self._json_id: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "script":
            attributes = dict(attrs)
            self.tags.append(attributes)
            if attributes.get("type") == "application/json":
                self._json_id = attributes.get("id")

    def handle_data(self, data: str) -> None:
        if self._json_id:
            self.json[self._json_id] = self.json.get(self._json_id, "") + data

    def handle_endtag(self, tag: str) -> None:
        if tag == "script":
            self._json_id = None


def scripts(html: str) -> _Scripts:
    parser = _Scripts()
    parser.feed(html)
    return parser


def port(stack: LocalStack) -> int:
    match = re.search(r":(\d+)$", stack.api_url)
    assert match
    return int(match.group(1))


def test_the_shop_embeds_the_widget_for_acme_with_the_api_on_the_other_loopback_name(
    stack: LocalStack,
) -> None:
    acme = stack.workspaces["acme"]
    page = httpx.get(f"{stack.api_url}/demo", timeout=10)
    assert page.status_code == 200
    assert page.headers["content-type"] == "text/html; charset=utf-8"
    assert page.headers["cache-control"] == "no-store"
    csp = page.headers["content-security-policy"]
    assert "script-src 'self'" in csp and "style-src 'self'" in csp
    (widget,) = [s for s in scripts(page.text).tags if s.get("data-widget-key")]
    assert widget["src"] == "/demo/yoosr-widget.js"
    assert widget["data-widget-key"] == acme["widget_key"]
    # Cross-origin, as on a real site: 127.0.0.1 pages call localhost and the other way round
    assert widget["data-api-url"] == f"http://localhost:{port(stack)}"
    assert f"connect-src http://localhost:{port(stack)}" in csp
    assert widget["data-api-url"] in acme["allowed_origins"]
    other = httpx.get(f"http://localhost:{port(stack)}/demo", timeout=10)
    (widget,) = [s for s in scripts(other.text).tags if s.get("data-widget-key")]
    assert widget["data-api-url"] == f"http://127.0.0.1:{port(stack)}"

    globex = httpx.get(f"{stack.api_url}/demo", params={"workspace": "globex"}, timeout=10)
    (widget,) = [s for s in scripts(globex.text).tags if s.get("data-widget-key")]
    assert widget["data-widget-key"] == stack.workspaces["globex"]["widget_key"]
    assert httpx.get(f"{stack.api_url}/demo?workspace=nope", timeout=10).status_code == 404


def test_a_signed_in_site_user_gets_a_verified_identity(stack: LocalStack) -> None:
    acme = stack.workspaces["acme"]
    page = httpx.get(f"{stack.api_url}/demo", params={"user": "customer-42"}, timeout=10)
    (widget,) = [s for s in scripts(page.text).tags if s.get("data-widget-key")]
    assert widget["data-user-id"] == "customer-42"
    headers = {"X-Yoosr-Widget-Key": acme["widget_key"], "Origin": acme["allowed_origins"][0]}
    identity = {"user_id": "customer-42", "user_hash": widget["data-user-hash"]}
    with httpx.Client(base_url=stack.api_url, headers=headers, timeout=30) as client:
        session = client.post("/v1/widget/sessions", json={"identity": identity})
        assert session.status_code == 201, session.text
        client.headers["Authorization"] = f"Bearer {session.json()['session_token']}"
        visitor = client.patch("/v1/widget/visitor", json={"name": "Kari"})
        assert visitor.json()["identity_verified"] is True
        forged = client.post(
            "/v1/widget/sessions", json={"identity": {**identity, "user_id": "customer-43"}}
        )
        assert forged.status_code == 401
    bad = httpx.get(f"{stack.api_url}/demo", params={"user": "no spaces"}, timeout=10)
    assert bad.status_code == 400


def test_the_agent_view_carries_a_working_agent_token(stack: LocalStack) -> None:
    page = httpx.get(f"{stack.api_url}/demo/agent", timeout=10)
    assert page.status_code == 200
    assert page.headers["cache-control"] == "no-store"
    assert "connect-src 'self'" in page.headers["content-security-policy"]
    config: dict[str, Any] = json.loads(scripts(page.text).json["yoosr-agent-config"])
    assert config["user_id"] == stack.workspaces["acme"]["agent_user_id"]
    inbox = httpx.get(
        f"{stack.api_url}/v1/conversations",
        headers={"Authorization": f"Bearer {config['token']}"},
        timeout=30,
    )
    assert inbox.status_code == 200, inbox.text


@pytest.mark.parametrize(
    ("path", "content_type"),
    [
        ("/demo/yoosr-widget.js", "text/javascript; charset=utf-8"),
        ("/demo/agent.js", "text/javascript; charset=utf-8"),
        ("/demo/shop.css", "text/css; charset=utf-8"),
        ("/demo/agent.css", "text/css; charset=utf-8"),
    ],
)
def test_assets_are_served_with_their_content_types(
    stack: LocalStack, path: str, content_type: str
) -> None:
    response = httpx.get(f"{stack.api_url}{path}", timeout=10)
    assert response.status_code == 200
    assert response.headers["content-type"] == content_type
    assert response.headers["x-content-type-options"] == "nosniff"
    if path.endswith("yoosr-widget.js"):
        assert response.content == WIDGET_SCRIPT.read_bytes()


def test_only_loopback_names_get_the_demo_and_only_with_get(stack: LocalStack) -> None:
    # A page of another site whose DNS name was rebound to 127.0.0.1 must not read the token
    rebound = httpx.get(
        f"{stack.api_url}/demo/agent", headers={"Host": f"evil.example:{port(stack)}"}, timeout=10
    )
    assert rebound.status_code == 403
    assert "token" not in rebound.text
    assert httpx.post(f"{stack.api_url}/demo", timeout=10).status_code == 405
    assert httpx.get(f"{stack.api_url}/demo/%2e%2e/template.yaml", timeout=10).status_code == 404
    assert httpx.get(f"{stack.api_url}/demo/nothing.js", timeout=10).status_code == 404


def test_the_widget_script_is_one_small_self_contained_file() -> None:
    source = WIDGET_SCRIPT.read_bytes()
    assert len(source) <= MAX_BYTES, f"{len(source)} bytes"
    assert len(gzip.compress(source, 9)) <= MAX_GZIP_BYTES
    text = source.decode()
    # No imports, no other files, no third-party hosts, no HTML parsing of data
    assert not re.search(r"\bimport\b|\brequire\(|\beval\(|new Function|innerHTML", text)
    hosts = {h for h in re.findall(r"https?://[^\s'\"/]+", text) if "…" not in h}
    assert hosts <= {"http://www.w3.org"}, hosts
    node = shutil.which("node")
    if node:  # optional: a syntax check where Node.js exists
        checked = subprocess.run(
            [node, "--check", str(WIDGET_SCRIPT)], capture_output=True, text=True, check=False
        )
        assert checked.returncode == 0, checked.stderr
