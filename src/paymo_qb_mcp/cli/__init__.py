"""The `paymo-qb-mcp` command line: builds the argparse tree and dispatches to one module per command."""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence
from types import ModuleType

# One module per sub-command; each exposes add_parser(subparsers) and run(args) -> int and imports
# its heavy dependencies lazily, so `paymo-qb-mcp --help` stays fast.
COMMAND_MODULES: tuple[str, ...] = (
    "serve_cmd",
    "demo_cmd",
    "sandbox_cmd",
    "approvals_cmd",
    "audit_cmd",
    "auth_cmd",
    "doctor_cmd",
)


def _load(name: str) -> ModuleType:
    return importlib.import_module(f"{__name__}.{name}")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="paymo-qb-mcp",
        description="Reconcile Paymo with QuickBooks Online through governed MCP tools.",
    )
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name in COMMAND_MODULES:
        _load(name).add_parser(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    handler = args.handler
    try:
        result: int = handler(args)
    except BrokenPipeError:
        # `paymo-qb-mcp ... | head` closed the pipe: stop quietly, as Unix tools do.
        sys.stderr.close()
        return 141
    return result


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
