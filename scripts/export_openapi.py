"""Write each HTTP function's OpenAPI schema to docs/openapi/<function>.json.

`make openapi` runs it; a test fails when a committed schema drifts from the code.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
HTTP_FUNCTIONS = (
    "widget_ingest",
    "workspace",
    "agent_routing",
    "bot_reply",
    "analytics",
    "privacy",
    "privacy_widget",
)
# Settings need resource names; the schema does not depend on their values.
PLACEHOLDER_ENV = {
    "YOOSR_WORKSPACES_TABLE": "schema",
    "YOOSR_CONVERSATIONS_TABLE": "schema",
    "YOOSR_VISITORS_TABLE": "schema",
    "YOOSR_EPHEMERAL_TABLE": "schema",
    "YOOSR_SUBJECT_HASH_KEY_SECRET": "schema",
    "YOOSR_PRIVACY_REQUESTS_TABLE": "schema",
    "YOOSR_PRIVACY_EXPORTS_BUCKET": "schema",
    "YOOSR_PRIVACY_JOBS_QUEUE_URL": "https://sqs.us-east-1.amazonaws.com/123456789012/schema",
    "YOOSR_PRIVACY_EMAIL_FROM": "privacy@schema.example",
    "YOOSR_ANALYTICS_TABLE": "schema",
    "YOOSR_CLERK_ISSUER": "https://clerk.schema.example",
    "AWS_DEFAULT_REGION": "us-east-1",
    "POWERTOOLS_METRICS_NAMESPACE": "Yoosr",
}


def schema(function: str) -> dict[str, Any]:
    for key, value in PLACEHOLDER_ENV.items():
        os.environ.setdefault(key, value)
    sys.path[:0] = [str(ROOT / "layers" / "core"), str(ROOT)]
    from tests.support import load_function  # noqa: PLC0415 - after sys.path is set

    return dict(load_function(function).app.openapi())


def _render_here(function: str) -> str:
    return json.dumps(schema(function), indent=2, sort_keys=True) + "\n"


def render(function: str) -> str:
    """The schema, built in a child process: importing a handler caches its settings, and
    placeholder resource names must never leak into the caller's process."""
    result = subprocess.run(  # noqa: S603 - our own script, fixed arguments
        [sys.executable, str(Path(__file__).resolve()), "--print", function],
        check=True,
        capture_output=True,
        text=True,
        timeout=120,
    )
    return result.stdout


def main() -> None:
    if sys.argv[1:2] == ["--print"]:
        sys.stdout.write(_render_here(sys.argv[2]))
        return
    for function in HTTP_FUNCTIONS:
        target = ROOT / "docs" / "openapi" / f"{function}.json"
        target.write_text(render(function))
        print(f"wrote {target.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
