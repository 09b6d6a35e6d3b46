"""Stand-in for Lambda's runtime inside the arm64 root (infra/containers/arm64.py): imports one handler as the
runtime would, invokes it on each event of a JSON file in turn (one warm instance), and prints what it answered.
It runs on the root's own Python and imports nothing but the standard library and the artifact under test.

python3.13 -S invoke_events.py HANDLER EVENTS_JSON
"""

import importlib
import json
import platform
import sys
import time
import uuid


class Context:
    """The fields of Lambda's context object that the handlers and Powertools read."""

    function_name = "arm64-proof"
    function_version = "$LATEST"
    memory_limit_in_mb = 1024
    log_group_name = "/aws/lambda/arm64-proof"
    log_stream_name = "arm64-proof"

    def __init__(self) -> None:
        self.aws_request_id = str(uuid.uuid4())
        self.invoked_function_arn = "arn:aws:lambda:us-east-1:123456789012:function:arm64-proof"
        self._deadline = time.monotonic() + 30

    def get_remaining_time_in_millis(self) -> int:
        return int((self._deadline - time.monotonic()) * 1000)


def main(handler_name: str, events_path: str) -> None:
    started = time.perf_counter()
    module_name, function_name = handler_name.rsplit(".", 1)
    handler = getattr(importlib.import_module(module_name), function_name)
    imported = time.perf_counter() - started
    with open(events_path, encoding="utf-8") as events:
        answers = [handler(event, Context()) for event in json.load(events)]
    files = [getattr(module, "__file__", None) or "" for module in list(sys.modules.values())]
    extensions = sorted({path for path in files if path.endswith(".so")})
    report = {"machine": platform.machine(), "import_seconds": imported, "extensions": extensions, "answers": answers}
    print("\n" + json.dumps(report))


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
