"""What an Idempotency-Key adds to a write: `POST /v1/watchlists/items` without the header, with a new key each
time, and with a key already answered (a replay), interleaved, against the moto server; and the DynamoDB and SQS
requests of each, counted."""

from __future__ import annotations

import uuid
from collections import Counter
from collections.abc import Callable
from typing import Any

from bench._common import captured_output, interleaved, local_stack, print_against_bare
from infra.aws.calls import tally_aws_calls
from infra.local.events import LambdaContext, api_gateway_event
from tests.support import Api

ROUNDS = 100
BODY = b'{"title": "Benchmark", "type": "show"}'
WITHOUT = "without the header"


def main() -> None:
    with local_stack():
        from watchlist_api.handler import handler

        api = Api(handler)
        with captured_output():
            _, token = api.new_user()

        def post(key: Callable[[], str | None]) -> Callable[[], Any]:
            def call() -> Any:
                headers = [("Authorization", f"Bearer {token}"), ("Content-Type", "application/json")]
                if (value := key()) is not None:
                    headers.append(("Idempotency-Key", value))
                event = api_gateway_event("POST", "/v1/watchlists/items", headers=headers, body=BODY)
                response = handler(event, LambdaContext())
                assert response["statusCode"] == 201, response
                return response

            return call

        answered = str(uuid.uuid4())
        calls = {
            WITHOUT: post(lambda: None),
            "with a new key": post(lambda: str(uuid.uuid4())),
            "with an answered key (replay)": post(lambda: answered),
        }
        with captured_output():  # warm up; the replayed key gets its first answer here
            for call in calls.values():
                for _ in range(5):
                    call()
        print("AWS requests of one write:")
        for name, call in calls.items():
            with tally_aws_calls("dynamodb") as dynamodb, tally_aws_calls("sqs") as sqs, captured_output():
                call()
            requests = Counter(dynamodb.operations) + Counter(sqs.operations)
            print(f"  {name:32} {', '.join(f'{operation} {n}' for operation, n in sorted(requests.items()))}")
        with captured_output():
            samples = interleaved(calls, ROUNDS)
        print_against_bare(samples, bare=WITHOUT, heading="warm handler(event), x: over no header")


if __name__ == "__main__":
    main()
