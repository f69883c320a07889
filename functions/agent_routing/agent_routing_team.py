"""Team routes of the agent_routing function: departments, agents and presence, labels,
canned responses (API.md, "Dashboard API"). Minimum roles live in
yoosr.dashboard.access.ROUTE_ROLES, keyed by these exact path templates.

Routes are glue: parse, one call into yoosr.team.service, return the response model.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query, Response

from yoosr.dashboard.access import DashboardCaller
from yoosr.dashboard.http import caller_dependency
from yoosr.http import CONFLICT_RESPONSE, ERROR_RESPONSES
from yoosr.models.common import Page
from yoosr.models.team import (
    AgentOut,
    AgentUpdate,
    CannedCreate,
    CannedOut,
    CannedUpdate,
    DepartmentCreate,
    DepartmentOut,
    DepartmentUpdate,
    LabelCreate,
    LabelOut,
    LabelUpdate,
    StatusIn,
)
from yoosr.settings import AgentRoutingSettings, get_settings
from yoosr.team import service


def settings() -> AgentRoutingSettings:
    return get_settings(AgentRoutingSettings)


router = APIRouter(responses=ERROR_RESPONSES)
Caller = Annotated[DashboardCaller, Depends(caller_dependency(settings))]
Limit = Annotated[int, Query(ge=1, le=200, description="Page size (default 50, max 200).")]
Cursor = Annotated[str | None, Query(max_length=1024, description="next_cursor of a page.")]

# ---------------------------------------------------------------- departments


@router.get("/v1/departments", response_model=Page[DepartmentOut], tags=["departments"])
def list_departments(
    caller: Caller, limit: Limit = 50, cursor: Cursor = None
) -> Page[DepartmentOut]:
    """Departments, oldest first."""
    return service.list_departments(settings(), caller, limit, cursor)


@router.post(
    "/v1/departments",
    status_code=201,
    response_model=DepartmentOut,
    tags=["departments"],
    responses=CONFLICT_RESPONSE,
)
def create_department(caller: Caller, body: DepartmentCreate) -> DepartmentOut:
    return service.create_department(settings(), caller, body)


@router.get("/v1/departments/{department_id}", response_model=DepartmentOut, tags=["departments"])
def get_department(caller: Caller, department_id: str) -> DepartmentOut:
    return service.get_department(settings(), caller, department_id)


@router.patch(
    "/v1/departments/{department_id}",
    response_model=DepartmentOut,
    tags=["departments"],
    responses=CONFLICT_RESPONSE,
)
def update_department(caller: Caller, department_id: str, body: DepartmentUpdate) -> DepartmentOut:
    """Only the fields given change; null removes an override."""
    return service.update_department(settings(), caller, department_id, body)


@router.delete(
    "/v1/departments/{department_id}",
    status_code=204,
    response_class=Response,
    responses={409: {"description": "Agents still belong to the department"}},
    tags=["departments"],
)
def delete_department(caller: Caller, department_id: str) -> Response:
    """Refused (409 department_in_use) while any agent belongs to it: move them first."""
    service.delete_department(settings(), caller, department_id)
    return Response(status_code=204)


# ---------------------------------------------------------------- agents


@router.get("/v1/agents", response_model=Page[AgentOut], tags=["agents"])
def list_agents(caller: Caller, limit: Limit = 50, cursor: Cursor = None) -> Page[AgentOut]:
    """Agents with effective presence (an expired heartbeat reads as offline) and load."""
    return service.list_agents(settings(), caller, limit, cursor)


@router.put("/v1/agents/me/status", response_model=AgentOut, tags=["agents"])
def set_my_status(caller: Caller, body: StatusIn) -> AgentOut:
    """Set your presence. Also the heartbeat: re-send it about every 30 s."""
    return service.set_status(settings(), caller, body)


@router.patch(
    "/v1/agents/{user_id}", response_model=AgentOut, tags=["agents"], responses=CONFLICT_RESPONSE
)
def update_agent(caller: Caller, user_id: str, body: AgentUpdate) -> AgentOut:
    """Departments (the full list; each must exist) and capacity (0..50)."""
    return service.update_agent(settings(), caller, user_id, body)


# ---------------------------------------------------------------- labels


@router.get("/v1/labels", response_model=Page[LabelOut], tags=["labels"])
def list_labels(caller: Caller, limit: Limit = 50, cursor: Cursor = None) -> Page[LabelOut]:
    return service.list_labels(settings(), caller, limit, cursor)


@router.post(
    "/v1/labels",
    status_code=201,
    response_model=LabelOut,
    tags=["labels"],
    responses=CONFLICT_RESPONSE,
)
def create_label(caller: Caller, body: LabelCreate) -> LabelOut:
    """409 label_name_taken when another label has the name, ignoring case."""
    return service.create_label(settings(), caller, body)


@router.get("/v1/labels/{label_id}", response_model=LabelOut, tags=["labels"])
def get_label(caller: Caller, label_id: str) -> LabelOut:
    return service.get_label(settings(), caller, label_id)


@router.patch(
    "/v1/labels/{label_id}", response_model=LabelOut, tags=["labels"], responses=CONFLICT_RESPONSE
)
def update_label(caller: Caller, label_id: str, body: LabelUpdate) -> LabelOut:
    return service.update_label(settings(), caller, label_id, body)


@router.delete(
    "/v1/labels/{label_id}",
    status_code=204,
    response_class=Response,
    tags=["labels"],
    responses=CONFLICT_RESPONSE,
)
def delete_label(caller: Caller, label_id: str) -> Response:
    service.delete_label(settings(), caller, label_id)
    return Response(status_code=204)


# ---------------------------------------------------------------- canned responses


@router.get("/v1/canned-responses", response_model=Page[CannedOut], tags=["canned responses"])
def list_canned(
    caller: Caller,
    limit: Limit = 50,
    cursor: Cursor = None,
    shortcut: Annotated[
        str | None,
        Query(
            max_length=64,
            pattern=r"^/?[A-Za-z0-9][A-Za-z0-9_-]{0,31}$",
            description="Exact shortcut (`refund` or `/refund`): zero or one item.",
        ),
    ] = None,
    q: Annotated[
        str | None,
        Query(
            max_length=32,
            pattern=r"^/?[A-Za-z0-9_-]{0,32}$",
            description="Shortcut prefix: matches in shortcut order.",
        ),
    ] = None,
) -> Page[CannedOut]:
    return service.list_canned(settings(), caller, limit, cursor, shortcut=shortcut, prefix=q)


@router.post(
    "/v1/canned-responses",
    status_code=201,
    response_model=CannedOut,
    tags=["canned responses"],
    responses=CONFLICT_RESPONSE,
)
def create_canned(caller: Caller, body: CannedCreate) -> CannedOut:
    """409 shortcut_taken when another canned response has the shortcut."""
    return service.create_canned(settings(), caller, body)


@router.get("/v1/canned-responses/{canned_id}", response_model=CannedOut, tags=["canned responses"])
def get_canned(caller: Caller, canned_id: str) -> CannedOut:
    return service.get_canned(settings(), caller, canned_id)


@router.patch(
    "/v1/canned-responses/{canned_id}",
    response_model=CannedOut,
    tags=["canned responses"],
    responses=CONFLICT_RESPONSE,
)
def update_canned(caller: Caller, canned_id: str, body: CannedUpdate) -> CannedOut:
    """A new shortcut moves its reservation atomically (409 shortcut_taken if in use)."""
    return service.update_canned(settings(), caller, canned_id, body)


@router.delete(
    "/v1/canned-responses/{canned_id}",
    status_code=204,
    response_class=Response,
    tags=["canned responses"],
    responses=CONFLICT_RESPONSE,
)
def delete_canned(caller: Caller, canned_id: str) -> Response:
    service.delete_canned(settings(), caller, canned_id)
    return Response(status_code=204)
