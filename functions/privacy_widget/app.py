"""Privacy from the widget: a visitor's own requests (API.md: /v1/widget/privacy-requests).

The widget's credentials as for every widget route (key, allowed origin, session). For this
session's data the session is the proof of identity; a request naming an email address waits
for the one-time code emailed there. Routes are glue: parse, one call into
yoosr.privacy.service, return the response model.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Path, Request, Response
from fastapi.responses import RedirectResponse

from yoosr import clock
from yoosr.http import CONFLICT_RESPONSE, ERROR_RESPONSES, create_app, lambda_handler_for
from yoosr.privacy import service
from yoosr.privacy.api import PrivacyRequestOut, VerifyIn, WidgetRequestIn
from yoosr.settings import PrivacyWidgetSettings, get_settings
from yoosr.widget.auth import WidgetCaller
from yoosr.widget.cors import WidgetCors
from yoosr.widget.http import Authorization, WidgetKey, widget_caller

settings = get_settings(PrivacyWidgetSettings)
app = create_app(
    title="Yoosr widget privacy API",
    description="A visitor's privacy requests from the widget. Every call carries "
    "X-Yoosr-Widget-Key and Authorization: Bearer <session token>.",
    max_body_bytes=settings.max_body_bytes,
    extra_middleware=[WidgetCors],
)

wiring = service.Wiring.of(settings)
limits = service.WidgetLimits(
    ephemeral_table=settings.ephemeral_table,
    window_seconds=settings.rate_privacy_window_seconds,
    visitor_writes=settings.rate_privacy_visitor_writes,
    ip_writes=settings.rate_privacy_ip_writes,
    email_sends=settings.rate_privacy_email_sends,
)

RequestId = Annotated[str, Path(max_length=64)]
REDIRECT = {302: {"description": "Redirect to a short-lived presigned URL of the zip"}}


def visitor_caller(
    request: Request, widget_key: WidgetKey = None, authorization: Authorization = None
) -> WidgetCaller:
    return widget_caller(settings, request, widget_key, authorization, need_session=True)


Visitor = Annotated[WidgetCaller, Depends(visitor_caller)]


@app.post(
    "/v1/widget/privacy-requests",
    status_code=201,
    response_model=PrivacyRequestOut,
    responses={
        **ERROR_RESPONSES,
        **CONFLICT_RESPONSE,
        200: {"model": PrivacyRequestOut, "description": "Replay of the same client_request_id"},
    },
)
def create_request(response: Response, caller: Visitor, body: WidgetRequestIn) -> PrivacyRequestOut:
    """Without `email`: about this session's data, queued at once. With `email`: about
    everything linked to that address; a 6-digit code is emailed there (valid 10 minutes,
    5 guesses) and the request waits for POST …/verify; an erasure then also waits for an
    admin's approval."""
    out, created = service.widget_create(
        wiring, limits, settings.privacy_email_from, caller, body, clock.now()
    )
    response.status_code = 201 if created else 200
    return out


@app.get(
    "/v1/widget/privacy-requests/{request_id}",
    response_model=PrivacyRequestOut,
    responses=ERROR_RESPONSES,
)
def get_request(caller: Visitor, request_id: RequestId) -> PrivacyRequestOut:
    """The request's status (and, while it waits for a code, when the code expires)."""
    return service.widget_get(wiring, caller, request_id)


@app.post(
    "/v1/widget/privacy-requests/{request_id}/verify",
    response_model=PrivacyRequestOut,
    responses={**ERROR_RESPONSES, **CONFLICT_RESPONSE},
)
def verify_request(caller: Visitor, request_id: RequestId, body: VerifyIn) -> PrivacyRequestOut:
    """Enter the emailed code. A wrong code is a 422 with the attempts left; an expired or
    used-up code is a 409 (the request lapses when no new code can be sent)."""
    return service.widget_verify(wiring, limits, caller, request_id, body.code, clock.now())


@app.post(
    "/v1/widget/privacy-requests/{request_id}/resend",
    response_model=PrivacyRequestOut,
    responses={**ERROR_RESPONSES, **CONFLICT_RESPONSE},
)
def resend_code(caller: Visitor, request_id: RequestId) -> PrivacyRequestOut:
    """Email a new code (at most 3 per request, 60 s apart); the previous one stops working."""
    return service.widget_resend(
        wiring, limits, settings.privacy_email_from, caller, request_id, clock.now()
    )


@app.get(
    "/v1/widget/privacy-requests/{request_id}/download",
    response_class=RedirectResponse,
    status_code=302,
    responses={**ERROR_RESPONSES, **CONFLICT_RESPONSE, **REDIRECT},
)
def download_export(caller: Visitor, request_id: RequestId) -> RedirectResponse:
    """The export package: a redirect to a presigned URL valid for a few minutes."""
    url = service.widget_download(wiring, caller, request_id)
    return RedirectResponse(url, status_code=302, headers={"Cache-Control": "no-store"})


lambda_handler = lambda_handler_for(app)
