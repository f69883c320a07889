"""Suite 1 (issue 8): the isolation matrix.

Every route template.yaml declares (tests.quality.routes: derived, not hand-listed) × every
persona {anonymous, visitor A, visitor B of the same workspace, agent, admin, admin of another
workspace} × object ids {own, the other workspace's, random; for visitors also the other
visitor's}. Each cell is called in-process and its status compared with the expected table:

    anonymous → 401 · visitor on a dashboard route → 401 · dashboard persona on a widget
    route → 401 · agent on an admin route → 403 · another workspace's, another visitor's or a
    random id → 404 · own id (or a route naming no object) → 2xx, or the one 4xx a route
    documents for the state the suite can reach (OWN_DOCUMENTED)

Every object of either workspace holds its canary; a response to a caller of one workspace
holding the other's canary is a leak. State-changing calls on own ids act on throwaway objects
made for that cell, so the cells run in any order (they are shuffled); the shared objects must
come out of the matrix unchanged.
"""

from __future__ import annotations

import dataclasses
import os
import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3

from tests.quality import figures
from tests.quality.personas import (  # noqa: F401 - quality_world is a fixture
    BODY_BUILDERS,
    Persona,
    Tenant,
    World,
    awaiting_approval,
    awaiting_code,
    body_for,
    build_event,
    flow_body,
    frozen_clock,
    invoke,
    knowledge_body,
    last_code,
    personas,
    quality_world,
    random_like,
    unique,
)
from tests.quality.routes import RouteCase, all_routes, mapped, samples, unmapped

SUITE = "isolation"
RANDOM_IDS = 5 if figures.LONG else 1
SEED = int(os.environ.get("YOOSR_QUALITY_SEED", time.time_ns() % 1_000_000))

NOT_FOUND = frozenset({404})

# Own-object answers other than 2xx that a route documents for the state this suite can reach
# without running the privacy worker (a package exists only after the job ran; only a failed
# request can be retried). Anything else on an own id must be a 2xx.
OWN_DOCUMENTED: dict[tuple[str, str], frozenset[int]] = {
    ("GET", "/v1/privacy/requests/{request_id}/download"): frozenset({409}),  # package_not_ready
    ("GET", "/v1/widget/privacy-requests/{request_id}/download"): frozenset({409}),
    ("POST", "/v1/privacy/requests/{request_id}/retry"): frozenset({409}),  # only failed ones
}


# ---------------------------------------------------------------- bodies


@dataclass
class Cell:
    case: RouteCase
    persona: Persona
    ids: str  # none | own | sibling | other | random

    @property
    def label(self) -> str:
        return f"{self.case.route_key} · {self.persona.name} · {self.ids}"


@dataclass
class Prepared:
    """What a cell calls with: path parameters, body, and what to undo afterwards."""

    params: dict[str, str] = field(default_factory=dict)
    body: Any = None
    cleanup: Callable[[], None] | None = None


def _own_object(cell: Cell, kind: str, tenant: Tenant) -> str:
    """The shared object of `kind` in `tenant` that the cell's persona would name: on a widget
    route its own visitor's (A's for personas that are no visitor), else the workspace's."""
    if cell.case.surface == "widget":
        return tenant.visitors[cell.persona.visitor_name or "a"].objects[kind]
    return tenant.objects[kind]


# ---------------------------------------------------------------- state a route needs


def _resolved_conversation(tenant: Tenant, _: Persona) -> Prepared:
    conversation = tenant.fresh("conversation", None)
    path = "/v1/conversations/{conversation_id}/resolve"
    tenant.admin("POST", path, 200, params={"conversation_id": conversation})
    return Prepared({"conversation_id": conversation})


def _awaiting_approval(tenant: Tenant, _: Persona) -> Prepared:
    return Prepared({"request_id": awaiting_approval(tenant)})


def _awaiting_code(tenant: Tenant, persona: Persona, with_code: bool) -> Prepared:
    assert persona.visitor is not None
    if with_code:
        request_id, email = awaiting_code(tenant, persona.visitor)
        return Prepared({"request_id": request_id}, {"code": last_code(email)})
    # Codes go out at least 60 s apart: the first one was sent two minutes ago.
    with frozen_clock(datetime.now(UTC) - timedelta(minutes=2)):
        request_id, _ = awaiting_code(tenant, persona.visitor)
    return Prepared({"request_id": request_id})


def _scheduled_deletion(tenant: Tenant, _: Persona) -> Prepared:
    tenant.admin("POST", "/v1/workspace/deletion", 202)
    return Prepared()


def _then_cancel_deletion(tenant: Tenant, _: Persona) -> Prepared:
    return Prepared(cleanup=lambda: tenant.admin("DELETE", "/v1/workspace/deletion", 200))


# Own cells of these routes start from the state the route acts on (otherwise: a fresh object
# of the route's kind for a state-changing route, the shared one for a read).
PREPARE: dict[tuple[str, str], Callable[[Tenant, Persona], Prepared]] = {
    ("POST", "/v1/conversations/{conversation_id}/reopen"): _resolved_conversation,
    ("POST", "/v1/privacy/requests/{request_id}/approve"): _awaiting_approval,
    ("POST", "/v1/privacy/requests/{request_id}/deny"): _awaiting_approval,
    ("POST", "/v1/widget/privacy-requests/{request_id}/verify"): lambda t, p: _awaiting_code(
        t, p, with_code=True
    ),
    ("POST", "/v1/widget/privacy-requests/{request_id}/resend"): lambda t, p: _awaiting_code(
        t, p, with_code=False
    ),
    ("DELETE", "/v1/workspace/deletion"): _scheduled_deletion,
    ("POST", "/v1/workspace/deletion"): _then_cancel_deletion,
}


# ---------------------------------------------------------------- expected table


def refused(case: RouteCase, persona: Persona) -> int | None:
    """The status a persona gets on a route whatever the id, if it may not call it at all."""
    if case.surface == "dashboard":
        if persona.kind in ("anonymous", "visitor"):
            return 401
        if persona.kind == "agent" and case.role == "admin":
            return 403
        return None
    return None if persona.kind == "visitor" else 401


def expected(cell: Cell) -> frozenset[int] | None:
    """The allowed statuses; None means any 2xx (or the route's documented own answer)."""
    status = refused(cell.case, cell.persona)
    if status is not None:
        return frozenset({status})
    if cell.ids in ("other", "random", "sibling"):
        return NOT_FOUND
    return None


def matches(cell: Cell, status: int) -> bool:
    allowed = expected(cell)
    if allowed is not None:
        return status in allowed
    return 200 <= status < 300 or status in OWN_DOCUMENTED.get(cell.case.key, frozenset())


def prepare(cell: Cell, world: World) -> Prepared:
    tenant = cell.persona.tenant
    allowed = refused(cell.case, cell.persona) is None
    if cell.ids in ("own", "none") and allowed and cell.case.key in PREPARE:
        prepared = PREPARE[cell.case.key](tenant, cell.persona)
    else:
        prepared = Prepared()
    for name, kind in zip(cell.case.params, cell.case.kinds, strict=True):
        if name in prepared.params:
            continue
        own = _own_object(cell, kind, tenant)
        if cell.ids == "own":
            if cell.case.mutating and allowed:  # a throwaway object: the shared one stays
                visitor = cell.persona.visitor if cell.case.surface == "widget" else None
                own = tenant.fresh(kind, visitor)
            prepared.params[name] = own
        elif cell.ids == "sibling":
            assert cell.persona.sibling is not None
            prepared.params[name] = cell.persona.sibling.objects[kind]
        elif cell.ids == "other":
            prepared.params[name] = _own_object(cell, kind, world.other(tenant))
        else:
            prepared.params[name] = random_like(own)
    if prepared.body is None:
        prepared.body = body_for(cell.case, tenant, prepared.params)
    return prepared


def cells_of(world: World, cases: list[RouteCase]) -> list[Cell]:
    cells = []
    for case in cases:
        for persona in personas(world):
            if not case.params:
                cells.append(Cell(case, persona, "none"))
                continue
            kinds = ["own", "other"] + ["random"] * RANDOM_IDS
            if case.surface == "widget" and persona.kind == "visitor":
                kinds.append("sibling")
            cells.extend(Cell(case, persona, kind) for kind in kinds)
    return cells


# ---------------------------------------------------------------- shared objects stay as they were

TABLES = ("WorkspacesTable", "ConversationsTable", "VisitorsTable", "PrivacyRequestsTable")


def shared_ids(world: World) -> list[str]:
    found = []
    for tenant in (world.home, world.away):
        found.extend(tenant.objects.values())
        for visitor in tenant.visitors.values():
            found.extend(visitor.objects.values())
    return found


def snapshot(world: World) -> dict[tuple[str, str, str], dict[str, Any]]:
    """Every stored item whose key names a shared object (tests may scan)."""
    names = shared_ids(world)
    client = boto3.client("dynamodb")
    items: dict[tuple[str, str, str], dict[str, Any]] = {}
    for logical_id in TABLES:
        table = world.stack.table(logical_id)
        for page in client.get_paginator("scan").paginate(TableName=table):
            for item in page["Items"]:
                pk, sk = item["pk"].get("S", ""), item["sk"].get("S", "")
                if "#QUEUE#" in pk:  # a department's queue: other (fresh) conversations join it
                    continue
                if any(name in pk or name in sk for name in names):
                    items[(logical_id, pk, sk)] = item
    return items


# ---------------------------------------------------------------- tests


def test_every_template_route_is_mapped_by_the_matrix() -> None:
    """A route the matrix cannot call fails here: new routes are covered or fail loudly."""
    problems = unmapped(set(BODY_BUILDERS))
    assert not problems, "routes the isolation matrix cannot map:\n" + "\n".join(
        f"  {route}: {why}" for route, why in sorted(problems.items())
    )
    from yoosr.dashboard.access import ROUTE_ROLES

    dashboard = {c.key for c in all_routes() if c.surface == "dashboard"}
    assert dashboard == set(ROUTE_ROLES), (
        "ROUTE_ROLES and template.yaml differ: "
        f"not in template {sorted(set(ROUTE_ROLES) - dashboard)}, "
        f"not in ROUTE_ROLES {sorted(dashboard - set(ROUTE_ROLES))}"
    )
    assert len(all_routes()) >= 70


def test_a_route_the_matrix_cannot_map_is_reported() -> None:
    """The guard above can fail: routes of unknown shape are named, with the reason."""
    real = next(c for c in all_routes() if c.key == ("GET", "/v1/departments/{department_id}"))
    cases = (
        real,
        dataclasses.replace(real, path="/v1/things/{thing_id}", params=("thing_id",)),
        dataclasses.replace(real, path="/v1/departments/{department_id}/x", role=None),
        dataclasses.replace(real, method="POST", path="/v1/departments/{department_id}/y"),
        dataclasses.replace(
            real, path="/v1/widget/x/{label_id}", surface="widget", role=None, params=("label_id",)
        ),
    )
    problems = unmapped(set(BODY_BUILDERS), cases)
    assert real.route_key not in problems
    assert set(problems) == {c.route_key for c in cases[1:]}, problems


def test_isolation_matrix(quality_world: World) -> None:  # noqa: F811 - the fixture
    world = quality_world
    cases = mapped(set(BODY_BUILDERS))
    cells = cells_of(world, cases)
    random.Random(SEED).shuffle(cells)
    before = snapshot(world)
    assert len(before) >= len(shared_ids(world)), "snapshot misses shared objects"

    mismatches: list[str] = []
    leaks: list[str] = []
    server_errors: list[str] = []
    leaked_bytes = own_canary_bytes = 0
    for cell in cells:
        prepared = prepare(cell, world)
        _, query = samples().get(cell.case.route_key, (None, {}))
        event = build_event(
            cell.case.method,
            cell.case.path,
            params=prepared.params,
            headers=cell.persona.headers(cell.case.surface),
            body=prepared.body,
            query=query,
        )
        response = invoke(world.stack.handlers[cell.case.folder], event)
        if 200 <= response.status < 300 and prepared.cleanup is not None:
            prepared.cleanup()
        body = response.body
        other = world.other(cell.persona.tenant)
        if other.canary in body:
            leaked_bytes += body.count(other.canary) * len(other.canary.encode())
            leaks.append(f"{cell.label} → {response.status} {body[:200]}")
        own_canary_bytes += body.count(cell.persona.tenant.canary) * len(
            cell.persona.tenant.canary.encode()
        )
        if response.status >= 500:
            server_errors.append(f"{cell.label} → {response.status} {body[:200]}")
        if not matches(cell, response.status):
            want = expected(cell) or "2xx"
            mismatches.append(f"{cell.label} → {response.status} (expected {want}) {body[:160]}")

    after = snapshot(world)
    changed = sorted(
        f"{table} {pk} {sk}"
        for (table, pk, sk) in set(before) | set(after)
        if before.get((table, pk, sk)) != after.get((table, pk, sk))
    )

    note = f"seed {SEED}; {RANDOM_IDS} random id(s) per cell"
    figures.record(SUITE, "routes in template.yaml", len(all_routes()))
    figures.record(
        SUITE,
        "routes covered",
        len(cases),
        bound=f"{len(all_routes())}",
        ok=len(cases) == len(all_routes()),
    )
    figures.record(SUITE, "personas", len(personas(world)))
    figures.record(SUITE, "cells tried", len(cells), note=note)
    figures.record(
        SUITE,
        "cells differing from the expected table",
        len(mismatches),
        bound="0",
        ok=not mismatches,
    )
    figures.record(
        SUITE, "canary bytes from the other workspace", leaked_bytes, bound="0", ok=not leaks
    )
    figures.record(SUITE, "5xx responses", len(server_errors), bound="0", ok=not server_errors)
    figures.record(
        SUITE, "shared objects changed by the matrix", len(changed), bound="0", ok=not changed
    )
    figures.record(
        SUITE,
        "own canary bytes seen (self-check)",
        own_canary_bytes,
        bound="> 0",
        ok=own_canary_bytes > 0,
    )

    assert not server_errors, "5xx:\n" + "\n".join(server_errors[:30])
    assert not leaks, "other workspace's canary in responses:\n" + "\n".join(leaks[:30])
    assert not mismatches, f"{len(mismatches)} cells differ (seed {SEED}):\n" + "\n".join(
        sorted(mismatches)[:60]
    )
    assert not changed, "shared objects changed:\n" + "\n".join(changed[:30])
    assert own_canary_bytes > 0, "no own canary seen: the canaries are not where the data is"
    assert len(cases) == len(all_routes())
