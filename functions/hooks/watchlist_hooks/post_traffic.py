"""CodeDeploy's AfterAllowTraffic hook: the smoke flow against the stage (all traffic now on the new version), then,
only if it passed, the old published versions of the listed functions deleted.

Environment: API_URL (the stage URL), PRUNE_FUNCTIONS (function names or ARNs, comma separated; empty: none),
KEEP_VERSIONS (at least 2: the newest this many stay, the one a rollback goes back to among them).

A version stays if it is `$LATEST`, among the newest KEEP_VERSIONS, or named by any alias (its version, or in its
weighted routing's `AdditionalVersionWeights`). Pruning stops, logged, when the deadline comes near or a call fails:
the rest goes with the next deploy (a healthy version is never rolled back for it).
"""

from __future__ import annotations

import os
import time
from typing import Any

from watchlist_hooks.lifecycle import CheckFailed, lambda_client, logger, run_hook
from watchlist_hooks.smoke import Step, run_smoke

LATEST = "$LATEST"
FEWEST_KEPT = 2  # the live version and the one before it, which a rollback returns to
DELETE_SECONDS = 2.0  # time left that one more deletion needs


def keep_versions() -> int:
    keep = int(os.environ["KEEP_VERSIONS"])
    if keep < FEWEST_KEPT:
        raise CheckFailed(f"KEEP_VERSIONS={keep} is refused: at least {FEWEST_KEPT} (a rollback needs the previous)")
    return keep


def prune_functions() -> list[str]:
    return [name.strip() for name in os.environ.get("PRUNE_FUNCTIONS", "").split(",") if name.strip()]


def _pages(call: Any, key: str, **arguments: Any) -> list[dict[str, Any]]:
    """Every entry of a Lambda list call, following its `NextMarker`."""
    entries: list[dict[str, Any]] = []
    marker = None
    while True:
        page = call(**arguments, **({"Marker": marker} if marker else {}))
        entries += page.get(key, [])
        marker = page.get("NextMarker")
        if not marker:
            return entries


def versions_to_delete(versions: list[str], aliases: list[dict[str, Any]], keep: int) -> list[str]:
    """The published versions beyond the newest `keep`, none any alias names; oldest first."""
    published = sorted((int(version) for version in versions if version != LATEST), reverse=True)
    named = set()
    for alias in aliases:
        named.add(alias["FunctionVersion"])
        named.update((alias.get("RoutingConfig") or {}).get("AdditionalVersionWeights", {}))
    return [str(version) for version in reversed(published[keep:]) if str(version) not in named]


def prune(function: str, keep: int, deadline: float) -> list[str]:
    """Deletes `function`'s prunable versions until `deadline` comes near; those deleted."""
    client = lambda_client()
    versions = [
        entry["Version"] for entry in _pages(client.list_versions_by_function, "Versions", FunctionName=function)
    ]
    aliases = _pages(client.list_aliases, "Aliases", FunctionName=function)
    doomed = versions_to_delete(versions, aliases, keep)
    deleted: list[str] = []
    for version in doomed:
        if deadline - time.monotonic() < DELETE_SECONDS:
            logger.warning(
                "pruning stopped near the deadline", extra={"function": function, "left": len(doomed) - len(deleted)}
            )
            break
        client.delete_function(FunctionName=function, Qualifier=version)
        deleted.append(version)
    logger.info("pruned", extra={"function": function, "deleted": deleted, "kept": len(versions) - len(deleted)})
    return deleted


def _log_step(step: Step) -> None:
    logger.info(
        "smoke step",
        extra={
            "step": step.name,
            "passed": step.passed,
            "duration_ms": round(step.seconds * 1000),
            "reason": step.detail,
        },
    )


def post_traffic(deadline: float) -> None:
    keep = keep_versions()  # refused before any traffic is spent
    functions = prune_functions()
    report = run_smoke(os.environ["API_URL"], deadline=deadline, on_step=_log_step)
    if report.cleanup:
        logger.info("smoke cleanup", extra={"cleanup": report.cleanup})
    if not report.passed:
        failed = report.failed_step
        raise CheckFailed(f"smoke flow failed at '{failed.name}': {failed.detail}" if failed else "smoke flow failed")
    for function in functions:
        try:
            prune(function, keep, deadline)
        except Exception:  # noqa: BLE001 (the new version is healthy: a failed clean-up must not roll it back)
            logger.exception("pruning failed; the versions stay until the next deploy", extra={"function": function})


def handler(event: dict[str, Any], context: Any) -> dict[str, str]:
    return run_hook("post_traffic", event, context, post_traffic)
