"""What Redis keeps per active user: keys and bytes after a day's typical use (sign in, reads, a write, a logout),
and every key without an expiry (there must be none but the partitions' revocation markers, `wl:{p:<n>}:since`,
one per partition of users seen: at most 16384 in all, whatever the number of users).

python bench/redis_memory.py [users]
"""

from __future__ import annotations

import re
import sys
from collections import Counter

import redis

from bench._common import local_stack
from tests.support import Api


def shape(key: bytes) -> str:
    """`wl:{p:<n>}:u:<id>:c:<version>:<digest>` -> `wl:{p=*}:u:*:c:*:*`: keys grouped by kind."""
    tagged = re.sub(r"\{([a-z]+):[^}]*\}", r"{\1=*}", key.decode())
    return ":".join(part if part.isalpha() or part.startswith("{") else "*" for part in tagged.split(":"))


def main() -> None:
    users = int(sys.argv[1]) if len(sys.argv) > 1 else 200
    with local_stack() as server:
        from watchlist_api.handler import handler

        observer = redis.Redis.from_url(server.url)
        observer.flushall()
        before = int(observer.info("memory")["used_memory"])
        for number in range(users):
            api = Api(handler, source_ip=f"198.51.{number // 250}.{number % 250 + 1}")  # an address each: no limits
            user, token = api.new_user()
            api.post("/v1/watchlists/items", token=token, json={"title": f"Film {number}", "type": "movie"})
            for path in ("/v1/watchlists", "/v1/auth/me", "/v1/watchlists?type=movie"):
                api.get(path, token=token)
            api.post("/v1/auth/login", json={"email": user["email"], "password": "wrong password"})
            api.post("/v1/auth/logout", token=token)
        after = int(observer.info("memory")["used_memory"])
        keys = list(observer.scan_iter(count=1000))
        without_expiry = Counter(shape(key) for key in keys if observer.ttl(key) == -1)
        kinds = Counter(shape(key) for key in keys)
    print(f"\nRedis after {users} users each signed up, signed in, added an item, read 3 pages, failed a login,")
    print("and logged out:")
    print(
        f"keys: {len(keys)} ({len(keys) / users:.1f} per user); memory: {(after - before) / users:.0f} bytes per user"
    )
    print(f"keys without an expiry: {dict(without_expiry)}")
    for kind, count in kinds.most_common():
        print(f"  {count:6d}  {kind}")


if __name__ == "__main__":
    main()
