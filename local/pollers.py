"""Background event-source pollers (like Lambda's event source mappings) and `drain`."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Sequence
from typing import Any

from local.workers import Invocation

log = logging.getLogger(__name__)

Invoke = Callable[[str, Any], Invocation]
"""Invoke a function (by logical id) with an event, synchronously."""


class Poller:
    """A polling loop in a daemon thread that counts its cycles, so `drain` can tell when it
    has seen everything written before a given moment."""

    idle_sleep_s = 0.25

    def __init__(self, name: str, stop: threading.Event) -> None:
        self.name = name
        self._stop = stop
        self._cond = threading.Condition()
        self._cycles_started = 0
        self._last_idle_cycle = 0
        self._busy_cycles = 0
        self._wake = threading.Event()
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)

    def poll_once(self) -> bool:
        """Fetch and deliver what is available; False when there was nothing to do."""
        raise NotImplementedError

    def start(self) -> None:
        self._thread.start()

    def wake(self) -> None:
        """Cut the current idle pause short (drain and stop use this)."""
        self._wake.set()

    def join(self, timeout: float) -> None:
        if self._thread.is_alive():
            self._thread.join(timeout)

    def _run(self) -> None:
        while not self._stop.is_set():
            with self._cond:
                self._cycles_started += 1
                cycle = self._cycles_started
            try:
                busy = self.poll_once()
            except Exception:
                if self._stop.is_set():
                    break
                log.exception("%s: polling failed; retrying", self.name)
                busy = True
                self._wake.wait(1.0)
            with self._cond:
                if busy:
                    self._busy_cycles += 1
                else:
                    self._last_idle_cycle = cycle
                self._cond.notify_all()
            if not busy and self._wake.wait(self.idle_sleep_s):
                self._wake.clear()

    def counters(self) -> tuple[int, int]:
        """(cycles started, busy cycles) at this moment."""
        with self._cond:
            return self._cycles_started, self._busy_cycles

    def wait_idle_after(self, cycle: int, deadline: float) -> bool:
        """Wait for an idle cycle that started after `cycle`; False at the deadline."""
        with self._cond:
            return self._cond.wait_for(
                lambda: self._last_idle_cycle > cycle or self._stop.is_set(),
                timeout=max(deadline - time.monotonic(), 0.0),
            )


def drain(pollers: Sequence[Poller], timeout_s: float = 30.0) -> bool:
    """Wait until every poller has caught up: each one found nothing new in a cycle that began
    after the call, and none did any work meanwhile (a consumer may feed another's source).

    Messages left invisible after a failure count as caught up until they become visible again.
    """
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        before = {p: p.counters() for p in pollers}
        for poller in pollers:
            poller.wake()
        for poller in pollers:
            if not poller.wait_idle_after(before[poller][0], deadline):
                return False
        if all(p.counters()[1] == before[p][1] for p in pollers):
            return True
    return False
