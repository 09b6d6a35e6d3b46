"""Readiness: each dependency checked concurrently, each within a deadline, none allowed to hang."""

from __future__ import annotations

import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import TimeoutError as DeadlineExceeded
from dataclasses import dataclass
from typing import Literal

Status = Literal["pass", "warn", "fail"]


@dataclass(frozen=True)
class Check:
    """A dependency probe: `probe` returns normally when the dependency answers."""

    name: str
    probe: Callable[[], object]
    required: bool = True


@dataclass(frozen=True)
class CheckResult:
    status: Status
    latency_ms: float
    required: bool


@dataclass(frozen=True)
class HealthReport:
    status: Status
    checks: dict[str, CheckResult]


class HealthService:
    def __init__(self, checks: list[Check], timeout_seconds: float) -> None:
        self._checks = checks
        self._timeout = timeout_seconds
        self._pool = ThreadPoolExecutor(max_workers=max(1, len(checks)), thread_name_prefix="health")

    def report(self) -> HealthReport:
        started = time.perf_counter()
        futures = {check.name: (check, self._pool.submit(_timed, check.probe)) for check in self._checks}
        results: dict[str, CheckResult] = {}
        for name, (check, future) in futures.items():
            remaining = max(0.0, self._timeout - (time.perf_counter() - started))
            try:
                latency_ms = future.result(timeout=remaining)
                results[name] = CheckResult("pass", latency_ms, check.required)
            except DeadlineExceeded:
                results[name] = CheckResult("fail", round(self._timeout * 1000, 1), check.required)
            except Exception:  # noqa: BLE001 (any failure of a probe means the dependency is unhealthy)
                results[name] = CheckResult("fail", round((time.perf_counter() - started) * 1000, 1), check.required)
        return HealthReport(_overall(results), results)


def _timed(probe: Callable[[], object]) -> float:
    started = time.perf_counter()
    probe()
    return round((time.perf_counter() - started) * 1000, 1)


def _overall(results: dict[str, CheckResult]) -> Status:
    failed = [result for result in results.values() if result.status == "fail"]
    if any(result.required for result in failed):
        return "fail"
    return "warn" if failed else "pass"
