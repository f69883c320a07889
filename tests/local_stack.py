"""`python -m local` (what `make dev` runs) as a test fixture: `running_stack(...)` starts it
on free ports with its own YOOSR_LOCAL_DIR, yields a `LocalStack` once credentials.json exists,
and stops it with SIGTERM. Shared by tests/e2e and tests/browser (each conftest makes its own
session fixtures from it)."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

ROOT = Path(__file__).resolve().parents[1]
START_TIMEOUT_S = 60.0
STOP_TIMEOUT_S = 20.0
# Never let a developer's OpenRouter key reach a test stack: each fixture picks its model.
MODEL_VARIABLES = ("YOOSR_LOCAL_MODEL", "OPENROUTER_API_KEY")


@dataclass
class LocalStack:
    """What a running local stack offers a test: its URLs, the seeded workspaces, and helpers."""

    api_url: str
    aws_endpoint_url: str
    workspaces: dict[str, Any]
    local_dir: Path
    model: str = "off"

    def __getitem__(self, name: str) -> Any:
        return getattr(self, name)

    def drain(self, timeout_s: float = 30.0) -> None:
        """Block until stream and queue consumers have processed everything written so far."""
        response = httpx.post(
            f"{self.api_url}/_local/drain", params={"timeout": timeout_s}, timeout=timeout_s + 10
        )
        assert response.status_code == 200, f"consumers did not catch up: {response.text}"

    def fire(self, function: str, event: str, payload: Any = None) -> dict[str, Any]:
        """Fire a Schedule/ScheduleV2 event now: {"status", "requestId", "result" or "error"}."""
        response = httpx.post(
            f"{self.api_url}/_local/schedules/{function}/{event}",
            content=json.dumps(payload).encode() if payload is not None else b"",
            timeout=120,
        )
        return dict(response.json())


def _tail(path: Path, lines: int = 40) -> str:
    if not path.exists():
        return ""
    return "\n".join(path.read_text(encoding="utf-8", errors="replace").splitlines()[-lines:])


@contextlib.contextmanager
def running_stack(
    tmp_path_factory: pytest.TempPathFactory, name: str, env: dict[str, str]
) -> Iterator[LocalStack]:
    """`python -m local` on free ports with its own YOOSR_LOCAL_DIR and `env` on top of ours;
    yields once credentials.json exists, stops it with SIGTERM and checks it exited cleanly."""
    local_dir = tmp_path_factory.mktemp(name)
    output = local_dir / "stack-output.log"
    credentials = local_dir / "credentials.json"
    environ = {
        **{k: v for k, v in os.environ.items() if k not in MODEL_VARIABLES},
        # Port 0: the stack binds free ports and reports them in credentials.json.
        "YOOSR_PORT": "0",
        "YOOSR_MOTO_PORT": "0",
        "YOOSR_LOCAL_DIR": str(local_dir),
        **env,
    }
    with output.open("w", encoding="utf-8") as sink:
        process = subprocess.Popen(
            [sys.executable, "-m", "local"],
            cwd=ROOT,
            env=environ,
            stdout=sink,
            stderr=subprocess.STDOUT,
        )
        try:
            deadline = time.monotonic() + START_TIMEOUT_S
            while not credentials.exists():
                if process.poll() is not None:
                    pytest.fail(f"local stack exited with {process.returncode}:\n{_tail(output)}")
                if time.monotonic() > deadline:
                    pytest.fail(
                        f"local stack not ready in {START_TIMEOUT_S:.0f} s:\n{_tail(output)}"
                    )
                time.sleep(0.2)
            document = json.loads(credentials.read_text(encoding="utf-8"))
            yield LocalStack(
                api_url=document["api_url"],
                aws_endpoint_url=document["aws_endpoint_url"],
                workspaces=document["workspaces"],
                local_dir=local_dir,
                model=document.get("model", "off"),
            )
        finally:
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
            try:
                code = process.wait(timeout=STOP_TIMEOUT_S)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=10)
                pytest.fail(f"local stack ignored SIGTERM:\n{_tail(output)}")
    assert code == 0, f"local stack exited with {code}:\n{_tail(output)}"
    assert not credentials.exists(), "credentials.json must be removed on exit"
