"""What a sign-in's timing tells, and what the two guards cost while Redis is away.

1. Known against unknown e-mail addresses, wrong passwords, on `/v1/auth/token` (the OAuth2 form) and
   `/v1/auth/login` (JSON), in interleaved rounds: the median time of each, and known / unknown (target: within
   1.2x, both ways), with the DynamoDB requests of each.
2. `POST /v1/auth/password/forgot` for known, unknown and deactivated addresses, interleaved: the medians and their
   ratios (the same work for each: one rate-limit count and one SendMessage), with the DynamoDB requests of each.
3. Redis stopped: the DynamoDB requests and time an authenticated GET (its session read from DynamoDB) and a failed
   sign-in (its failure counted in DynamoDB) add, against the same requests with Redis up.
"""

from __future__ import annotations

import itertools
import statistics
from collections.abc import Callable
from functools import partial
from typing import Any

from bench._common import interleaved, local_stack, tally_dynamodb
from infra.local.events import LambdaContext, api_gateway_event
from tests.support import Api, unique_email

ACCOUNTS = 12
ROUNDS = 20  # a round signs in once with each address, known and unknown
FORM = {"Content-Type": "application/x-www-form-urlencoded"}


def sign_in(handler: Any, path: str, email: str, source_ip: str) -> dict[str, Any]:
    if path.endswith("/token"):
        body, headers = f"grant_type=password&username={email}&password=wrong+guess", FORM
    else:
        body, headers = f'{{"email": "{email}", "password": "wrong guess"}}', {"Content-Type": "application/json"}
    event = api_gateway_event("POST", path, body=body.encode(), headers=headers.items(), source_ip=source_ip)
    answer: dict[str, Any] = handler(event, LambdaContext())
    assert answer["statusCode"] in (400, 401), answer
    return answer


def dynamodb_requests(call: Callable[[], object]) -> str:
    """The DynamoDB requests one call makes, and the milliseconds spent waiting for them."""
    with tally_dynamodb() as tally:
        call()
    requests = ", ".join(f"{operation} {count}" for operation, count in sorted(tally.operations.items()))
    return f"{requests} ({tally.seconds * 1000:.1f} ms)" if requests else "none"


def timing(handler: Any, api: Api) -> None:
    known = [api.register()["email"] for _ in range(ACCOUNTS)]
    unknown = [unique_email() for _ in range(ACCOUNTS)]
    print(f"{'path':18} {'known ms':>9} {'unknown ms':>11} {'known/unknown':>14}  DynamoDB (known | unknown)")
    for path in ("/v1/auth/token", "/v1/auth/login"):
        samples: dict[str, list[float]] = {}
        for round_number in range(ROUNDS + 1):
            # A new address a round: no guess is ever refused by the throttle (that would be a third timing).
            calls = {
                f"{kind} {number}": partial(sign_in, handler, path, email, f"10.{round_number}.{number}.{len(kind)}")
                for kind, emails in (("known", known), ("unknown", unknown))
                for number, email in enumerate(emails)
            }
            for name, values in interleaved(calls, 1).items():
                if round_number:  # the first round warms each path up
                    samples.setdefault(name, []).extend(values)
        medians = {
            kind: statistics.median([v for name, values in samples.items() if name.startswith(kind) for v in values])
            for kind in ("known", "unknown")
        }
        requests = " | ".join(dynamodb_requests(calls[f"{kind} 0"]) for kind in ("known", "unknown"))
        ratio = medians["known"] / medians["unknown"]
        print(f"{path:18} {medians['known']:9.1f} {medians['unknown']:11.1f} {ratio:14.3f}  {requests}")
    print("target: known/unknown within 1.2x (and 1/1.2)")


def forgot(handler: Any, email: str, source_ip: str) -> dict[str, Any]:
    body = f'{{"email": "{email}"}}'.encode()
    event = api_gateway_event(
        "POST",
        "/v1/auth/password/forgot",
        body=body,
        headers=[("Content-Type", "application/json")],
        source_ip=source_ip,
    )
    answer: dict[str, Any] = handler(event, LambdaContext())
    assert answer["statusCode"] == 202, answer
    return answer


def forgot_timing(handler: Any) -> None:
    from watchlist_core.storage.tables import UserRecord
    from watchlist_core.storage.users import user_pk

    # Registered from addresses of their own: an address may open 20 accounts an hour.
    known = [Api(handler, source_ip="198.51.100.21").register() for _ in range(ACCOUNTS)]
    deactivated = [Api(handler, source_ip="198.51.100.22").register() for _ in range(ACCOUNTS)]
    for user in deactivated:
        UserRecord(pk=user_pk(user["id"])).update(actions=[UserRecord.active.set(False)])
    addresses = {
        "known": [user["email"] for user in known],
        "unknown": [unique_email() for _ in range(ACCOUNTS)],
        "deactivated": [user["email"] for user in deactivated],
    }
    samples: dict[str, list[float]] = {}
    for round_number in range(ROUNDS + 1):
        calls = {  # a new client address per call: no limit in the way
            f"{kind} {number}": partial(forgot, handler, email, f"10.{100 + round_number}.{number}.{len(kind)}")
            for kind, emails in addresses.items()
            for number, email in enumerate(emails)
        }
        for name, values in interleaved(calls, 1).items():
            if round_number:
                samples.setdefault(name, []).extend(values)
    medians = {
        kind: statistics.median([v for name, values in samples.items() if name.startswith(kind) for v in values])
        for kind in addresses
    }
    print(f"\n{'POST /v1/auth/password/forgot':32} {'median ms':>10} {'/ unknown':>10}  DynamoDB")
    for kind, median in medians.items():
        requests = dynamodb_requests(calls[f"{kind} 0"])
        print(f"{kind:32} {median:10.2f} {median / medians['unknown']:10.3f}  {requests}")
    print("target: known and deactivated within 1.2x of unknown (and 1/1.2)")


def outage(handler: Any, api: Api, redis: Any) -> None:
    _, token = api.new_user()
    me = api_gateway_event("GET", "/v1/auth/me", headers=[("Authorization", f"Bearer {token}")])
    sources = (f"172.16.{n // 250}.{n % 250 + 1}" for n in itertools.count())
    cases: dict[str, Callable[[], object]] = {
        "authenticated GET /v1/auth/me": partial(handler, me, LambdaContext()),
        # Another e-mail (costs as a known one's) and client each time: no limit in the way of the figures.
        "failed sign-in": lambda: sign_in(handler, "/v1/auth/login", unique_email(), next(sources)),
    }
    figures: dict[str, dict[str, Any]] = {}
    for state in ("Redis up", "Redis down"):
        if state == "Redis down":
            redis.stop()
        for name, call in cases.items():
            call()  # warm, and past the outage's first timeout
            samples = interleaved({name: call}, 30)[name]
            figures.setdefault(name, {})[state] = (statistics.median(samples), dynamodb_requests(call))
    redis.start()
    print(f"\n{'while Redis is away':32} {'up ms':>7} {'down ms':>8}  DynamoDB up | down")
    for name, by_state in figures.items():
        (up, up_requests), (down, down_requests) = by_state["Redis up"], by_state["Redis down"]
        print(f"{name:32} {up:7.1f} {down:8.1f}  {up_requests} | {down_requests}")
    print("(with Redis away the response cache is bypassed too: /v1/auth/me reads the account, and the session)")


def main() -> None:
    with local_stack() as redis:
        from watchlist_api.handler import handler

        api = Api(handler)
        timing(handler, api)
        forgot_timing(handler)
        outage(handler, api, redis)


if __name__ == "__main__":
    main()
