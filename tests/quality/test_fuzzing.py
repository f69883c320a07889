"""Suite 3 of issue 8: schemathesis against every HTTP function's OpenAPI schema, per persona.

What runs: for each of the seven HTTP functions (docs/openapi/<function>.json, the committed
documents `make openapi` writes), schemathesis 4.x generates positive and negative cases for
every operation and sends them, in process, to the function's real `lambda_handler` through
`fuzz_support.ApiGatewayShim`: a WSGI app that builds the API Gateway HTTP API payload 2.0
event, so Mangum, the middleware and the app run exactly as in Lambda. That choice over
`from_asgi` on the FastAPI app: API Gateway + Mangum decide path, query, source IP, base64
bodies and response headers in production, and they stay in the loop; fuzz_support says why
WSGI. Resources are created from template.yaml on moto (an already running moto of another
suite is reused, never reset) and each function gets its template environment; dashboard
functions trust the shared development Clerk issuer, as in the integration suites.

Personas: dashboard functions run as the admin and as the agent (a Clerk `member`) of one
seeded workspace (a widget visitor has opened conversations in it), and as anonymous; widget
functions run as a visitor with a valid widget key and session, and as anonymous. Ids the
run creates or lists (and the seeded conversations) are fed back into half of the later path
parameters, so the fuzzer reaches existing objects, not only 404s. Operations run creations
and listings first, deletions last, scheduling the workspace's deletion at the very end.

Checks, each counted per persona (bound 0): not_a_server_error, response_schema_conformance,
status_code_conformance (an undocumented status is a response not matching the documented
schema; it found the undocumented 409s fixed with this suite), content_type_conformance,
negative_data_rejection and ignored_auth, plus `anonymous_refused` for the anonymous persona
(no 2xx/3xx without credentials). Two settings, both narrow and reasoned:
- The committed documents read credentials as optional header parameters and declare no
  security, so the suite declares them as security schemes (fuzz_support.with_security);
  only then does ignored_auth know them. With a persona's valid credentials it re-sends the
  operation without and with invalid credentials (expects 401/403), once per operation and
  persona (as schemathesis' own runner does).
- 413 counts as rejecting invalid data (fuzz_support.load_schema): every operation documents
  it, and a string far over its maxLength is refused by the body size guard first.
No check is excluded for any operation (`EXCLUDED` is where one would be written down).

`test_a_broken_build_fails_its_check` shows the suite can fail: the workspace function with one
deliberate defect per check (a 500, a body breaking its schema, an undocumented status,
text/plain, invalid input accepted, credentials not needed) makes that check count failures.

Short variant (`make test`): 2 positive + 2 negative cases per operation for admin and visitor,
1 + 1 for the agent, 1 positive for anonymous; a fixed hypothesis seed, so CI sends the same
cases every run (68 s measured alone, ~120 s on a heavily loaded machine, broken-build checks
included). Long variant (`make verify`): 50 + 50 per operation for admin, agent and visitor
(≥ 100, bounded), 10 + 10 for anonymous (about 10 minutes).
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pytest
from moto import mock_aws

from tests.integration.dashboard_support import DASHBOARD_ORIGIN, dev_issuer
from tests.integration.widget_support import ORIGIN
from tests.quality import figures
from tests.quality.fuzz_support import (
    DASHBOARD_FUNCTIONS,
    SABOTAGES,
    WIDGET_FUNCTIONS,
    ApiGatewayShim,
    Persona,
    Stack,
    Tally,
    check_functions,
    generate_cases,
    load_configured,
    load_schema,
    make_stack,
    provisioned_org,
    route_templates,
    run_operations,
    sabotaged,
    start_visitor,
)
from tests.support import HttpHandlerClient

SUITE = "fuzzing"
# Cases generated per operation and mode; each persona sends (positive, negative) of them: the
# long run ≥ 100 per operation, the short one keeps the whole suite within its CI budget.
EXAMPLES = 50 if figures.LONG else 2
LIMITS = {
    "admin": (EXAMPLES, EXAMPLES),
    "visitor": (EXAMPLES, EXAMPLES),
    "agent": (EXAMPLES, EXAMPLES) if figures.LONG else (1, 1),
    # Without credentials every request is refused first; a few cases show it per operation.
    "anonymous": (10, 10) if figures.LONG else (1, 0),
}
BOUNDED_PERSONAS = ("admin", "agent", "visitor")  # ≥ 100 cases per operation in the long run
CHECKS = check_functions()
CHECK_NAMES = [*CHECKS, "anonymous_refused"]

# Narrow, reasoned exclusions: (check, operation label) → why the check does not apply.
EXCLUDED: dict[tuple[str, str], str] = {}

_totals: dict[str, Tally] = {}
_operations: set[str] = set()
_elapsed: list[float] = []  # seconds generating and sending, for the record


@pytest.fixture(scope="module")
def fuzz_stack() -> Iterator[Stack]:
    # Nested inside another suite's moto it is safe: only the outermost mock_aws resets.
    with mock_aws():
        yield make_stack()


def anonymous_refused(case: Any, response: Any) -> str | None:
    """Without valid credentials nothing is served: every answer is a 4xx."""
    if response.status_code < 400:
        return f"{case.method} {case.formatted_path} answered {response.status_code} anonymously"
    return None


ANONYMOUS_CHECKS = {"anonymous_refused": anonymous_refused}


def _excluded(check: str, label: str, case: Any) -> bool:
    return (check, label) in EXCLUDED


def _record(persona: str) -> None:
    tally = _totals[persona]
    figures.record(SUITE, "operations", len(_operations))
    figures.record(SUITE, "seconds generating and sending", round(sum(_elapsed), 1))
    figures.record(SUITE, f"cases ({persona})", tally.cases)
    if tally.per_operation:
        least = min(tally.per_operation.values())
        bounded = figures.LONG and persona in BOUNDED_PERSONAS
        figures.record(
            SUITE,
            f"least cases per operation ({persona})",
            least,
            bound="≥ 100" if bounded else "",
            ok=(least >= 100) if bounded else None,
        )
    for name in CHECK_NAMES:
        if name == "anonymous_refused" and persona != "anonymous":
            continue
        failures = tally.failures.get(name, 0)
        figures.record(SUITE, f"{name} failures ({persona})", failures, bound="0", ok=failures == 0)


def _fuzz(stack: Stack, folder: str, personas: list[Persona]) -> None:
    module = load_configured(stack, folder)
    shim = ApiGatewayShim(module.lambda_handler, route_templates(stack, folder))
    schema = load_schema(folder, shim)
    started = time.perf_counter()
    operations = [
        (op, generate_cases(op, EXAMPLES))
        for op in (result.ok() for result in schema.get_all_operations())
    ]
    timings = [f"{folder}: generated in {time.perf_counter() - started:.1f}s"]
    problems: list[str] = []
    _elapsed.append(time.perf_counter() - started)
    for persona in personas:
        tally = Tally()
        started = time.perf_counter()
        run_operations(
            operations,
            persona,
            CHECKS,
            LIMITS[persona.name],
            tally,
            extra_checks=None if persona.authenticated else ANONYMOUS_CHECKS,
            excluded=_excluded,
        )
        total = _totals.setdefault(persona.name, Tally())
        total.cases += tally.cases
        for label, n in tally.per_operation.items():
            _operations.add(f"{folder}: {label}")
            total.per_operation[f"{folder}: {label}"] = n
        for name, n in tally.failures.items():
            total.failures[name] = total.failures.get(name, 0) + n
        _elapsed.append(time.perf_counter() - started)
        _record(persona.name)
        timings.append(
            f"{persona.name}: {tally.cases} cases in {time.perf_counter() - started:.1f}s, "
            f"statuses {dict(sorted(tally.statuses.items()))}"
        )
        problems += [f"{folder} as {persona.name}: {e}" for e in tally.examples]
        assert tally.cases > 0
    print("\n".join(timings))
    assert not problems, "\n\n".join(problems)


@pytest.mark.parametrize("folder", DASHBOARD_FUNCTIONS)
def test_dashboard_function_fuzz(fuzz_stack: Stack, folder: str) -> None:
    widget = HttpHandlerClient(load_configured(fuzz_stack, "widget_ingest").lambda_handler)
    org_id, _, key = provisioned_org(fuzz_stack)
    _, conversations = start_visitor(widget, key)
    issuer = dev_issuer()
    origin = {"Origin": DASHBOARD_ORIGIN}
    pool = ("/v1/conversations", "conversation_id")
    admin = issuer.mint(org_id, f"user_admin{org_id[-12:]}", "admin")
    agent = issuer.mint(org_id, f"user_agent{org_id[-12:]}", "member")
    _fuzz(
        fuzz_stack,
        folder,
        [
            Persona(
                "admin",
                {"Authorization": f"Bearer {admin}", **origin},
                True,
                {pool: [*conversations]},
            ),
            Persona(
                "agent",
                {"Authorization": f"Bearer {agent}", **origin},
                True,
                {pool: [*conversations]},
            ),
            Persona("anonymous", dict(origin), False, {pool: [*conversations]}),
        ],
    )


@pytest.mark.parametrize("folder", WIDGET_FUNCTIONS)
def test_widget_function_fuzz(fuzz_stack: Stack, folder: str) -> None:
    widget = HttpHandlerClient(load_configured(fuzz_stack, "widget_ingest").lambda_handler)
    _, _, key = provisioned_org(fuzz_stack)
    token, conversations = start_visitor(widget, key)
    pool = ("/v1/widget/conversations", "conversation_id")
    visitor = {"X-Yoosr-Widget-Key": key, "Authorization": f"Bearer {token}", "Origin": ORIGIN}
    _fuzz(
        fuzz_stack,
        folder,
        [
            Persona("visitor", visitor, True, {pool: [*conversations]}),
            Persona("anonymous", {"Origin": ORIGIN}, False, {pool: [*conversations]}),
        ],
    )


SABOTAGE_EXAMPLES = 5
SABOTAGE_CATCHES = {
    "server_error": "not_a_server_error",
    "schema": "response_schema_conformance",
    "undocumented_status": "status_code_conformance",
    "content_type": "content_type_conformance",
    "negative_accepted": "negative_data_rejection",
    "auth_ignored": "ignored_auth",
}


@pytest.fixture(scope="module")
def sabotage_bench(fuzz_stack: Stack) -> dict[str, Any]:
    """One workspace function behind one shim and its PATCH /v1/workspace cases, generated
    once; each sabotage swaps the shim's handler."""
    org_id, _, _ = provisioned_org(fuzz_stack)
    token = dev_issuer().mint(org_id, f"user_admin{org_id[-12:]}", "admin")
    module = load_configured(fuzz_stack, "workspace")
    shim = ApiGatewayShim(module.lambda_handler, route_templates(fuzz_stack, "workspace"))
    schema = load_schema("workspace", shim)
    operation = schema["/v1/workspace"]["PATCH"]
    return {
        "token": token,
        "handler": module.lambda_handler,
        "shim": shim,
        "operations": [(operation, generate_cases(operation, SABOTAGE_EXAMPLES))],
    }


@pytest.mark.parametrize("mode", SABOTAGES)
def test_a_broken_build_fails_its_check(sabotage_bench: dict[str, Any], mode: str) -> None:
    """The suite can fail: the workspace function with one deliberate defect (fuzz_support.
    sabotaged) is fuzzed like the real one, and the check meant for that defect counts it."""
    token = sabotage_bench["token"]
    sabotage_bench["shim"].handler = sabotaged(sabotage_bench["handler"], mode, token)
    headers = {"Origin": DASHBOARD_ORIGIN}
    if mode != "auth_ignored":
        headers["Authorization"] = f"Bearer {token}"
    persona = Persona("sabotage", headers, mode != "auth_ignored")
    tally = Tally()
    extra = ANONYMOUS_CHECKS if mode == "auth_ignored" else None
    operations = sabotage_bench["operations"]
    limit = (SABOTAGE_EXAMPLES, SABOTAGE_EXAMPLES)
    run_operations(operations, persona, CHECKS, limit, tally, extra_checks=extra)
    expected = SABOTAGE_CATCHES[mode]
    assert tally.failures.get(expected, 0) > 0, (mode, tally.failures, tally.statuses)
