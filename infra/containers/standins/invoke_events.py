"""Stand-in for Lambda's runtime inside the arm64 root (infra/containers/arm64.py): runs a JSON file's invocations
(`[{"handler": "module.function", "event": {...}}, ...]`) in turn, each handler imported as the runtime would at its
first invocation (one warm instance for each), and prints what they answered. Functions that deploy the same
artifact (code and layers) share the run. It runs on the root's own Python and imports nothing but the standard
library and the artifact under test. With --load-every-extension it then imports every compiled module of the
layers (/opt/python), used or not.

python3.13 -S invoke_events.py INVOCATIONS_JSON [--load-every-extension]
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


def main(invocations_path: str, load_extensions: bool) -> None:
    handlers = {}
    import_seconds = {}
    answers = []
    with open(invocations_path, encoding="utf-8") as invocations:
        for invocation in json.load(invocations):
            name = invocation["handler"]
            if name not in handlers:
                started = time.perf_counter()
                module_name, function_name = name.rsplit(".", 1)
                handlers[name] = getattr(importlib.import_module(module_name), function_name)
                import_seconds[name] = time.perf_counter() - started
            answers.append(handlers[name](invocation["event"], Context()))
    files = [getattr(module, "__file__", None) or "" for module in list(sys.modules.values())]
    extensions = sorted({path for path in files if path.endswith(".so")})
    report = {
        "machine": platform.machine(),
        "import_seconds": import_seconds,
        "extensions": extensions,
        "answers": answers,
    }
    if load_extensions:
        report["unloadable"] = load_every_extension()
        files = [getattr(module, "__file__", None) or "" for module in list(sys.modules.values())]
        report["layer_extensions"] = sorted({path for path in files if path.endswith(".so")})
    print("\n" + json.dumps(report))


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2:] == ["--load-every-extension"])
