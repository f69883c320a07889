"""The local API: template routes as HTTP API would serve them, plus /_local/ endpoints.

/_local/ endpoints (loopback only, never in AWS):
    GET  /_local/health                        200 once the stack is ready
    GET  /_local/routes                        the HttpApi routes read from the template
    GET  /_local/schedules                     Schedule / ScheduleV2 events
    POST /_local/schedules/<Function>/<Event>  fire one now (a JSON body replaces its Input)
    POST /_local/invoke/<Function>             invoke a function with the JSON body as event
    POST /_local/drain?timeout=30              wait until stream and queue pollers caught up
    GET  /_local/outbox[?to=<address>]         emails the functions sent (one-time codes):
                                               kept here instead of delivered
    POST /_local/ses                           SES SendEmail for the functions that send email
                                               (their AWS_ENDPOINT_URL_SES points here)
    GET  /_local/clerk/.well-known/jwks.json   the development Clerk issuer's public keys
    POST /_local/openrouter/api/v1/chat/completions
                                               the OpenRouter stand-in (local/model.py), which
                                               the bot calls with YOOSR_LOCAL_MODEL=local

/demo, /demo/agent and /demo/<asset>: the demo site with the widget (local/demo.py).
"""

from __future__ import annotations

import json
import logging
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs, unquote

from local import demo, model
from local.apigw import (
    MAX_BODY_BYTES,
    ApiRequest,
    ApiResponse,
    BadLambdaResponse,
    build_event,
    error_response,
    lambda_response,
    new_request_id,
)

if TYPE_CHECKING:
    from local.stack import Stack

log = logging.getLogger(__name__)


_FRAMING_HEADERS = frozenset({"content-length", "transfer-encoding", "connection"})


class BodyTooLarge(Exception):
    """The request body is over HTTP API's 10 MB limit."""


class ApiServer(ThreadingHTTPServer):
    """Threaded HTTP server bound to the stack it serves."""

    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, address: tuple[str, int], stack: Stack) -> None:
        self.stack = stack
        super().__init__(address, ApiRequestHandler)


class ApiRequestHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    timeout = 60  # an idle or stalled client must not hold a thread forever
    server: ApiServer
    server_version = "yoosr-local"
    sys_version = ""

    def do_GET(self) -> None:
        self._handle()

    def do_POST(self) -> None:
        self._handle()

    def do_PUT(self) -> None:
        self._handle()

    def do_PATCH(self) -> None:
        self._handle()

    def do_DELETE(self) -> None:
        self._handle()

    def do_OPTIONS(self) -> None:
        self._handle()

    def do_HEAD(self) -> None:
        self._handle()

    def log_message(self, format: str, *args: Any) -> None:
        # Access lines are written by _handle, without client addresses.
        return

    def _read_body(self) -> bytes:
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            chunks: list[bytes] = []
            total = 0
            while True:
                size = int(self.rfile.readline(1024).split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    self.rfile.readline(1024)
                    return b"".join(chunks)
                total += size
                if total > MAX_BODY_BYTES:
                    raise BodyTooLarge
                chunks.append(self.rfile.read(size))
                self.rfile.readline(1024)
        length = int(self.headers.get("Content-Length") or 0)
        if length > MAX_BODY_BYTES:
            raise BodyTooLarge
        return self.rfile.read(length) if length > 0 else b""

    def _handle(self) -> None:
        started = time.monotonic()
        stack = self.server.stack
        request_id = new_request_id()
        try:
            body = self._read_body()
        except BodyTooLarge:
            # The unread body makes the connection unusable: answer and close it.
            self.close_connection = True
            self._send(error_response(413, "Request Entity Too Large"), request_id)
            return
        except ValueError:
            self.close_connection = True
            self._send(error_response(400, "Bad Request"), request_id)
            return
        request = ApiRequest(
            method=self.command,
            target=self.path,
            headers=list(self.headers.items()),
            body=body,
            source_ip=self.client_address[0],
            host=self.headers.get("Host") or f"{self.config_host()}",
            protocol=self.request_version,
        )
        if request.raw_path.startswith("/_local/"):
            response = self._local(request)
            self._send(response, request_id)
            return
        if demo.handles(request.raw_path):
            self._send(demo.serve(stack, request), request_id)
            return
        response, function = self._api(request, request_id)
        self._send(response, request_id)
        elapsed = (time.monotonic() - started) * 1000
        line = f"{self.command} {request.raw_path} -> {response.status} {function} {elapsed:.0f} ms"
        stack.sink.write("api", line)

    def config_host(self) -> str:
        host, port = self.server.server_address[:2]
        return f"{host!s}:{port}"

    def _api(self, request: ApiRequest, request_id: str) -> tuple[ApiResponse, str]:
        stack = self.server.stack
        match = stack.router.match(request.method, request.raw_path)
        if match is None:
            return error_response(404, "Not Found"), "-"
        function = match.route.function
        event = build_event(
            request,
            match,
            api_id=stack.api_id,
            account_id=stack.template.account_id,
            request_id=request_id,
        )
        invocation = stack.invoke(function, event)
        if invocation.status == "timeout":
            return error_response(503, "Service Unavailable"), function
        if invocation.status == "throttled":
            return error_response(429, "Too Many Requests"), function
        if not invocation.ok:
            return error_response(500, "Internal Server Error"), function
        try:
            return lambda_response(invocation.result), function
        except BadLambdaResponse as exc:
            stack.sink.write(function, f"invalid response for HTTP API: {exc}")
            return error_response(500, "Internal Server Error"), function

    def _local(self, request: ApiRequest) -> ApiResponse:
        stack = self.server.stack
        parts = [unquote(p) for p in request.raw_path.strip("/").split("/")[1:]]
        query = parse_qs(request.raw_query)
        method = request.method
        if method == "GET" and parts == ["health"]:
            return _json(200, {"status": "ok"})
        if method == "GET" and parts == ["routes"]:
            routes = [{"routeKey": r.route_key, "function": r.function} for r in stack.routes]
            return _json(200, {"routes": routes})
        if method == "GET" and parts == ["schedules"]:
            return _json(200, {"schedules": stack.schedule_listing()})
        if method == "GET" and parts == ["clerk", ".well-known", "jwks.json"]:
            response = _json(200, stack.jwks())
            response.headers.append(("cache-control", "public, max-age=300"))
            return response
        if parts[:3] == ["openrouter", "api", "v1"]:
            return self._openrouter(request, parts[3:])
        if method == "POST" and parts == ["ses"]:
            status, xml = stack.receive_email(request.body)
            return ApiResponse(status, [("content-type", "text/xml")], xml.encode())
        if method == "GET" and parts == ["outbox"]:
            recipient = query.get("to", [None])[0]
            return _json(200, {"messages": stack.outbox(recipient)})
        if method == "POST" and parts == ["drain"]:
            timeout = float(query.get("timeout", ["30"])[0])
            drained = stack.drain(min(max(timeout, 0.0), 300.0))
            return _json(200 if drained else 504, {"drained": drained})
        try:
            payload = json.loads(request.body) if request.body else None
        except ValueError:
            return _json(400, {"message": "body must be JSON"})
        if method == "POST" and len(parts) == 3 and parts[0] == "schedules":
            try:
                invocation = stack.fire_schedule(parts[1], parts[2], payload)
            except KeyError:
                return _json(404, {"message": f"no schedule {parts[1]}/{parts[2]}"})
            return _invocation_response(invocation)
        if method == "POST" and len(parts) == 2 and parts[0] == "invoke":
            if parts[1] not in stack.pools:
                return _json(404, {"message": f"no function {parts[1]}"})
            return _invocation_response(stack.invoke(parts[1], payload or {}))
        return _json(404, {"message": "Not Found"})

    def _openrouter(self, request: ApiRequest, rest: list[str]) -> ApiResponse:
        """The OpenRouter stand-in; logs status, model and token counts, never a prompt."""
        if request.method != "POST" or rest != ["chat", "completions"]:
            return _json(404, {"error": {"code": 404, "message": "Not Found"}})
        authorization = next(
            (value for name, value in request.headers if name.lower() == "authorization"), None
        )
        answer = model.chat_completions(authorization, request.body)
        line = f"POST chat/completions -> {answer.status} (local stand-in)"
        if answer.status == 200:
            usage = answer.body["usage"]
            line += f" {answer.body['model']} {usage['total_tokens']} tokens"
        self.server.stack.sink.write("openrouter", line)
        return _json(answer.status, answer.body)

    def _send(self, response: ApiResponse, request_id: str) -> None:
        self.send_response(response.status)
        names = {name.lower() for name, _ in response.headers}
        for name, value in response.headers:
            # API Gateway sets the framing headers itself, whatever the function said.
            if name.lower() not in _FRAMING_HEADERS:
                self.send_header(name, value)
        if "apigw-requestid" not in names:
            self.send_header("apigw-requestid", request_id)
        self.send_header("content-length", str(len(response.body)))
        if self.close_connection:
            self.send_header("connection", "close")
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(response.body)


def _json(status: int, body: Any) -> ApiResponse:
    return ApiResponse(status, [("content-type", "application/json")], json.dumps(body).encode())


def _invocation_response(invocation: Any) -> ApiResponse:
    body: dict[str, Any] = {"status": invocation.status, "requestId": invocation.request_id}
    if invocation.ok:
        body["result"] = invocation.result
        return _json(200, body)
    body["error"] = invocation.error
    return _json(504 if invocation.status == "timeout" else 502, body)
