"""The `audit` command: `verify` checks the keyed hash chain and names the first bad line and the key (and
prints or checks checkpoints kept elsewhere); `tail` shows events."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from paymo_qb_mcp.errors import ConfigError, PaymoQbError

if TYPE_CHECKING:
    from paymo_qb_mcp.store.audit import Checkpoint, VerifyResult


def add_parser(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "audit",
        help="verify or read the tamper-evident audit log",
        description="The audit log is <data dir>/audit.jsonl: one hash-chained JSON object per line, keyed "
        "with an HMAC key kept with the credentials.",
    )
    actions = parser.add_subparsers(dest="audit_action", metavar="ACTION", required=True)

    verify = actions.add_parser(
        "verify",
        help="check the hash chain; exit 1 naming the first bad line",
        description="Recomputes every keyed hash and link with the audit key kept with the credentials of "
        "the data directory; exit 0 when intact, else 1 naming the first bad line and the key.",
    )
    verify.add_argument(
        "--path",
        type=Path,
        help="an audit log file (default: the data directory's; the key stays the data's)",
    )
    verify.add_argument(
        "--checkpoint",
        action="store_true",
        help="when intact, print a checkpoint line (the last entry's seq and keyed hash) on stdout to keep "
        "elsewhere, e.g. `>> checkpoints.txt` on another machine; the verdict goes to stderr",
    )
    verify.add_argument(
        "--checkpoints",
        type=Path,
        metavar="FILE",
        help="also check every checkpoint line in FILE (as --checkpoint printed them; # comments and blank "
        "lines are skipped): catches a log cut back or rewritten since",
    )
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
            return _verify(path, print_checkpoint=args.checkpoint, checkpoints_file=args.checkpoints)
        return _tail(path, count=args.n, as_json=args.json)
    except PaymoQbError as exc:
        print(f"paymo-qb-mcp audit {args.audit_action}: {exc}", file=sys.stderr)
        return 1


def _data_dir() -> Path:
    from paymo_qb_mcp.config.settings import load_settings

    return load_settings().data_dir


def _default_path() -> Path:
    from paymo_qb_mcp.store.audit import AUDIT_FILE_NAME

    return _data_dir() / AUDIT_FILE_NAME


def _read_checkpoints(file: Path) -> list[Checkpoint]:
    from paymo_qb_mcp.store.audit import Checkpoint

    try:
        text = file.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"Cannot read the checkpoints file {file}: {exc.strerror or exc}.") from None
    checkpoints = []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        try:
            checkpoints.append(Checkpoint.parse(line))
        except ValueError as exc:
            raise ConfigError(f"{file} line {number}: {exc}.") from None
    return checkpoints


def _keying(result: VerifyResult) -> str:
    if result.key_id is None:
        return "not keyed (written before the audit key existed; the next entry written makes it)"
    keyed = f"keyed with audit key {result.key_id} from line {result.keyed_from}"
    before = (result.keyed_from or 1) - 1
    if before == 1:
        return f"{keyed} (line 1 was written before the key existed)"
    if before > 1:
        return f"{keyed} (lines 1-{before} were written before the key existed)"
    return keyed


def _verify(path: Path, *, print_checkpoint: bool, checkpoints_file: Path | None) -> int:
    from paymo_qb_mcp.store.audit import verify
    from paymo_qb_mcp.store.tokens import DataDirAuditKeys

    checkpoints = _read_checkpoints(checkpoints_file) if checkpoints_file is not None else []
    # The key is the data directory's (kept with its credentials), also for a copy given with --path.
    result = verify(path, keys=DataDirAuditKeys(_data_dir()), checkpoints=checkpoints)
    if not result.ok:
        print(
            f"audit log BROKEN at line {result.first_bad_line}: {result.reason} "
            f"({result.entries} entries verified before it; {path})",
            file=sys.stderr,
        )
        return 1
    if not result.entries:
        verdict = f"audit log OK: no entries yet ({path})"
    else:
        checked = f", {len(checkpoints)} checkpoint(s) matched" if checkpoints else ""
        verdict = f"audit log OK: {result.entries} entries, chain intact, {_keying(result)}{checked} ({path})"
    checkpoint = result.checkpoint
    if print_checkpoint:
        # stdout carries only the checkpoint, so it can be appended to a file kept elsewhere.
        print(verdict, file=sys.stderr)
        if checkpoint is not None:
            print(checkpoint)
        return 0
    print(verdict)
    return 0


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
