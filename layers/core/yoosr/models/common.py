"""Shapes shared by every API: errors and pages."""

from __future__ import annotations

from typing import Any, Generic, TypeVar

from pydantic import BaseModel, ConfigDict

T = TypeVar("T")


class Strict(BaseModel):
    """Request bodies: unknown fields are rejected, so mass assignment is impossible."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=False)


class ErrorDetail(BaseModel):
    field: str | None = None
    message: str
    type: str | None = None


class ErrorInfo(BaseModel):
    code: str
    message: str
    details: list[dict[str, Any]]


class ErrorBody(BaseModel):
    error: ErrorInfo


class Page(BaseModel, Generic[T]):
    items: list[T]
    next_cursor: str | None
