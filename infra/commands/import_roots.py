"""The import roots, read from where they are declared (pyproject.toml, [tool.mypy] mypy_path) plus the project
root, written into the running venv as a .pth file: `make install` runs `python -m infra.commands.import_roots`
with each venv's python, so that python, pytest and an editor using the venv import the project without a
PYTHONPATH."""

from __future__ import annotations

import sysconfig
import tomllib
from pathlib import Path

from infra import ROOT


def import_roots() -> list[Path]:
    with (ROOT / "pyproject.toml").open("rb") as file:
        declared = tomllib.load(file)["tool"]["mypy"]["mypy_path"].split(":")
    return [ROOT / root for root in declared] + [ROOT]


def main() -> None:
    pth = Path(sysconfig.get_path("purelib")) / "watchlist.pth"
    pth.write_text("".join(f"{root}\n" for root in import_roots()))
    print(f"{pth}: {', '.join(str(root.relative_to(ROOT)) for root in import_roots())}")


if __name__ == "__main__":
    main()
