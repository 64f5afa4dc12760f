"""The `audit` command: `verify` checks the hash chain and names the first bad line; `tail` shows events."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from paymo_qb_mcp.errors import PaymoQbError


def add_parser(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "audit",
        help="verify or read the tamper-evident audit log",
        description="The audit log is <data dir>/audit.jsonl: one hash-chained JSON object per line.",
    )
    actions = parser.add_subparsers(dest="audit_action", metavar="ACTION", required=True)

    verify = actions.add_parser(
        "verify",
        help="check the hash chain; exit 1 naming the first bad line",
        description="Recomputes every hash and link; exit 0 when intact, else 1 naming the first bad line.",
    )
    verify.add_argument("--path", type=Path, help="an audit log file (default: the data directory's)")
    verify.set_defaults(handler=run)

    tail = actions.add_parser(
        "tail", help="show the last events", description="Shows the last N audit events."
    )
    tail.add_argument("-n", type=int, default=20, metavar="N", help="how many events (default: %(default)s)")
    tail.add_argument("--json", action="store_true", help="print the entries as stored, one JSON per line")
    tail.add_argument("--path", type=Path, help="an audit log file (default: the data directory's)")
    tail.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    try:
        path = args.path or _default_path()
        if args.audit_action == "verify":
            return _verify(path)
        return _tail(path, count=args.n, as_json=args.json)
    except PaymoQbError as exc:
        print(f"paymo-qb-mcp audit {args.audit_action}: {exc}", file=sys.stderr)
        return 1


def _default_path() -> Path:
    from paymo_qb_mcp.config.settings import load_settings
    from paymo_qb_mcp.store.audit import AUDIT_FILE_NAME

    return load_settings().data_dir / AUDIT_FILE_NAME


def _verify(path: Path) -> int:
    from paymo_qb_mcp.store.audit import verify

    result = verify(path)
    if result.ok:
        print(f"audit log OK: {result.entries} entries, chain intact ({path})")
        return 0
    print(
        f"audit log BROKEN at line {result.first_bad_line}: {result.reason} "
        f"({result.entries} entries verified before it; {path})",
        file=sys.stderr,
    )
    return 1


def _summary(entry: Mapping[str, Any]) -> str:
    parts = [f"#{entry.get('seq', '?')}", str(entry.get("time", "?")), str(entry.get("event", "?"))]
    if entry.get("tool"):
        parts.append(str(entry["tool"]))
    if entry.get("decision"):
        rule = f" ({entry['rule']})" if entry.get("rule") else ""
        parts.append(f"decision={entry['decision']}{rule}")
    approval = entry.get("approval")
    if isinstance(approval, Mapping):
        by = f" by {approval['by']}" if approval.get("by") else ""
        parts.append(f"approval={approval.get('id', '?')} via {approval.get('channel', '?')}{by}")
    if entry.get("outcome"):
        parts.append(f"outcome={entry['outcome']}")
    ids = entry.get("ids")
    if isinstance(ids, Mapping):
        parts.append(" ".join(f"{side}={value}" for side, value in ids.items()))
    if entry.get("plan_hash"):
        parts.append(f"plan={str(entry['plan_hash'])[:12]}")
    if entry.get("message"):
        parts.append(f"- {entry['message']}")
    return "  ".join(parts)


def _tail(path: Path, *, count: int, as_json: bool) -> int:
    from paymo_qb_mcp.store.audit import AuditLog, canonical_json

    entries = AuditLog(path).tail(count)
    if not entries and not as_json:
        print(f"The audit log is empty ({path}).")
    for entry in entries:
        print(canonical_json(entry).decode("ascii") if as_json else _summary(entry))
    return 0
