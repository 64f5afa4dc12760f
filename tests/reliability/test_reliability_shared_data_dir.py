"""Three servers on one data directory: three `paymo-qb-mcp serve` processes over stdio, sharing
PAYMO_QB_DATA_DIR, sync the same month of 200 Paymo invoices with their payments and expenses at the
same time, each calling sync_invoice, mark_paid and push_expenses in another order, so every record is
planned by several of them at once.

Two of them die, at points drawn from the seed, and are started again while the others go on. Server 2
is SIGKILLed after one of its first writes. Its restart then lines up the case a server sharing the
directory must get right: server 0 holds as its next write is answered — its intents in the shared
audit log, QuickBooks having applied them, the ledger not yet told — while server 2's restart opens
and settles the intents it finds open; then server 0 is released, links the records in the ledger and
dies before their outcomes reach the audit log. The restart must have left server 0's intents alone
(a live server's writes, not a crash's) for server 0's own restart to account for those records. Then
one run must find nothing left to write, and both services read back over their APIs show one
QuickBooks record per Paymo record, none missing, every write accounted for by the one audit log they
all appended to, whose chain `paymo-qb-mcp audit verify` finds intact, and no traceback reached a client.

Seen failing against deliberately broken servers (reliability_spawned.BREAKS): RELIABILITY_BREAK=writer-lease
(a start takes every writer for dead and settles live servers' intents: server 0's held records end up
in no write entry) and RELIABILITY_BREAK=record-lock (no per-record lock across processes, a fresh
requestid on every create: duplicates).
"""

from __future__ import annotations

import os
import random
from collections.abc import Callable
from pathlib import Path

import anyio
import anyio.abc
import pytest
from reliability_processes import (
    AUDIT_FILE_NAME,
    CALLS,
    START_TIMEOUT_S,
    KillPoint,
    Run,
    ServerFiles,
    SettlementMarks,
    broken_variant,
    run_server,
    seeded_payments,
    served_sandbox,
    server_env,
    settle,
    tally,
    write_policy,
)
from reliability_table import ScenarioRow

INVOICES = 200
SEED = int(os.environ.get("RELIABILITY_SEED", "20261207"))
# Each server's order of the three calls: all three start with a write that another one also makes.
ORDERS = (
    ("sync_invoice", "mark_paid", "push_expenses"),
    ("push_expenses", "sync_invoice", "mark_paid"),
    ("sync_invoice", "push_expenses", "mark_paid"),
)
HOLDS, DIES = 0, 2  # server 1 is left alone
WRITES = (1, 3)
DELAY_S = (0.0, 0.2)


async def _until(check: Callable[[], bool], what: str) -> None:
    """Wait for another process to get somewhere (it says so in a file: polled, there is no event)."""
    with anyio.move_on_after(START_TIMEOUT_S):
        while not check():  # noqa: ASYNC110
            await anyio.sleep(0.01)
        return
    raise AssertionError(f"waited {START_TIMEOUT_S:.0f} s for {what}")


@pytest.fixture
def broken() -> str:
    """The deliberately broken variant asked for, or ''; before the row: a scenario skipped for another
    scenario's variant leaves none in the table."""
    return broken_variant("shared_data_dir")


async def test_three_servers_on_one_data_dir(
    tmp_path: Path, broken: str, reliability_row: ScenarioRow
) -> None:
    row = reliability_row
    rng = random.Random(SEED)
    row.notes.append(f"seed {SEED}" + (f", BROKEN: {broken}" if broken else ""))
    files = [ServerFiles(tmp_path / f"server-{index}") for index in range(len(ORDERS))]
    kills = {
        DIES: KillPoint(rng.uniform(*DELAY_S), writes=rng.randint(*WRITES)),
        HOLDS: KillPoint(writes=rng.randint(*WRITES), inside="held"),
    }
    with served_sandbox(INVOICES) as sandbox:
        payments_before = seeded_payments(sandbox.facts)
        env = server_env(sandbox.facts, tmp_path / "data", write_policy(tmp_path / "policies.yaml"))
        audit = Path(env["PAYMO_QB_DATA_DIR"]) / AUDIT_FILE_NAME
        runs: list[Run] = []
        killed: dict[int, Run] = {}

        async def release_once_settled(marks: SettlementMarks) -> None:
            # Server 0 holds its writes in flight until server 2's restart has settled what it found open.
            try:
                await _until(lambda: marks.new() > 0, "server 2's restart to settle open intents")
            finally:
                files[HOLDS].release.touch()

        async def hold_server_0(group: anyio.abc.TaskGroup) -> None:
            # Server 2's restart is up; its first call opens its runtime, which settles open intents.
            files[HOLDS].armed.touch()
            await _until(files[HOLDS].held.exists, "server 0 to hold a write QuickBooks answered")
            group.start_soon(release_once_settled, SettlementMarks(audit))

        async def server(index: int, group: anyio.abc.TaskGroup) -> None:
            calls = [(tool, CALLS[tool]) for tool in ORDERS[index]]
            run = await run_server(env, files[index], calls, kill=kills.get(index), broken=broken)
            runs.append(run)
            if not run.killed:
                return
            killed[index] = run
            row.notes.append(f"server {index} killed in {run.interrupted} after {run.statuses}")
            first = (lambda: hold_server_0(group)) if index == DIES else None
            runs.append(await run_server(env, files[index], calls, broken=broken, before_calls=first))

        async with anyio.create_task_group() as group:
            for index in range(len(ORDERS)):
                group.start_soon(server, index, group)
        for run in runs:
            tally(row, run)
        statuses = [f"{tool} {status}" for run in runs for tool, status, _ in run.calls]
        row.notes.append("calls: " + "; ".join(statuses))

        again = await run_server(env, files[1], list(CALLS.items()), broken=broken)
        tally(row, again)
        if again.statuses != ["unchanged"] * len(CALLS):
            row.failures += 1
            row.notes.append(f"the run after the three still wrote: {again.calls}")
        logged = sum(server_files.tracebacks() for server_files in files)
        if logged:
            row.notes.append(f"servers' stderr holds {logged} tracebacks")

        books, verified = settle(row, sandbox.facts, env, payments_before)

    assert set(killed) == {DIES, HOLDS}, row.notes
    assert (row.duplicates, row.records_lost, row.unaudited_writes) == (0, 0, 0), books.summary()
    assert row.tracebacks == 0, row.notes
    assert row.failures == 0, row.notes
    assert verified.returncode == 0, verified.stdout + verified.stderr
