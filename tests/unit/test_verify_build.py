"""infra.commands.verify_build on a small fake build: a complete artifact passes, one missing a layer's module fails."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from infra.commands.verify_build import function_paths, main, verify

TEMPLATE = """
Globals:
  Function:
    Layers:
      - !Ref LibLayer
Resources:
  LibLayer:
    Type: AWS::Serverless::LayerVersion
  HelloFunction:
    Type: AWS::Serverless::Function
    Properties:
      CodeUri: HelloFunction
      Handler: hello.app.handler
"""


@pytest.fixture
def build(tmp_path: Path) -> Path:
    (tmp_path / "template.yaml").write_text(TEMPLATE)
    package = tmp_path / "HelloFunction" / "hello"
    package.mkdir(parents=True)
    (package / "__init__.py").write_text("")
    (package / "app.py").write_text("import greeting\n\ndef handler(event, context):\n    return greeting.WORD\n")
    library = tmp_path / "LibLayer" / "python"
    library.mkdir(parents=True)
    (library / "greeting.py").write_text("WORD = 'hello'\n")
    return tmp_path


def test_a_complete_build_passes(build: Path) -> None:
    assert function_paths(build) == {
        "HelloFunction": ("hello.app.handler", [build / "HelloFunction", build / "LibLayer" / "python"])
    }
    assert verify(build) == []
    assert main([str(build)]) == 0


def test_a_build_missing_a_layer_module_fails(build: Path) -> None:
    shutil.rmtree(build / "LibLayer")
    assert verify(build) == ["HelloFunction"]
    assert main([str(build)]) == 1


def test_no_build_is_a_usage_error(tmp_path: Path) -> None:
    assert main([str(tmp_path)]) == 2
