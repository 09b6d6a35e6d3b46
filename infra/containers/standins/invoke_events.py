"""Stand-in for Lambda's runtime inside the arm64 root (infra/containers/arm64.py): imports one handler as the
runtime would, invokes it on each event of a JSON file in turn (one warm instance), and prints what it answered.
It runs on the root's own Python and imports nothing but the standard library and the artifact under test.
With --load-every-extension it then imports every compiled module of the layers (/opt/python), used or not.

python3.13 -S invoke_events.py HANDLER EVENTS_JSON [--load-every-extension]
"""

import importlib
import importlib.machinery
import json
import os
import platform
import sys
import time
import uuid

LAYERS = "/opt/python"


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


def load_every_extension() -> dict[str, str]:
    """Imports each extension module of the layers by its dotted name; the ones that failed, with why."""
    failed = {}
    suffixes = sorted(importlib.machinery.EXTENSION_SUFFIXES, key=len, reverse=True)
    for directory, subdirectories, files in os.walk(LAYERS):
        # Not packages: a wheel's metadata and vendored shared libraries (name.libs, name-1.0.dist-info).
        subdirectories[:] = [name for name in subdirectories if name.isidentifier()]
        package = os.path.relpath(directory, LAYERS).split(os.sep) if directory != LAYERS else []
        for file in files:
            suffix = next((suffix for suffix in suffixes if file.endswith(suffix)), None)
            if suffix is None or not file[: -len(suffix)].isidentifier():
                continue
            module = ".".join([*package, file[: -len(suffix)]])
            try:
                importlib.import_module(module)
            except Exception as error:  # noqa: BLE001 (every failure is reported, with its module)
                failed[module] = repr(error)
    return failed


def main(handler_name: str, events_path: str, load_extensions: bool) -> None:
    started = time.perf_counter()
    module_name, function_name = handler_name.rsplit(".", 1)
    handler = getattr(importlib.import_module(module_name), function_name)
    imported = time.perf_counter() - started
    with open(events_path, encoding="utf-8") as events:
        answers = [handler(event, Context()) for event in json.load(events)]
    files = [getattr(module, "__file__", None) or "" for module in list(sys.modules.values())]
    extensions = sorted({path for path in files if path.endswith(".so")})
    report = {"machine": platform.machine(), "import_seconds": imported, "extensions": extensions, "answers": answers}
    if load_extensions:
        report["unloadable"] = load_every_extension()
        files = [getattr(module, "__file__", None) or "" for module in list(sys.modules.values())]
        report["layer_extensions"] = sorted({path for path in files if path.endswith(".so")})
    print("\n" + json.dumps(report))


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2], sys.argv[3:] == ["--load-every-extension"])
