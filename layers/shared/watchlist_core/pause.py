"""Leaving a failed dependency alone for a moment: one timeout per pause, not one per request."""

from __future__ import annotations

import threading
import time


class Pause:
    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self._until = 0.0
        self._lock = threading.Lock()

    @property
    def active(self) -> bool:
        return time.monotonic() < self._until

    def start(self) -> None:
        """After a failure: the dependency is not asked again for `seconds`."""
        with self._lock:
            self._until = time.monotonic() + self.seconds
