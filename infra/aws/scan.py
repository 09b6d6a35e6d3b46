"""`.venv-scan/bin/python -m infra.aws.scan OUTPUT`: template.yaml as the plain CloudFormation the SAM transform makes
of it, as JSON in OUTPUT, for checkov (make scan), which reads CloudFormation but not SAM.

The same transform that CloudFormation runs on a deploy and the deploy rehearsal runs (infra/aws/translate.py), with
the parameters' defaults, so every `Fn::If` and resource condition is kept for the scanner to see; but offline: the
local code and layer directories become S3 locations, as `sam validate` does, and no managed policy is looked up by
name (the template names none; SAM's own come by ARN). It runs in the scan venv (requirements-scan.txt), where
aws-sam-translator is.
"""

from __future__ import annotations

import copy
import json
import os
import sys
from pathlib import Path
from typing import Any

from samtranslator.translator.transform import transform

from infra.aws.template import load_template

PACKAGED_PROPERTIES = ("CodeUri", "ContentUri")


class NoManagedPolicyLookups:
    """The translator's IAM lookup of managed policies by name: the template names none (SAM's own come by ARN)."""

    def load(self) -> dict[str, str]:
        raise SystemExit("template.yaml names a managed policy by name: the offline translation cannot look it up")


def packaged(template: dict[str, Any]) -> dict[str, Any]:
    """`template` with each local CodeUri and ContentUri as the S3 location `sam package` would give it."""
    result = copy.deepcopy(template)
    for resource in result["Resources"].values():
        properties = resource.get("Properties", {})
        for name in PACKAGED_PROPERTIES:
            if isinstance(properties.get(name), str) and not properties[name].startswith("s3://"):
                properties[name] = f"s3://scan-artifacts/{properties[name].strip('/')}.zip"
    return result


def main(argv: list[str]) -> int:
    if len(argv) != 1:
        print(__doc__, file=sys.stderr)
        return 2
    os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")  # the transform's ${AWS::Region}; nothing is called
    translated = transform(packaged(load_template()), {}, NoManagedPolicyLookups())
    output = Path(argv[0])
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(json.dumps(translated, indent=1, sort_keys=True), encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
