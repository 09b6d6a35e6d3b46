"""`make invoke EVENT=events/....json`: run a function's handler on one sample event in-process, as
`sam local invoke` would, and print the Lambda response (the events and their placeholders:
infra/commands/sample_events.py).
"""

from __future__ import annotations

import json
import os
import sys
from contextlib import ExitStack
from pathlib import Path

from infra.aws.bootstrap import create_tables
from infra.commands.sample_events import handler_for, load_event, placeholder_values
from infra.local.events import LambdaContext
from infra.local.local_aws import LOCAL_AWS_ENVIRONMENT, use_moto
from infra.local.moto_server import MotoServer
from infra.local.signing_key import use_local_signing_key
from watchlist_core.settings import get_settings


def main(argv: list[str]) -> int:
    if len(argv) != 1:
        print("usage: python -m infra.commands.invoke events/<file>.json", file=sys.stderr)
        return 2
    use_local_signing_key()
    with ExitStack() as stack:
        if not os.environ.get("DYNAMODB_ENDPOINT_URL"):
            for name, value in LOCAL_AWS_ENVIRONMENT.items():
                os.environ.setdefault(name, value)
            use_moto(stack.enter_context(MotoServer()).endpoint_url)
        else:
            create_tables(get_settings())
        path = Path(argv[0])
        event = load_event(path, placeholder_values())
        handler = handler_for(path)  # after the environment is in place
        response = handler(event, LambdaContext())
    print(json.dumps(response, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
