"""The committed OpenAPI schemas match the code (`make openapi` regenerates them)."""

from __future__ import annotations

import json

import pytest

from scripts.export_openapi import HTTP_FUNCTIONS, ROOT, render


@pytest.mark.parametrize("function", HTTP_FUNCTIONS)
def test_committed_schema_is_current(function: str) -> None:
    committed = (ROOT / "docs" / "openapi" / f"{function}.json").read_text()
    assert committed == render(function), "run `make openapi` and commit the result"


def test_every_widget_route_in_the_template_is_documented() -> None:
    from local.template import load_template

    template = load_template(ROOT / "template.yaml")
    documented = json.loads(render("widget_ingest"))["paths"]
    for route in template.routes:
        if route.function == "WidgetIngestFunction" and route.method != "OPTIONS":
            assert route.method.lower() in documented[route.path], route


def test_every_app_route_is_declared_in_the_template() -> None:
    """API Gateway only forwards declared routes: an app route missing from the template
    would be unreachable in AWS."""
    from local.template import load_template

    template = load_template(ROOT / "template.yaml")
    declared = {(r.method, r.path) for r in template.routes if r.function == "WidgetIngestFunction"}
    documented = json.loads(render("widget_ingest"))["paths"]
    for path, operations in documented.items():
        for method in operations:
            assert (method.upper(), path) in declared, (method, path)
            assert ("OPTIONS", path) in declared, f"no preflight route for {path}"
