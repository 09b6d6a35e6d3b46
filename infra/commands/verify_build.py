"""Proof that `sam build`'s artifact is complete: each built function's handler module is imported (building
its app and wiring) in a fresh interpreter that sees only the standard library (`-S`: no site-packages),
the function's own directory and its layers' `python/` directories, as the Lambda runtime would.

python -m infra.commands.verify_build .aws-sam/build
"""

from __future__ import annotations

import secrets
import subprocess
import sys
from pathlib import Path
from typing import Any

from infra.aws.template import load_template

_IMPORT = "import importlib; handler = getattr(importlib.import_module({module!r}), {name!r}); assert callable(handler)"


def function_paths(build_dir: Path) -> dict[str, tuple[str, list[Path]]]:
    """Logical id of each function -> (its handler, the directories its code and layers are built into)."""
    template = load_template(build_dir / "template.yaml")
    global_layers: list[Any] = template.get("Globals", {}).get("Function", {}).get("Layers", [])
    functions = {}
    for logical_id, resource in template["Resources"].items():
        if resource["Type"] != "AWS::Serverless::Function":
            continue
        properties = resource["Properties"]
        layers = properties.get("Layers", global_layers)
        paths = [build_dir / properties["CodeUri"]] + [build_dir / layer["Ref"] / "python" for layer in layers]
        functions[logical_id] = (properties["Handler"], paths)
    return functions


def verify(build_dir: Path) -> list[str]:
    """Import every built handler; the names of the functions that failed."""
    failed = []
    for logical_id, (handler, paths) in function_paths(build_dir).items():
        module, name = handler.rsplit(".", 1)
        environment = {
            "PYTHONPATH": ":".join(str(path) for path in paths),
            "PYTHONNOUSERSITE": "1",
            "STAGE": "local",
            "JWT_SECRET": secrets.token_urlsafe(48),  # the API function's init refuses to start without a key
            "AWS_DEFAULT_REGION": "us-east-1",
            "POWERTOOLS_LOG_LEVEL": "WARNING",
        }
        command = [sys.executable, "-S", "-c", _IMPORT.format(module=module, name=name)]
        result = subprocess.run(command, env=environment, capture_output=True, text=True, check=False)  # noqa: S603
        status = "ok" if result.returncode == 0 else "FAILED"
        print(f"{logical_id:24} {handler:36} {status}")
        if result.returncode:
            print(result.stderr, file=sys.stderr)
            failed.append(logical_id)
    return failed


def main(argv: list[str]) -> int:
    build_dir = Path(argv[0] if argv else ".aws-sam/build")
    if not (build_dir / "template.yaml").exists():
        print(f"no built template in {build_dir}: run sam build first", file=sys.stderr)
        return 2
    return 1 if verify(build_dir) else 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
