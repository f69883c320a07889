"""Privacy: the dashboard API for privacy requests (API.md: /v1/privacy/requests, decisions,
downloads), workspace deletion, and deleting one conversation for good.

Every route is admin only (yoosr.dashboard.access.ROUTE_ROLES); agents get 403. Routes are
glue: parse, one call into yoosr.privacy.service, return the response model.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Path, Query, Response
from fastapi.responses import RedirectResponse

from yoosr import clock
from yoosr.dashboard.access import DashboardCaller
from yoosr.dashboard.cors import dashboard_cors
from yoosr.dashboard.http import caller_dependency
from yoosr.http import CONFLICT_RESPONSE, ERROR_RESPONSES, create_app, lambda_handler_for
from yoosr.models.common import Page
from yoosr.privacy import service
from yoosr.privacy.api import (
    AdminRequestIn,
    CancelIn,
    DenyIn,
    ExtendIn,
    PrivacyRequestDetail,
    PrivacyRequestOut,
)
from yoosr.settings import PrivacySettings, get_settings
from yoosr.store import assignment

settings = get_settings(PrivacySettings)
app = create_app(
    title="Yoosr privacy API",
    description="Dashboard API (Clerk session token as Authorization: Bearer; admins only) "
    "for privacy requests on behalf of a subject (access, export, correction, erasure, "
    "restriction, objection), their decisions and export downloads, the workspace's own "
    "deletion, and deleting one conversation for good.",
    max_body_bytes=settings.max_body_bytes,
    extra_middleware=[dashboard_cors(lambda: settings.authorized_parties)],
)

wiring = service.Wiring.of(settings)
tables = assignment.Tables(settings.workspaces_table, settings.conversations_table)

Caller = Annotated[DashboardCaller, Depends(caller_dependency(lambda: settings))]
RequestId = Annotated[str, Path(max_length=64)]
ConversationId = Annotated[str, Path(max_length=64)]
Limit = Annotated[int, Query(ge=1, le=200, description="Page size (default 50, max 200).")]
Cursor = Annotated[str | None, Query(max_length=2048)]
REDIRECT = {302: {"description": "Redirect to a short-lived presigned URL of the zip"}}


def _redirect(url: str) -> RedirectResponse:
    return RedirectResponse(url, status_code=302, headers={"Cache-Control": "no-store"})


@app.post(
    "/v1/privacy/requests",
    status_code=201,
    response_model=PrivacyRequestOut,
    responses=ERROR_RESPONSES,
)
def create_request(caller: Caller, body: AdminRequestIn) -> PrivacyRequestOut:
    """A request on behalf of a subject the admin has verified (email, phone or visitor id):
    it proceeds at once, no code is sent."""
    return service.admin_create(wiring, tables, caller, body, clock.now())


@app.get("/v1/privacy/requests", response_model=Page[PrivacyRequestOut], responses=ERROR_RESPONSES)
def list_requests(
    caller: Caller, limit: Limit = 50, cursor: Cursor = None
) -> Page[PrivacyRequestOut]:
    """The workspace's requests, newest first (every source: widget and dashboard)."""
    return service.admin_list(wiring, caller, limit, cursor)


@app.get(
    "/v1/privacy/requests/{request_id}",
    response_model=PrivacyRequestDetail,
    responses=ERROR_RESPONSES,
)
def get_request(caller: Caller, request_id: RequestId) -> PrivacyRequestDetail:
    """One request with its audit trail (no personal data: keyed hashes and codes) and tasks."""
    return service.admin_get(wiring, caller, request_id)


@app.post(
    "/v1/privacy/requests/{request_id}/approve",
    response_model=PrivacyRequestOut,
    responses={**ERROR_RESPONSES, **CONFLICT_RESPONSE},
)
def approve_request(caller: Caller, request_id: RequestId) -> PrivacyRequestOut:
    """Approve an erasure of email-linked data a visitor asked for from the widget."""
    return service.admin_decide(wiring, caller, request_id, "approve", clock.now())


@app.post(
    "/v1/privacy/requests/{request_id}/deny",
    response_model=PrivacyRequestOut,
    responses={**ERROR_RESPONSES, **CONFLICT_RESPONSE},
)
def deny_request(caller: Caller, request_id: RequestId, body: DenyIn) -> PrivacyRequestOut:
    """Refuse a request that waits for verification or approval, with a reason code."""
    return service.admin_decide(wiring, caller, request_id, "deny", clock.now(), deny=body)


@app.post(
    "/v1/privacy/requests/{request_id}/extend",
    response_model=PrivacyRequestOut,
    responses={**ERROR_RESPONSES, **CONFLICT_RESPONSE},
)
def extend_request(caller: Caller, request_id: RequestId, body: ExtendIn) -> PrivacyRequestOut:
    """Extend the deadline once (1-60 days), before it passes, for complexity or the number
    of requests (GDPR Art. 12(3))."""
    return service.admin_extend(wiring, caller, request_id, body, clock.now())


@app.post(
    "/v1/privacy/requests/{request_id}/cancel",
    response_model=PrivacyRequestOut,
    responses={**ERROR_RESPONSES, **CONFLICT_RESPONSE},
)
def cancel_request(
    caller: Caller, request_id: RequestId, body: CancelIn | None = None
) -> PrivacyRequestOut:
    """Cancel a request that has not started (or failed)."""
    return service.admin_decide(
        wiring, caller, request_id, "cancel", clock.now(), cancel=body or CancelIn()
    )


@app.post(
    "/v1/privacy/requests/{request_id}/retry",
    response_model=PrivacyRequestOut,
    responses={**ERROR_RESPONSES, **CONFLICT_RESPONSE},
)
def retry_request(caller: Caller, request_id: RequestId) -> PrivacyRequestOut:
    """Run a failed request again: finished tasks are kept, the rest resume."""
    return service.admin_decide(wiring, caller, request_id, "retry", clock.now())


@app.get(
    "/v1/privacy/requests/{request_id}/download",
    response_class=RedirectResponse,
    status_code=302,
    responses={**ERROR_RESPONSES, **CONFLICT_RESPONSE, **REDIRECT},
)
def download_export(caller: Caller, request_id: RequestId) -> RedirectResponse:
    """The export package: a redirect to a presigned URL valid for a few minutes."""
    return _redirect(service.admin_download(wiring, caller, request_id))


@app.post(
    "/v1/workspace/deletion",
    response_model=PrivacyRequestOut,
    responses={
        **ERROR_RESPONSES,
        202: {"model": PrivacyRequestOut, "description": "Deletion scheduled"},
        200: {"model": PrivacyRequestOut, "description": "Already scheduled"},
    },
)
def schedule_workspace_deletion(caller: Caller, response: Response) -> PrivacyRequestOut:
    """Delete the whole workspace: disabled at once (widget keys and tokens stop working),
    purged once 30 days have passed (`not_before`), cancellable until then."""
    request, created = service.schedule_workspace_deletion(
        wiring, settings.workspaces_table, caller, clock.now()
    )
    response.status_code = 202 if created else 200
    return request


@app.delete(
    "/v1/workspace/deletion",
    response_model=PrivacyRequestOut,
    responses={**ERROR_RESPONSES, **CONFLICT_RESPONSE},
)
def cancel_workspace_deletion(caller: Caller) -> PrivacyRequestOut:
    """Cancel the scheduled deletion before its purge date; the workspace works again."""
    return service.cancel_workspace_deletion(wiring, settings.workspaces_table, caller, clock.now())


@app.delete(
    "/v1/conversations/{conversation_id}",
    status_code=202,
    response_model=PrivacyRequestOut,
    responses=ERROR_RESPONSES,
)
def delete_conversation(caller: Caller, conversation_id: ConversationId) -> PrivacyRequestOut:
    """Delete one conversation for good: it is gone for everyone at once (404), and its
    messages, notes, rating and markers are deleted by the job this request tracks."""
    return service.delete_conversation(wiring, tables, caller, conversation_id, clock.now())


lambda_handler = lambda_handler_for(app)
