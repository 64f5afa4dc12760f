"""The `sandbox` command: serve the Paymo and QuickBooks emulators on this machine until stopped."""

from __future__ import annotations

import argparse
import math
import sys
from typing import Any


def add_parser(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "sandbox",
        help="serve local Paymo and QuickBooks emulators seeded with a demo agency",
        description=(
            "Serve faithful local emulators of Paymo and QuickBooks Online until Ctrl-C. The first line on "
            "stdout is a JSON object with paymo_base_url, qbo_base_url, realm_id, paymo_api_key and "
            "qbo_access_token; human-readable lines follow."
        ),
    )
    parser.add_argument("--host", default="127.0.0.1", help="interface to listen on (default: 127.0.0.1)")
    parser.add_argument("--paymo-port", type=_port, default=0, help="Paymo port (default 0: a free port)")
    parser.add_argument("--qbo-port", type=_port, default=0, help="QuickBooks port (default 0: a free port)")
    parser.add_argument(
        "--empty",
        action="store_true",
        help="no demo data: only the company settings, users and chart of accounts",
    )
    parser.add_argument(
        "--tax-model",
        choices=("global", "us"),
        default="global",
        help="global: Canadian GST/QST company (default); us: US company with automated sales tax",
    )
    parser.add_argument(
        "--rate-limits",
        choices=("relaxed", "faithful"),
        default="relaxed",
        help="relaxed (default) budgets large enough for a demo; faithful = the real services' limits",
    )
    parser.add_argument(
        "--rate-time-scale",
        type=_time_scale,
        default=1.0,
        metavar="FACTOR",
        help=(
            "make every rate window FACTOR times shorter (default 1: the real length); with faithful "
            "limits and 10, QuickBooks allows 500 requests per 6 s and Paymo 5 per 0.5 s"
        ),
    )
    parser.add_argument(
        "--faults",
        action="store_true",
        help=(
            "serve fault control over HTTP on both ports (/__sandbox/faults, /__sandbox/faults/next, "
            "/__sandbox/requests); its URLs are added to the JSON line as paymo_admin_url and qbo_admin_url"
        ),
    )
    parser.set_defaults(handler=run)


def _port(text: str) -> int:
    try:
        port = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a port number: {text!r}") from None
    if not 0 <= port <= 65535:
        raise argparse.ArgumentTypeError(f"port must be between 0 and 65535, not {port}")
    return port


def _time_scale(text: str) -> float:
    try:
        factor = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if not (math.isfinite(factor) and factor > 0):
        raise argparse.ArgumentTypeError(f"the time scale must be a positive number, not {text}")
    return factor


def run(args: argparse.Namespace) -> int:
    import functools

    import anyio

    from paymo_qb_mcp.sandbox import Sandbox
    from paymo_qb_mcp.sandbox.runner import serve

    sandbox = Sandbox.create(
        seed="empty" if args.empty else "demo",
        tax_model=args.tax_model,
        rate_limits=args.rate_limits,
        time_scale=args.rate_time_scale,
        fault_control=args.faults,
    )
    try:
        anyio.run(
            functools.partial(
                serve, sandbox, host=args.host, paymo_port=args.paymo_port, qbo_port=args.qbo_port
            )
        )
    except OSError as exc:
        print(f"paymo-qb-mcp sandbox: cannot listen on {args.host}: {exc.strerror or exc}", file=sys.stderr)
        return 1
    return 0
