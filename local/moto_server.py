"""A moto server on loopback, in a child process of its own (see _moto_boot.py).

A child process keeps moto's state apart from anything else in the caller's process (tests that
use `mock_aws` share moto's backends with any in-process server) and off the stack's GIL. The
child exits when its stdin closes, so it never outlives the stack, even one killed with SIGKILL.
"""

from __future__ import annotations

import contextlib
import socket
import subprocess
import sys
import threading
from pathlib import Path

BOOT_SCRIPT = Path(__file__).with_name("_moto_boot.py")


def port_is_free(host: str, port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        try:
            probe.bind((host, port))
        except OSError:
            return False
    return True


class MotoServerError(RuntimeError):
    """moto did not come up."""


class MotoServer:
    """Starts and stops a moto server process; `port=0` lets it pick a free port."""

    def __init__(self, host: str = "127.0.0.1", port: int = 0, start_timeout_s: float = 30.0):
        self.host = host
        self.port = port
        self._start_timeout_s = start_timeout_s
        self._process: subprocess.Popen[str] | None = None

    @property
    def endpoint_url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def start(self) -> str:
        """Start moto and return its endpoint URL once it accepts requests."""
        self._process = subprocess.Popen(
            [sys.executable, "-P", str(BOOT_SCRIPT), self.host, str(self.port)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            # Own session: Ctrl-C reaches the stack, which then closes moto's stdin.
            start_new_session=True,
        )
        stdout = self._process.stdout
        assert stdout is not None
        first_line: list[str] = []
        reader = threading.Thread(target=lambda: first_line.append(stdout.readline()), daemon=True)
        reader.start()
        reader.join(self._start_timeout_s)
        words = (first_line[0] if first_line else "").split()
        if len(words) != 2 or words[0] != "ready":
            self.stop()
            raise MotoServerError(f"moto did not start on {self.host}:{self.port}")
        self.port = int(words[1])
        return self.endpoint_url

    def stop(self) -> None:
        """Close moto's stdin (it exits), killing it if it lingers."""
        process, self._process = self._process, None
        if process is None:
            return
        if process.stdin is not None:
            with contextlib.suppress(OSError):
                process.stdin.close()
        try:
            process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=5)
        if process.stdout is not None:
            process.stdout.close()
