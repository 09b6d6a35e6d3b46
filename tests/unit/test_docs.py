"""The documents' links, anchors and `make` targets resolve: a moved section or a renamed target fails here."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from infra import ROOT

DOCUMENTS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
_LINK = re.compile(r"!?\[[^\]]*\]\(([^)\s]+)\)")
_FENCE = re.compile(r"^```.*?^```", re.MULTILINE | re.DOTALL)
_CODE_SPAN = re.compile(r"`([^`\n]+)`")
_MAKE = re.compile(r"\bmake\s+(?:(?:-\S+|[A-Z_]+=\S*)\s+)*([a-z][a-z0-9-]*)")
_TARGET = re.compile(r"^([a-z][a-z0-9-]*)\s*:(?!=)", re.MULTILINE)


def anchors(document: Path) -> set[str]:
    """GitHub's heading anchors: lower case, punctuation dropped, spaces as hyphens, repeats numbered."""
    seen: dict[str, int] = {}
    found = set()
    for heading in re.findall(r"^#{1,6} (.+)$", _FENCE.sub("", document.read_text()), re.MULTILINE):
        slug = re.sub(r"[^\w\- ]", "", heading.lower()).replace(" ", "-")
        found.add(f"{slug}-{seen[slug]}" if slug in seen else slug)
        seen[slug] = seen.get(slug, 0) + 1
    return found


@pytest.mark.parametrize("document", DOCUMENTS, ids=lambda path: path.name)
def test_every_link_and_anchor_resolves(document: Path) -> None:
    for target in _LINK.findall(document.read_text()):
        if re.match(r"[a-z]+:", target):
            continue
        path, _, anchor = target.partition("#")
        linked = (document.parent / path).resolve() if path else document
        assert linked.exists(), f"{document.name}: {target}"
        if anchor:
            assert anchor in anchors(linked), f"{document.name}: {target}"


def test_the_anchor_rule_is_githubs() -> None:
    assert anchors(ROOT / "docs" / "development.md") >= {"make-dev", "sample-events-and-make-invoke"}


def make_targets() -> set[str]:
    return set(_TARGET.findall((ROOT / "Makefile").read_text()))


@pytest.mark.parametrize("document", DOCUMENTS, ids=lambda path: path.name)
def test_every_make_command_names_a_target(document: Path) -> None:
    text = document.read_text()
    code = _FENCE.findall(text) + _CODE_SPAN.findall(_FENCE.sub("", text))
    named = {target for snippet in code for target in _MAKE.findall(snippet)}
    assert named <= make_targets(), f"{document.name}: {sorted(named - make_targets())}"


def test_the_readme_is_a_front_door() -> None:
    assert len((ROOT / "README.md").read_text().splitlines()) <= 200
    assert {"dev", "test", "deploy", "admin", "destroy", "unit", "invoke"} <= make_targets()
