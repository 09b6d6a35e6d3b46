"""SnapStart (the template's SnapStart parameter): Lambda initialises a published version once, snapshots its memory,
and starts each cold instance from that snapshot, so every instance restored from it begins with the same memory.

What one instance must own is kept out of the snapshot and renewed after each restore, by hooks registered with
the managed runtime's `snapshot_restore_py`:

- Python's `random` state, which draws the trace and span ids and the retry jitter: reseeded from the OS, whose
  randomness Lambda makes unique per restore (uuid4 and ULID ids read `os.urandom` already).
- The services (`wiring.reset`), each rebuilt at its next use:
  - Redis connections and the cluster's slot map;
  - the botocore clients of PynamoDB and SQS, with their HTTP connections and credentials;
  - secrets fetched from Secrets Manager (the token signing key, the GitHub token), so a rotation before a restore
    is seen;
  - the GitHub client's connections, the circuit breaker and outage pauses, the settings;
  - the trace exporter's socket and provider (`tracing.reset`).

The same reset runs before the snapshot too, so that no open connection and no fetched secret is stored in it.
"""

from __future__ import annotations

import random
from collections.abc import Callable

from watchlist_core import domain, wiring


def forget_instance_state() -> None:
    """Before the snapshot: nothing an instance owns (connections, credentials, fetched secrets) is kept in it. The
    services are built once first, then forgotten: their modules, imported at a service's first use, are in the
    snapshot, as when the handler's import built them all; so are the models, each otherwise built at its first use,
    and PyJWT, which the token signer imports at its first token."""
    wiring.build_every_service()
    domain.build_models()
    import jwt  # noqa: F401 (imported for the snapshot, see above)

    wiring.reset()


def renew_instance_state() -> None:
    """After a restore: this instance's own random state, connections, clients and secrets."""
    random.seed()
    wiring.reset()


def register_hooks(*prepare: Callable[[], object]) -> bool:
    """Registers both hooks with Lambda's runtime; False outside it (no `snapshot_restore_py`: nothing to do).
    `prepare`: what else the snapshot should hold (the API's routes' fields, which wait for their models)."""
    try:
        from snapshot_restore_py import register_after_restore, register_before_snapshot
    except ModuleNotFoundError:
        return False
    for step in prepare:
        register_before_snapshot(step)
    register_before_snapshot(forget_instance_state)
    register_after_restore(renew_instance_state)
    return True
