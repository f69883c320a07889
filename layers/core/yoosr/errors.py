"""Domain errors. Each class carries its HTTP status and machine code; yoosr.http maps them
to the API.md error shape in one place. Never branch on an error's message text."""

from __future__ import annotations

from typing import Any, ClassVar


class YoosrError(Exception):
    status: ClassVar[int] = 500
    code: ClassVar[str] = "internal_error"
    default_message: ClassVar[str] = "Something went wrong on our side."

    def __init__(
        self,
        message: str | None = None,
        *,
        code: str | None = None,
        details: list[dict[str, Any]] | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        self.message = message or self.default_message
        self.error_code = code or self.code
        self.details = details or []
        self.headers = headers or {}
        super().__init__(self.error_code)

    def body(self) -> dict[str, Any]:
        return {
            "error": {"code": self.error_code, "message": self.message, "details": self.details}
        }


class BadRequest(YoosrError):
    status = 400
    code = "bad_request"
    default_message = "The request is malformed."


class Unauthorized(YoosrError):
    status = 401
    code = "unauthorized"
    default_message = "Missing or invalid credentials."


class Forbidden(YoosrError):
    status = 403
    code = "forbidden"
    default_message = "You are not allowed to do this."


class NotFound(YoosrError):
    status = 404
    code = "not_found"
    default_message = "Not found."


class MethodNotAllowed(YoosrError):
    status = 405
    code = "method_not_allowed"
    default_message = "This method is not allowed on this path."


class Conflict(YoosrError):
    status = 409
    code = "conflict"
    default_message = "The request conflicts with the current state."


class PayloadTooLarge(YoosrError):
    status = 413
    code = "payload_too_large"
    default_message = "The request body is too large."


class UnsupportedMediaType(YoosrError):
    status = 415
    code = "unsupported_media_type"
    default_message = "The request body must be JSON (Content-Type: application/json)."


class ValidationFailed(YoosrError):
    status = 422
    code = "validation_failed"
    default_message = "The request body failed validation."


class RateLimited(YoosrError):
    status = 429
    code = "rate_limited"
    default_message = "Too many requests; retry later."

    def __init__(self, retry_after: int, message: str | None = None) -> None:
        self.retry_after = max(1, retry_after)
        super().__init__(message, headers={"Retry-After": str(self.retry_after)})


class Unavailable(YoosrError):
    """Transient contention or throttling that survived our retries; safe to retry."""

    status = 503
    code = "unavailable"
    default_message = "The service is busy; retry shortly."


class ConditionFailed(Exception):
    """A conditional write's invariant did not hold (raised by the store layer)."""


class TransactionCancelled(Exception):
    """A transaction was cancelled; `reasons` holds one code per item ('None' if fine)."""

    def __init__(self, reasons: list[str], items: list[dict[str, Any] | None]) -> None:
        self.reasons = reasons
        self.items = items
        super().__init__(",".join(reasons))
