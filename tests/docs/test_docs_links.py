"""Links and repository paths in the README and docs lead somewhere: files exist, anchors are headings."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from docs_support import DOCUMENTS, REPO, anchors, github_anchor, inline_code, relative

_LINK = re.compile(r"\[[^\]]+\]\(([^)\s]+)\)")
# Backticked paths from the repository root, e.g. `examples/policies/` or `docs/connect.md`.
_REPO_PATH = re.compile(r"^(?:examples|docs|src|tests|\.ci)/[\w./-]*$|^[\w-]+\.(?:md|yaml|toml)$")


@pytest.mark.parametrize("path", DOCUMENTS, ids=relative)
def test_relative_links_resolve(path: Path) -> None:
    text = path.read_text(encoding="utf-8")
    for target in _LINK.findall(text):
        if re.match(r"[a-z]+:", target):
            continue  # https:, mailto:
        file_part, _, fragment = target.partition("#")
        linked = (path.parent / file_part).resolve() if file_part else path
        assert linked.exists(), f"{relative(path)} links to a missing {target}"
        if fragment:
            assert fragment in anchors(linked.read_text(encoding="utf-8")), (
                f"{relative(path)} links to #{fragment}, which is no heading of {relative(linked)}"
            )


@pytest.mark.parametrize("path", DOCUMENTS, ids=relative)
def test_repository_paths_exist(path: Path) -> None:
    text = path.read_text(encoding="utf-8")
    named = [span for span in inline_code(text) if _REPO_PATH.match(span)]
    for name in named:
        assert (REPO / name).exists() or (path.parent / name).exists(), (
            f"{relative(path)} names a missing {name}"
        )


def test_anchor_rule_matches_github() -> None:
    assert github_anchor("Guards (finding codes)") == "guards-finding-codes"
    assert (
        github_anchor("5. Check everything: `paymo-qb-mcp doctor`")
        == "5-check-everything-paymo-qb-mcp-doctor"
    )
