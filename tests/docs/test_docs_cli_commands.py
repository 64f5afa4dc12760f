"""Every `paymo-qb-mcp ...` command the README and docs show exists in the CLI, with the flags shown."""

from __future__ import annotations

from pathlib import Path

import pytest
from docs_support import (
    DOCUMENTS,
    Mention,
    argument_variants,
    cli_mentions,
    flags_mentioned,
    option_strings,
    parse_error,
    relative,
)

from paymo_qb_mcp.cli import build_parser

MENTIONS: list[Mention] = [mention for path in DOCUMENTS for mention in cli_mentions(path)]


def test_the_documents_show_commands() -> None:
    # Guards the extraction itself: if it found nothing, every test below would pass vacuously.
    documents = {mention.document for mention in MENTIONS}
    assert {"README.md", "docs/connect.md", "docs/sandbox.md"} <= documents
    assert len(MENTIONS) >= 30


@pytest.mark.parametrize("mention", MENTIONS, ids=str)
def test_documented_command_parses(mention: Mention) -> None:
    parser = build_parser()
    for argv in argument_variants(mention.text):
        error = parse_error(parser, argv)
        assert error is None, f"{mention} does not parse as {argv}: {error}"


@pytest.mark.parametrize("path", DOCUMENTS, ids=relative)
def test_documented_flags_exist(path: Path) -> None:
    known = option_strings(build_parser())
    unknown = sorted(flags_mentioned(path) - known)
    assert not unknown, f"{relative(path)} names flags the CLI does not have: {unknown}"


def test_a_wrong_command_is_caught() -> None:
    parser = build_parser()
    assert parse_error(parser, ["doctor", "--list-mapping-typo"]) is not None
    assert parse_error(parser, ["sandbox", "--paymo-port", "N"]) is not None
    variants = argument_variants("paymo-qb-mcp sandbox [--tax-model global|us]")
    assert variants == [["sandbox", "--tax-model", "global"], ["sandbox", "--tax-model", "us"]]
