"""The demo site the local stack serves beside the API (never deployed):

    GET /demo                  a fictional shop embedding the widget for `acme`
                               (?workspace=globex for the other workspace, ?user=<id> to sign
                               in a site user with identity verification)
    GET /demo/agent            a minimal agent view: inbox, conversation, reply, resolve, using
                               the dashboard API with a fresh token of the seeded agent
    GET /demo/yoosr-widget.js  the widget script (web/widget/yoosr-widget.js)
    GET /demo/<asset>          the pages' CSS and scripts (web/demo/)

Like /_local/, it answers loopback clients only, and only under a loopback host name (a page
of another site that rebinds its DNS name to 127.0.0.1 gets nothing, the agent token least of
all). Keys, tokens and URLs are filled in per request.
"""

from __future__ import annotations

import hashlib
import hmac
import html
import ipaddress
import json
import re
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs, urlsplit

from local.apigw import ApiRequest, ApiResponse
from local.clerk import CLERK_ROLES, SESSION_LIFETIME_S, demo_user_id

if TYPE_CHECKING:
    from local.stack import Stack

WEB = Path(__file__).resolve().parent.parent / "web"
WIDGET_SCRIPT = WEB / "widget" / "yoosr-widget.js"
PREFIX = "/demo"
DEFAULT_WORKSPACE = "acme"
LOOPBACK_NAMES = frozenset({"127.0.0.1", "localhost", "::1"})
USER_ID = re.compile(r"^[\x21-\x7e]{1,128}$")

CONTENT_TYPES = {
    ".html": "text/html; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
}
ASSETS: dict[str, Path] = {
    "yoosr-widget.js": WIDGET_SCRIPT,
    "shop.css": WEB / "demo" / "shop.css",
    "agent.css": WEB / "demo" / "agent.css",
    "agent.js": WEB / "demo" / "agent.js",
}
COMMON_HEADERS = [("x-content-type-options", "nosniff"), ("referrer-policy", "no-referrer")]


def handles(path: str) -> bool:
    return path == PREFIX or path.startswith(PREFIX + "/")


def serve(stack: Stack, request: ApiRequest) -> ApiResponse:
    if not _loopback(request):
        return _text(403, "The demo site answers loopback clients on a loopback host name only.")
    if request.method not in ("GET", "HEAD"):
        response = _text(405, "Method Not Allowed")
        response.headers.append(("allow", "GET, HEAD"))
        return response
    path = request.raw_path.removeprefix(PREFIX).strip("/")
    query = parse_qs(request.raw_query)
    if path == "":
        return _shop(stack, request, query)
    if path == "agent":
        return _agent(stack, request, query)
    asset = ASSETS.get(path)
    if asset is None or not asset.is_file():
        return _text(404, "Not Found")
    return ApiResponse(
        200,
        [
            ("content-type", CONTENT_TYPES[asset.suffix]),
            ("cache-control", "no-cache"),
            *COMMON_HEADERS,
        ],
        asset.read_bytes(),
    )


def _loopback(request: ApiRequest) -> bool:
    try:
        client = ipaddress.ip_address(request.source_ip)
    except ValueError:
        return False
    host = urlsplit(f"//{request.host}").hostname or ""
    return client.is_loopback and host in LOOPBACK_NAMES


def _origin(request: ApiRequest) -> tuple[str, int]:
    parts = urlsplit(f"//{request.host}")
    return parts.hostname or "127.0.0.1", parts.port or 80


def widget_api_url(request: ApiRequest) -> str:
    """The API under the *other* loopback name than the page's, so the widget calls it
    cross-origin, as on a real site (the seeded workspaces allow both names). A same-origin
    GET carries no Origin header, which the widget API refuses when origins are listed."""
    host, port = _origin(request)
    other = "localhost" if host != "localhost" else "127.0.0.1"
    return f"http://{other}:{port}"


def _workspace(stack: Stack, query: dict[str, list[str]]) -> tuple[str, dict[str, Any]] | None:
    name = query.get("workspace", [DEFAULT_WORKSPACE])[0]
    workspace = stack.workspaces.get(name)
    return (name, workspace) if isinstance(workspace, dict) else None


def _shop(stack: Stack, request: ApiRequest, query: dict[str, list[str]]) -> ApiResponse:
    found = _workspace(stack, query)
    if found is None or not found[1].get("widget_key"):
        return _text(404, "No such seeded workspace (the stack seeds acme and globex).")
    name, workspace = found
    api_url = widget_api_url(request)
    identity_attributes = ""
    identity_note = ""
    user = query.get("user", [""])[0]
    if user:
        if not USER_ID.match(user):
            return _text(400, "?user= must be 1 to 128 printable ASCII characters.")
        # What the site's server computes (yoosr.domain.hashing.identity_hash).
        secret = str(workspace.get("identity_secret", "")).encode()
        user_hash = hmac.new(secret, user.encode(), hashlib.sha256).hexdigest()
        identity_attributes = (
            f' data-user-id="{html.escape(user)}" data-user-hash="{html.escape(user_hash)}"'
        )
        identity_note = f", signed in as the site user <code>{html.escape(user)}</code>"
    page = _fill(
        WEB / "demo" / "shop.html",
        WORKSPACE=html.escape(name),
        WIDGET_KEY=html.escape(str(workspace["widget_key"])),
        API_URL=html.escape(api_url),
        IDENTITY_ATTRIBUTES=identity_attributes,
        IDENTITY_NOTE=identity_note,
    )
    csp = (
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        f"connect-src {api_url}; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
    )
    return _page(page, csp)


def _agent(stack: Stack, request: ApiRequest, query: dict[str, list[str]]) -> ApiResponse:
    found = _workspace(stack, query)
    if found is None:
        return _text(404, "No such seeded workspace (the stack seeds acme and globex).")
    name, workspace = found
    user_id = str(workspace.get("agent_user_id") or demo_user_id(name, "agent"))
    token = workspace.get("agent_token")
    if stack.dev_issuer_trusted and stack.dev_issuer is not None and workspace.get("org_id"):
        # A fresh token per page load: the seeded one expires after 12 hours of `make dev`.
        token = stack.dev_issuer.mint(
            workspace["org_id"],
            user_id,
            CLERK_ROLES["agent"],
            lifetime_s=SESSION_LIFETIME_S,
            azp=stack.origins[0],
        )
    if not token:
        return _text(503, "No agent token: the stack does not run its development Clerk issuer.")
    config = {"api_url": "", "token": token, "user_id": user_id, "workspace": name}
    page = _fill(
        WEB / "demo" / "agent.html",
        WORKSPACE=html.escape(name),
        AGENT_USER_ID=html.escape(user_id),
        CONFIG_JSON=_script_json(config),
    )
    csp = (
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src data:; "
        "connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
    )
    return _page(page, csp)


def _fill(template: Path, **values: str) -> bytes:
    text = template.read_text(encoding="utf-8")
    for name, value in values.items():
        text = text.replace("{{" + name + "}}", value)
    return text.encode()


def _script_json(value: Any) -> str:
    """JSON safe inside a <script> element: no `</script>` or comment openers."""
    text = json.dumps(value)
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


def _page(body: bytes, csp: str) -> ApiResponse:
    headers = [
        ("content-type", CONTENT_TYPES[".html"]),
        ("cache-control", "no-store"),
        ("content-security-policy", csp),
        *COMMON_HEADERS,
    ]
    return ApiResponse(200, headers, body)


def _text(status: int, message: str) -> ApiResponse:
    return ApiResponse(
        status, [("content-type", "text/plain; charset=utf-8"), *COMMON_HEADERS], message.encode()
    )
