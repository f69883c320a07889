"""API Gateway HTTP API behaviour: route matching, payload 2.0 events and response mapping."""

from __future__ import annotations

import base64
import binascii
import json
import secrets
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qsl, unquote

from local.template import Route

MAX_BODY_BYTES = 10 * 1024 * 1024
"""HTTP API's payload limit; larger requests get 413 before reaching the function."""


@dataclass(frozen=True)
class RouteMatch:
    route: Route
    path_parameters: dict[str, str]


@dataclass(frozen=True)
class _CompiledRoute:
    route: Route
    segments: tuple[str, ...]
    greedy: bool

    def specificity(self) -> tuple[Any, ...]:
        # Literal segments beat {params}, left to right; greedy routes and ANY come last.
        literal = tuple(not s.startswith("{") for s in self.segments)
        return (not self.greedy, literal, self.route.method != "ANY")


class Router:
    """Picks the most specific HttpApi route for a request, as API Gateway does."""

    def __init__(self, routes: Iterable[Route]) -> None:
        self._routes: list[_CompiledRoute] = []
        self._default: dict[str, Route] = {}
        for route in routes:
            if route.path == "$default":
                self._default[route.method] = route
                continue
            segments = tuple(route.path.strip("/").split("/")) if route.path != "/" else ()
            greedy = bool(segments) and segments[-1].endswith("+}")
            self._routes.append(_CompiledRoute(route, segments, greedy))
        self._routes.sort(key=_CompiledRoute.specificity, reverse=True)

    def match(self, method: str, raw_path: str) -> RouteMatch | None:
        """The route for `method` and the (still percent-encoded) request path, or None."""
        method = method.upper()
        path = raw_path.strip("/")
        parts = path.split("/") if path else []
        for compiled in self._routes:
            if compiled.route.method not in (method, "ANY"):
                continue
            params = _match_segments(compiled, parts)
            if params is not None:
                return RouteMatch(compiled.route, params)
        default = self._default.get(method) or self._default.get("ANY")
        return RouteMatch(default, {}) if default else None


def _match_segments(compiled: _CompiledRoute, parts: list[str]) -> dict[str, str] | None:
    segments = compiled.segments
    if compiled.greedy:
        if len(parts) < len(segments):
            return None
    elif len(parts) != len(segments):
        return None
    params: dict[str, str] = {}
    for index, segment in enumerate(segments):
        if compiled.greedy and index == len(segments) - 1:
            params[segment[1:-2]] = unquote("/".join(parts[index:]))
            break
        part = parts[index]
        if segment.startswith("{") and segment.endswith("}"):
            if not part:
                return None
            params[segment[1:-1]] = unquote(part)
        elif unquote(part) != segment:
            return None
    return params


@dataclass
class ApiRequest:
    """An HTTP request as the local API received it."""

    method: str
    target: str
    headers: Sequence[tuple[str, str]]
    body: bytes
    source_ip: str
    host: str
    protocol: str = "HTTP/1.1"

    @property
    def raw_path(self) -> str:
        return self.target.split("?", 1)[0] or "/"

    @property
    def raw_query(self) -> str:
        return self.target.split("?", 1)[1] if "?" in self.target else ""


@dataclass
class ApiResponse:
    status: int
    headers: list[tuple[str, str]] = field(default_factory=list)
    body: bytes = b""


class BadLambdaResponse(ValueError):
    """The function returned something API Gateway would answer with 500."""


def new_request_id() -> str:
    """An id shaped like HTTP API's (base64-ish, 16 characters)."""
    return base64.b64encode(secrets.token_bytes(12)).decode().replace("/", "_").replace("+", "-")


def build_event(
    request: ApiRequest,
    match: RouteMatch,
    *,
    api_id: str,
    account_id: str,
    request_id: str | None = None,
    now: float | None = None,
) -> dict[str, Any]:
    """The HTTP API payload format 2.0 event for `request` on the matched route."""
    now = time.time() if now is None else now
    headers: dict[str, str] = {}
    cookies: list[str] = []
    for name, value in request.headers:
        key = name.lower()
        if key == "cookie":
            cookies.extend(c.strip() for c in value.split(";") if c.strip())
            continue
        headers[key] = f"{headers[key]},{value}" if key in headers else value
    forwarded = headers.get("x-forwarded-for")
    headers["x-forwarded-for"] = (
        f"{forwarded}, {request.source_ip}" if forwarded else request.source_ip
    )
    headers.setdefault("x-forwarded-proto", "http")
    headers.setdefault("x-forwarded-port", request.host.rpartition(":")[2] or "80")
    headers.setdefault("x-amzn-trace-id", f"Root=1-{int(now):08x}-{secrets.token_hex(12)}")
    if request.body:
        headers.setdefault("content-length", str(len(request.body)))

    query: dict[str, str] = {}
    for name, value in parse_qsl(request.raw_query, keep_blank_values=True):
        query[name] = f"{query[name]},{value}" if name in query else value

    path = unquote(request.raw_path)
    route_key = "$default" if match.route.path == "$default" else match.route.route_key
    domain = request.host or "localhost"
    event: dict[str, Any] = {
        "version": "2.0",
        "routeKey": route_key,
        "rawPath": path,
        "rawQueryString": request.raw_query,
    }
    if cookies:
        event["cookies"] = cookies
    event["headers"] = headers
    if query:
        event["queryStringParameters"] = query
    event["requestContext"] = {
        "accountId": account_id,
        "apiId": api_id,
        "domainName": domain,
        "domainPrefix": domain.split(".", 1)[0],
        "http": {
            "method": request.method.upper(),
            "path": path,
            "protocol": request.protocol,
            "sourceIp": request.source_ip,
            "userAgent": headers.get("user-agent", ""),
        },
        "requestId": request_id or new_request_id(),
        "routeKey": route_key,
        "stage": "$default",
        "time": datetime.fromtimestamp(now, UTC).strftime("%d/%b/%Y:%H:%M:%S +0000"),
        "timeEpoch": int(now * 1000),
    }
    if request.body:
        try:
            event["body"] = request.body.decode("utf-8")
            event["isBase64Encoded"] = False
        except UnicodeDecodeError:
            event["body"] = base64.b64encode(request.body).decode("ascii")
            event["isBase64Encoded"] = True
    else:
        event["isBase64Encoded"] = False
    if match.path_parameters:
        event["pathParameters"] = match.path_parameters
    return event


def lambda_response(result: Any) -> ApiResponse:
    """Map a handler's return value to an HTTP response with HTTP API's format 2.0 rules."""
    if not isinstance(result, dict) or "statusCode" not in result:
        # Format inference: any JSON without statusCode is a 200 whose body is that JSON.
        inferred = json.dumps(result).encode()
        return ApiResponse(200, [("content-type", "application/json")], inferred)
    try:
        status = int(result["statusCode"])
    except (TypeError, ValueError):
        raise BadLambdaResponse(f"statusCode {result['statusCode']!r} is not a number") from None
    if not 100 <= status <= 599:
        raise BadLambdaResponse(f"statusCode {status} is out of range")
    headers: list[tuple[str, str]] = []
    for name, value in (result.get("headers") or {}).items():
        headers.append((str(name), _header_text(value)))
    headers.extend(("set-cookie", str(cookie)) for cookie in result.get("cookies") or [])
    body = result.get("body")
    payload: bytes
    if body is None:
        payload = b""
    elif not isinstance(body, str):
        raise BadLambdaResponse("body must be a string")
    elif result.get("isBase64Encoded"):
        try:
            payload = base64.b64decode(body, validate=True)
        except (binascii.Error, ValueError):
            raise BadLambdaResponse("isBase64Encoded body is not base64") from None
    else:
        payload = body.encode("utf-8")
    return ApiResponse(status, headers, payload)


def _header_text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def error_response(status: int, message: str) -> ApiResponse:
    """API Gateway's own error body, e.g. 404 {"message":"Not Found"}."""
    body = json.dumps({"message": message}).encode()
    return ApiResponse(status, [("content-type", "application/json")], body)
