"""The `approvals` command (not built yet: placeholder so the command tree stays complete)."""

from __future__ import annotations

import argparse
import sys
from typing import Any


def add_parser(subparsers: Any) -> None:
    parser = subparsers.add_parser("approvals", help="(not available yet)")
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    print("paymo-qb-mcp approvals: not available in this build yet", file=sys.stderr)
    return 2
