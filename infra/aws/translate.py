"""`.venv-sam/bin/python -m infra.aws.translate TEMPLATE [NAME=VALUE ...]`: the plain CloudFormation that AWS's SAM
transform makes of a (packaged) SAM template, as JSON on stdout.

CloudFormation runs the transform itself on a deploy; moto's CloudFormation does not, so the deploy rehearsal
(infra/aws/rehearsal.py) translates first, with the same library, aws-sam-translator, that CloudFormation's transform
and `sam validate` use. It runs in the SAM venv, where that library is; the managed policies it looks up by name
come from IAM at AWS_ENDPOINT_URL (moto's list of AWS's managed policies in the rehearsal).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import boto3
from samcli.yamlhelper import yaml_parse
from samtranslator.translator.managed_policy_translator import ManagedPolicyLoader
from samtranslator.translator.transform import transform


def main(argv: list[str]) -> int:
    if not argv:
        print(__doc__, file=sys.stderr)
        return 2
    template = yaml_parse(Path(argv[0]).read_text(encoding="utf-8"))
    parameters = dict(argument.split("=", 1) for argument in argv[1:])
    translated = transform(template, parameters, ManagedPolicyLoader(boto3.client("iam")))
    json.dump(translated, sys.stdout, indent=1, sort_keys=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
