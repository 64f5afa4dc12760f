"""The processes the kill and shared-directory scenarios start (reliability_processes.py starts them):

    python tests/reliability/reliability_spawned.py sandbox --invoices 200   # facts line first, as `sandbox`
    python tests/reliability/reliability_spawned.py server                    # `paymo-qb-mcp serve`, stdio

`sandbox` builds the empty-seeded sandbox, adds the benchmark's company at volume
(`benchmarks.seeding.seed_volume`: N clients and invoices with their payments, N/2 expenses) and serves it
as `paymo-qb-mcp sandbox` does; the repository root must be on PYTHONPATH. `server` is `serve` in this
very process, after writing its pid to $RELIABILITY_PID_FILE (the test SIGKILLs it), pointing its stderr
at $RELIABILITY_STDERR and appending one byte to $RELIABILITY_WRITES as each request that writes leaves
for either service (how a test picks a kill point among the writes, whatever the audit log does).

$RELIABILITY_DIE_AT=<where>:<n> has the server SIGKILL itself at an exact point, having first written
$RELIABILITY_KILLED (so the test knows the death was the one it asked for):

    answered:N  once the N-th request that writes has been answered: the service applied it, neither the
                ledger nor the audit log knows
    audited:N   as the N-th set of outcomes (a batch, or one write) reaches the audit log, before it is
                appended: the service applied it and the ledger knows, the audit log does not
    held:N      once the N-th request that writes after $RELIABILITY_ARMED exists has been answered, it
                writes $RELIABILITY_HELD and waits for $RELIABILITY_RELEASE (while another server starts,
                say), then dies as at `audited`

With $RELIABILITY_BREAK set it first breaks the product on purpose, so a scenario can be seen failing.
Nothing here is imported by the product, and no break is on by default.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import signal
import sys
import uuid
from collections.abc import AsyncIterator
from typing import Any

# RELIABILITY_BREAK=<name>, a deliberately broken product, and the scenario (test file) it is for; the
# suite's other scenarios skip under it:
#   audit-write-ahead  no `write_intent` entry before a request leaves (what was already appended is still
#                      made durable then): a server killed between QuickBooks accepting a write and its
#                      `write` entry leaves a record the audit log never names (crash storm: unaudited
#                      writes)
#   writer-lease       every writer taken for dead: a server starting on the shared data directory settles
#                      the intents another live server has in flight, which then writes and is killed
#                      before auditing (three servers: unaudited writes)
#   record-lock        no per-record lock across processes and a fresh requestid on every create: two
#                      servers planning the same record both create it (three servers: duplicates)
BREAKS: dict[str, str] = {
    "audit-write-ahead": "crash_storm",
    "writer-lease": "shared_data_dir",
    "record-lock": "shared_data_dir",
}


def serve_sandbox(invoices: int, seed: int) -> int:
    import functools

    import anyio

    from benchmarks.seeding import seed_volume
    from paymo_qb_mcp.sandbox import Sandbox
    from paymo_qb_mcp.sandbox.runner import serve

    sandbox = Sandbox.create(seed="empty", tax_model="global", rate_limits="relaxed")
    dataset = seed_volume(sandbox, invoices, seed=seed)
    print(json.dumps(dataset.describe()), file=sys.stderr, flush=True)
    anyio.run(functools.partial(serve, sandbox))
    return 0


def serve_mcp() -> int:
    with open(os.environ["RELIABILITY_PID_FILE"], "w", encoding="utf-8") as pid_file:
        pid_file.write(str(os.getpid()))
    log = os.open(os.environ["RELIABILITY_STDERR"], os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    os.dup2(log, 2)
    os.close(log)
    _instrument_writes(os.environ["RELIABILITY_WRITES"], os.environ.get("RELIABILITY_DIE_AT", ""))
    broken = os.environ.get("RELIABILITY_BREAK", "")
    if broken:
        apply_break(broken)
    from paymo_qb_mcp.cli import main

    return main(["serve", "--log-level", "WARNING"])


DIE_AT = ("answered", "audited", "held")
HOLD_TIMEOUT_S = 120.0


class _Death:
    """Where this server dies ($RELIABILITY_DIE_AT), counted over its requests that write and the sets of
    outcomes its audit observer is given."""

    def __init__(self, die_at: str) -> None:
        where, _, count = die_at.partition(":")
        if where and (where not in DIE_AT or not count.isdigit() or int(count) < 1):
            raise SystemExit(f"RELIABILITY_DIE_AT: {die_at!r} is not <{'|'.join(DIE_AT)}>:<n ≥ 1>")
        self.where = where
        self.target = int(count) if where else 0
        self.answered = 0
        self.audited = 0
        # The count of outcome sets at which it dies (`audited`, or `held` once released).
        self.at_audit = self.target if where == "audited" else 0

    async def answer(self, request: str) -> None:
        if self.where == "held" and not _exists(os.environ["RELIABILITY_ARMED"]):
            return
        self.answered += 1
        if self.answered != self.target:
            return
        if self.where == "answered":
            _die(f"write {self.answered} answered ({request})")
        elif self.where == "held":
            _say(f"holding at write {self.answered} answered ({request})")
            await _hold(os.environ["RELIABILITY_HELD"], os.environ["RELIABILITY_RELEASE"])
            _say("released")
            self.at_audit = self.audited + 1

    def audit(self, count: int) -> None:
        self.audited += 1
        if self.at_audit and self.audited >= self.at_audit:
            _die(f"outcome set {self.audited} ({count} outcomes) reaching the audit log")


def _instrument_writes(counter_path: str, die_at: str) -> None:
    """Count the requests that write (one byte each, as they leave) and, with ``die_at``, die where it
    says (see the module docstring)."""
    from paymo_qb_mcp.net.http import HttpService
    from paymo_qb_mcp.server.write_audit import AuditedWrites

    death = _Death(die_at)
    counter = os.open(counter_path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    send, done = HttpService.request, AuditedWrites.done

    async def request(self: HttpService, method: str, path: str, **kwargs: Any) -> Any:
        if method == "GET" or path.endswith("/query"):
            return await send(self, method, path, **kwargs)
        os.write(counter, b"w")
        response = await send(self, method, path, **kwargs)
        await death.answer(f"{method} {path}")
        return response

    async def audited(self: AuditedWrites, applied: Any) -> None:
        death.audit(len(applied))
        await done(self, applied)

    HttpService.request = request  # type: ignore[method-assign]
    AuditedWrites.done = audited  # type: ignore[method-assign]


async def _hold(held: str, release: str) -> None:
    """Say so in ``held`` and wait for ``release`` (the test's word, in a file: polled, there is no event)."""
    import anyio

    _touch(held)
    with anyio.move_on_after(HOLD_TIMEOUT_S):
        while not _exists(release):  # noqa: ASYNC110
            await anyio.sleep(0.01)


def _touch(path: str) -> None:
    with open(path, "w", encoding="utf-8"):
        pass


def _exists(path: str) -> bool:
    return os.path.exists(path)


def _say(text: str) -> None:
    print(f"reliability: {text}", file=sys.stderr, flush=True)


def _die(where: str) -> None:
    _say(f"SIGKILL at {where}")
    with open(os.environ["RELIABILITY_KILLED"], "w", encoding="utf-8") as killed:
        killed.write(where)
    os.kill(os.getpid(), signal.SIGKILL)


def apply_break(name: str) -> None:
    if name == "audit-write-ahead":
        from paymo_qb_mcp.server.write_audit import AuditedWrites

        async def intend(self: Any, changes: Any) -> None:
            self._audit.flush()

        AuditedWrites.intend = intend  # type: ignore[method-assign]
    elif name == "writer-lease":
        from paymo_qb_mcp.server import write_audit

        def writer_alive(directory: Any, writer: str) -> bool:
            return False

        write_audit._writer_alive = writer_alive  # type: ignore[attr-defined]
    elif name == "record-lock":
        from paymo_qb_mcp.store.ledger import Ledger
        from paymo_qb_mcp.sync import batches, executor

        @contextlib.asynccontextmanager
        async def lock(self: Any, kind: str, paymo_id: Any) -> AsyncIterator[None]:
            yield

        def fresh_request_id(*args: Any, **kwargs: Any) -> str:
            return str(uuid.uuid4())

        Ledger.lock = lock  # type: ignore[method-assign]
        # Both send creates with a requestid QuickBooks would otherwise answer twice alike.
        executor.request_id = fresh_request_id  # type: ignore[attr-defined]
        batches.request_id = fresh_request_id  # type: ignore[attr-defined]
    else:
        raise SystemExit(f"RELIABILITY_BREAK: unknown break {name!r} (known: {', '.join(BREAKS)})")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="reliability_spawned.py")
    commands = parser.add_subparsers(dest="command", required=True)
    sandbox = commands.add_parser("sandbox", help="serve the sandbox with the benchmark's company at volume")
    sandbox.add_argument("--invoices", type=int, required=True)
    sandbox.add_argument("--seed", type=int, default=7)
    commands.add_parser("server", help="`paymo-qb-mcp serve` over stdio, pid and stderr to files")
    args = parser.parse_args(argv)
    if args.command == "sandbox":
        return serve_sandbox(args.invoices, args.seed)
    return serve_mcp()


if __name__ == "__main__":
    sys.exit(main())
