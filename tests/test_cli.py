"""The command tree: every documented command exists."""

from __future__ import annotations

import pytest

from paymo_qb_mcp.cli import COMMAND_MODULES, build_parser


@pytest.mark.parametrize("name", [m.removesuffix("_cmd") for m in COMMAND_MODULES])
def test_command_is_registered(name: str) -> None:
    parser = build_parser()
    with pytest.raises(SystemExit) as exc:
        parser.parse_args([name, "--help"])
    assert exc.value.code == 0
