"""A failover, timed: a primary with one replica killed (SIGKILL) while a user's requests flow, and how long until
the cluster has promoted the replica, and until the API's guards (a rate-limit count) are back for the user.

Meanwhile the user's requests fail open (200, no RateLimit headers); the client leaves the dead node alone for
REDIS_PAUSE_AFTER_FAILURE_SECONDS, then reloads the slot map and finds the new primary, so the guards come back at
about max(the cluster's failover, the pause). Three-primary cluster, cluster-node-timeout 1000 ms, on loopback.

python bench/redis_failover.py [runs]
"""

from __future__ import annotations

import os
import statistics
import sys
import time

from bench._common import captured_output, local_stack
from infra.local.instances import LambdaHandler
from infra.local.redis_cluster import LocalRedisCluster
from tests.support import Api
from watchlist_core import wiring
from watchlist_core.state import keys

PAUSES = ("5", "1")  # the default, and a shorter one
STEP_SECONDS = 0.02


def one_failover(handler: LambdaHandler, pause: str) -> tuple[float, float]:
    """Seconds from the kill to the replica's promotion, and to the first guarded request."""
    with LocalRedisCluster(primaries=3, replicas=1, node_timeout_ms=1000) as cluster:
        os.environ["REDIS_URL"] = cluster.url
        os.environ["REDIS_PAUSE_AFTER_FAILURE_SECONDS"] = pause
        wiring.reset()
        api = Api(handler)
        _, token = api.new_user()
        user_id = api.get("/v1/auth/me", token=token).json()["id"]
        victim = cluster.primary_of(keys.user(user_id))
        victim.kill()
        killed = time.monotonic()
        promoted = guarded = None
        while promoted is None or guarded is None:
            response = api.get("/v1/auth/me", token=token)
            now = time.monotonic() - killed
            if guarded is None and response.header("ratelimit") is not None:
                guarded = now
            if promoted is None and cluster.primary_of(keys.user(user_id)) is not victim:
                promoted = now
            time.sleep(STEP_SECONDS)
        return promoted, guarded


def main() -> None:
    runs = int(sys.argv[1]) if len(sys.argv) > 1 else 5
    with local_stack():
        from watchlist_api.handler import handler

        print(f"{'pause s':>8} {'replica promoted s (min/median/max)':>36} {'guards back s (min/median/max)':>32}")
        for pause in PAUSES:
            with captured_output():
                figures = [one_failover(handler, pause) for _ in range(runs)]
            promoted = [figure[0] for figure in figures]
            guarded = [figure[1] for figure in figures]
            print(f"{pause:>8} {_spread(promoted):>36} {_spread(guarded):>32}")
    print(f"({runs} failovers per row; each request of the user's is answered meanwhile, 200 without RateLimit)")


def _spread(values: list[float]) -> str:
    return f"{min(values):.1f} / {statistics.median(values):.1f} / {max(values):.1f}"


if __name__ == "__main__":
    main()
