"""FastAPI glue shared by the HTTP functions: one error mapping to the API.md shape, body
limits, request logging and the Lambda entry point (Mangum)."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable
from typing import Any

from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.metrics import MetricUnit
from botocore.exceptions import ClientError, HTTPClientError
from botocore.exceptions import ConnectionError as AwsConnectionError
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from yoosr.errors import (
    BadRequest,
    MethodNotAllowed,
    NotFound,
    PayloadTooLarge,
    Unavailable,
    UnsupportedMediaType,
    ValidationFailed,
    YoosrError,
)
from yoosr.models.common import ErrorBody
from yoosr.observability import logger, metrics, tracer

ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    status: {"model": ErrorBody, "description": text}
    for status, text in (
        (400, "Malformed JSON, bad query parameter or cursor"),
        (401, "Missing or invalid credentials"),
        (403, "Not allowed (for example an origin the workspace does not allow)"),
        (404, "Unknown, or belonging to another workspace or visitor"),
        (413, "Body too large"),
        (415, "Body is not JSON"),
        (422, "Body failed validation; details name each field"),
        (429, "Rate limited; see Retry-After"),
        (
            503,
            "A dependency is briefly unavailable; retry after Retry-After (writes are idempotent)",
        ),
    )
}

# For operations that can refuse because of the object's state (a conflict code names why).
CONFLICT_RESPONSE: dict[int | str, dict[str, Any]] = {
    409: {"model": ErrorBody, "description": "Conflicts with the current state; the code says why"}
}


def error_response(error: YoosrError) -> JSONResponse:
    return JSONResponse(error.body(), status_code=error.status, headers=error.headers)


def _field(loc: tuple[Any, ...]) -> str:
    return ".".join(str(part) for part in loc[1:]) or str(loc[0])


def validation_error(exc: RequestValidationError) -> YoosrError:
    """Malformed JSON and bad query/path/header values are 400; a well-formed body that fails
    validation is 422 naming each field. The offending input is never echoed back."""
    errors = exc.errors()
    if any(e.get("type") == "json_invalid" for e in errors):
        return BadRequest("The request body is not valid JSON.", code="malformed_json")
    if any(tuple(e.get("loc", ())) == ("body",) and e.get("type") == "missing" for e in errors):
        return BadRequest("The request needs a JSON body.", code="missing_body")
    details = [
        {
            "field": _field(tuple(e.get("loc", ()))),
            "message": str(e.get("msg", "")),
            "type": str(e.get("type", "")),
        }
        for e in errors
    ]
    if all(e.get("loc", ("body",))[0] == "body" for e in errors):
        return ValidationFailed(details=details)
    return BadRequest("A query parameter is not valid.", code="invalid_query", details=details)


# AWS answers meaning "busy or briefly down": the SDK's retries ran out, the same request may
# succeed shortly (every write is idempotent), so the caller gets a retryable 503, not a 500.
TRANSIENT_AWS_CODES = frozenset(
    {
        "ProvisionedThroughputExceededException",
        "ThrottlingException",
        "Throttling",
        "RequestLimitExceeded",
        "TransactionConflictException",
        "InternalServerError",
        "ServiceUnavailable",
        "SlowDown",
        "RequestTimeout",
    }
)


def transient_aws_error(exc: Exception) -> bool:
    if isinstance(exc, AwsConnectionError | HTTPClientError):  # timeouts, connection resets
        return True
    return (
        isinstance(exc, ClientError)
        and str(exc.response.get("Error", {}).get("Code", "")) in TRANSIENT_AWS_CODES
    )


def install_error_handlers(app: FastAPI) -> None:
    async def on_domain_error(_: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, YoosrError)
        logger.info("request refused", extra={"status": exc.status, "code": exc.error_code})
        return error_response(exc)

    async def on_validation_error(_: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, RequestValidationError)
        error = validation_error(exc)
        logger.info("request refused", extra={"status": error.status, "code": error.error_code})
        return error_response(error)

    async def on_http_error(_: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, StarletteHTTPException)
        error: YoosrError = MethodNotAllowed() if exc.status_code == 405 else NotFound()
        return error_response(error)

    async def on_aws_error(_: Request, exc: Exception) -> JSONResponse:
        if not transient_aws_error(exc):
            raise exc  # a bug, not weather: the ErrorBoundary's 500, logged with its stack
        logger.warning("dependency unavailable", extra={"error": type(exc).__name__})
        metrics.add_metric(name="DependencyUnavailable", unit=MetricUnit.Count, value=1)
        return error_response(Unavailable(headers={"Retry-After": "1"}))

    app.add_exception_handler(YoosrError, on_domain_error)
    for aws_error in (ClientError, AwsConnectionError, HTTPClientError):
        app.add_exception_handler(aws_error, on_aws_error)
    app.add_exception_handler(RequestValidationError, on_validation_error)
    app.add_exception_handler(StarletteHTTPException, on_http_error)


async def _send_error(
    send: Send, error: YoosrError, extra_headers: list[tuple[bytes, bytes]]
) -> None:
    body = json.dumps(error.body()).encode()
    headers = [
        (b"content-type", b"application/json"),
        (b"content-length", str(len(body)).encode()),
        *extra_headers,
    ]
    headers += [(k.lower().encode(), v.encode()) for k, v in error.headers.items()]
    await send({"type": "http.response.start", "status": error.status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


class ErrorBoundary:
    """Outermost: whatever escapes becomes a 500 in the API.md shape, logged with its stack."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False

        async def tracking_send(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, receive, tracking_send)
        except Exception:
            logger.exception("unhandled error")
            metrics.add_metric(name="UnhandledErrors", unit=MetricUnit.Count, value=1)
            if not started:
                await _send_error(send, YoosrError(), [])


class BodyGuard:
    """Refuses bodies over the limit (413) and non-JSON bodies (415) before any parsing."""

    _METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] not in self._METHODS:
            await self.app(scope, receive, send)
            return
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] != "http.request":
                break
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.max_bytes:
                await _send_error(
                    send,
                    PayloadTooLarge(f"The request body must be at most {self.max_bytes} bytes."),
                    [],
                )
                return
            chunks.append(chunk)
            if not message.get("more_body", False):
                break
        body = b"".join(chunks)
        if body.strip():
            content_type = dict(scope["headers"]).get(b"content-type", b"").decode("latin-1")
            media = content_type.split(";")[0].strip().lower()
            if media != "application/json" and not media.endswith("+json"):
                await _send_error(send, UnsupportedMediaType(), [])
                return
        replayed = False

        async def replay() -> Message:
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        await self.app(scope, replay, send)


class RequestLog:
    """One log line per request: route template, status, latency. No bodies, no query."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500

        async def capture(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, capture)
        finally:
            event = scope.get("aws.event") or {}
            logger.info(
                "request",
                extra={
                    "route": event.get("routeKey") or f"{scope['method']} {scope['path']}",
                    "status": status,
                    "latency_ms": round((time.perf_counter() - started) * 1000, 1),
                },
            )


def create_app(
    title: str,
    description: str,
    max_body_bytes: int,
    extra_middleware: list[Callable[[ASGIApp], ASGIApp]] | None = None,
) -> FastAPI:
    app = FastAPI(
        title=title,
        description=description,
        version="1.0.0",
        docs_url=None,
        redoc_url=None,
        openapi_url=None,
    )
    install_error_handlers(app)
    # add_middleware wraps: the last added is outermost.
    app.add_middleware(BodyGuard, max_bytes=max_body_bytes)
    for middleware in extra_middleware or []:
        app.add_middleware(middleware)
    app.add_middleware(RequestLog)
    app.add_middleware(ErrorBoundary)
    return app


def lambda_handler_for(app: FastAPI) -> Callable[[dict[str, Any], Any], dict[str, Any]]:
    """The Lambda entry point for an HTTP function, with the one decorator order we use."""
    from mangum import Mangum  # noqa: PLC0415 - only HTTP entry points pay for it

    # Mangum asks asyncio for the current loop; on 3.12+ there is none until one is set.
    asyncio.set_event_loop(asyncio.new_event_loop())
    adapter = Mangum(app, lifespan="off", api_gateway_base_path="/")

    @logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_HTTP)
    @metrics.log_metrics(capture_cold_start_metric=True)
    @tracer.capture_lambda_handler
    def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
        return dict(adapter(event, context))

    entry: Callable[[dict[str, Any], Any], dict[str, Any]] = handler
    return entry
