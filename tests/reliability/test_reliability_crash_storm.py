"""Crash storm: a bulk sync of 200 Paymo invoices with their payments and expenses, through the real MCP
server over stdio, SIGKILLed at seeded points at least 20 times and restarted each time; then one run to
completion and one that must find nothing left to write. Read back over both services' APIs: one
QuickBooks record per Paymo record, none missing or with another total, every record we wrote accounted
for by the audit log, the chain intact (`paymo-qb-mcp audit verify`), no traceback to the client.

The sandbox is its own process (what a dead server sent stays there); the policy allows the writes
without a human (the benchmark's: the shipped rules less the confirm ones, no write budget to speak of).
Each start calls sync_invoice over the seeded month, mark_paid since its first day (both directions)
and push_expenses over the month — each of them first every third start, the other two in an order
drawn from the seed. The kill points are drawn from the seed too (`kill_points`); RELIABILITY_SEED
picks another storm. RELIABILITY_BREAK=audit-write-ahead (reliability_spawned.py) runs it against a
server whose audit log has no write-ahead, which this scenario must catch (unaudited writes).
"""

from __future__ import annotations

import os
import random
from collections import Counter
from pathlib import Path

import pytest
from reliability_processes import (
    CALLS,
    DONE,
    KillPoint,
    ServerFiles,
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
KILLS = 20
MAX_STARTS = 60
SEED = int(os.environ.get("RELIABILITY_SEED", "20261207"))
# Where the kills land, drawn from the seed before the storm (whatever the starts then do), by weight:
# from outside, after 1–3 more requests that write (a batch of up to 30 records, or one payment) and up to
# 0.3 s more — anywhere from a batch in flight to between two writes; by the server itself, exactly as
# its 1st–3rd write is answered (the service applied it, neither the ledger nor the audit log knows) or
# as its 1st–3rd set of outcomes reaches the audit log (the ledger knows, the audit log not yet); or from
# outside on a clock alone, from the session's opening (start-up, settling what the last start left open,
# planning, between calls). Few enough writes that the storm ends with work left, so nearly every kill
# cuts the bulk sync short.
KINDS = {"outside": 0.35, "answered": 0.2, "audited": 0.2, "clock": 0.25}
WRITES = (1, 3)
AFTER_WRITES_S = (0.0, 0.3)
ON_CLOCK_S = (0.05, 3.0)


def kill_points(rng: random.Random) -> list[tuple[list[str], KillPoint]]:
    """Each start's order of the three calls and kill point. Each call goes first every third start (the
    first one with work left takes the kill), the other two in an order drawn from the seed."""
    plan: list[tuple[list[str], KillPoint]] = []
    for start in range(MAX_STARTS):
        first = sorted(CALLS)[start % len(CALLS)]
        order = [first, *rng.sample(sorted(set(CALLS) - {first}), len(CALLS) - 1)]
        kind = rng.choices(list(KINDS), weights=list(KINDS.values()))[0]
        if kind == "outside":
            point = KillPoint(rng.uniform(*AFTER_WRITES_S), writes=rng.randint(*WRITES))
        elif kind == "clock":
            point = KillPoint(rng.uniform(*ON_CLOCK_S))
        else:
            point = KillPoint(writes=rng.randint(*WRITES), inside=kind)
        plan.append((order, point))
    return plan


@pytest.fixture
def broken() -> str:
    """The deliberately broken variant asked for, or ''; before the row: a scenario skipped for another
    scenario's variant leaves none in the table."""
    return broken_variant("crash_storm")


async def test_crash_storm(tmp_path: Path, broken: str, reliability_row: ScenarioRow) -> None:
    row = reliability_row
    row.notes.append(f"seed {SEED}" + (f", BROKEN: {broken}" if broken else ""))
    with served_sandbox(INVOICES) as sandbox:
        payments_before = seeded_payments(sandbox.facts)
        env = server_env(sandbox.facts, tmp_path / "data", write_policy(tmp_path / "policies.yaml"))
        files = ServerFiles(tmp_path / "server")

        cut: Counter[str] = Counter()
        kinds: Counter[str] = Counter()
        for order, point in kill_points(random.Random(SEED)):
            if sum(cut.values()) >= KILLS:
                break
            calls = [(tool, CALLS[tool]) for tool in order]
            run = await run_server(env, files, calls, kill=point, broken=broken)
            tally(row, run)
            if run.interrupted:
                cut[run.interrupted] += 1
                kinds[point.inside or ("outside" if point.writes else "clock")] += 1
        row.notes.append(
            f"{sum(cut.values())} kills cut a call ({dict(cut)}; {dict(kinds)}) in {row.runs} starts"
        )

        calls = list(CALLS.items())
        finish = await run_server(env, files, calls, broken=broken)
        tally(row, finish)
        again = await run_server(env, files, calls, broken=broken)
        tally(row, again)
        if again.statuses != ["unchanged"] * len(calls):
            row.failures += 1
            row.notes.append(f"the run after completion still wrote: {again.calls}")
        if files.tracebacks():
            row.notes.append(f"server stderr holds {files.tracebacks()} tracebacks")

        books, verified = settle(row, sandbox.facts, env, payments_before)

    assert sum(cut.values()) >= KILLS, row.notes
    assert finish.statuses, finish.failures
    assert set(finish.statuses) <= DONE, finish.calls
    assert (row.duplicates, row.records_lost, row.unaudited_writes) == (0, 0, 0), books.summary()
    assert row.tracebacks == 0, row.notes
    assert row.failures == 0, row.notes
    assert verified.returncode == 0, verified.stdout + verified.stderr
