"""A process killed (SIGKILL) in the middle of a batch: after a re-run, exactly one QuickBooks record per
Paymo record. The sandbox runs as its own process (`paymo-qb-mcp sandbox`), so what the dead process sent is
still there; the worker plans the demo's October–November as one plan and applies it, dying right after
QuickBooks answered the batch, while it links what was created."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
from collections import Counter
from pathlib import Path
from typing import Any

import httpx
import pytest
from e2e_support import served_sandbox

from paymo_qb_mcp.sandbox.paymo import seed

ROOT = Path(__file__).resolve().parents[2]
TIMEOUT_S = 60.0
# The demo's October–November invoices that are billed and live (the draft is left out, the void one
# was never synced).
LIVE = ("INV-2026-1035", "INV-2026-1036", "INV-2026-1037", "INV-2026-1039", "INV-2026-1041")

WORKER = textwrap.dedent(
    """
    import asyncio, datetime as dt, json, os, signal, sys
    from pathlib import Path

    from paymo_qb_mcp.config.policy import load_policy
    from paymo_qb_mcp.net.ratelimit import UnlimitedLimiter
    from paymo_qb_mcp.paymo.client import PaymoClient
    from paymo_qb_mcp.quickbooks.client import QboClient
    from paymo_qb_mcp.quickbooks.tokens import StaticTokenProvider
    from paymo_qb_mcp.server.selection import combine_selection
    from paymo_qb_mcp.store.ledger import Ledger
    from paymo_qb_mcp.sync.context import SyncContext
    from paymo_qb_mcp.sync.executor import Executor
    from paymo_qb_mcp.sync.invoices import InvoiceSelection
    from paymo_qb_mcp.sync.service import SyncService

    facts = json.loads(os.environ["FACTS"])
    kill_after = int(os.environ.get("KILL_AFTER", "0"))
    if kill_after:
        real = Executor.remember_write
        linked = []

        def remember_write(self, change, *args, **kwargs):
            if len(linked) == kill_after:
                os.kill(os.getpid(), signal.SIGKILL)
            linked.append(change.paymo_id)
            real(self, change, *args, **kwargs)

        Executor.remember_write = remember_write

    async def main():
        policy = load_policy(Path(os.environ["POLICY"]))
        policy = policy.model_copy(update={"rules": (), "default": "allow"})
        async with PaymoClient(
            base_url=facts["paymo_base_url"], api_key=facts["paymo_api_key"], limiter=UnlimitedLimiter()
        ) as paymo, QboClient(
            base_url=facts["qbo_base_url"],
            realm_id=facts["realm_id"],
            token_provider=StaticTokenProvider(facts["qbo_access_token"]),
            limiter=UnlimitedLimiter(),
            batch_limiter=UnlimitedLimiter(),
        ) as qbo:
            with Ledger(Path(os.environ["DATA_DIR"])) as ledger:
                ctx = SyncContext(paymo=paymo, qbo=qbo, ledger=ledger, mappings=policy.mappings)
                service = SyncService(ctx)
                period = InvoiceSelection(date_from=dt.date(2026, 10, 1), date_to=dt.date(2026, 11, 30))
                selected = await service.plan_invoice_selection(period)
                plan = combine_selection("sync_invoice", selected, policy).plan
                outcome = await service.apply(plan, isolate_failures=True)
                print(json.dumps([[item.change.entity, item.outcome] for item in outcome.applied]))

    asyncio.run(main())
    """
)


def _worker(tmp_path: Path, facts: dict[str, Any], kill_after: int = 0) -> subprocess.CompletedProcess[str]:
    script = tmp_path / "worker.py"
    script.write_text(WORKER, encoding="utf-8")
    env = {
        **os.environ,
        "FACTS": json.dumps(facts),
        "POLICY": str(ROOT / "policies.yaml"),
        "DATA_DIR": str(tmp_path / "data"),
        "KILL_AFTER": str(kill_after),
    }
    return subprocess.run(
        [sys.executable, str(script)], env=env, capture_output=True, text=True, timeout=TIMEOUT_S, check=False
    )


def _qbo(facts: dict[str, Any], entity: str) -> list[dict[str, Any]]:
    response = httpx.get(
        f"{facts['qbo_base_url']}/v3/company/{facts['realm_id']}/query",
        params={"query": f"SELECT * FROM {entity} STARTPOSITION 1 MAXRESULTS 1000"},
        headers={"Authorization": f"Bearer {facts['qbo_access_token']}", "Accept": "application/json"},
        timeout=TIMEOUT_S,
    )
    assert response.status_code == 200, response.text
    return list(response.json()["QueryResponse"].get(entity, []))


@pytest.mark.slow
def test_a_process_killed_in_the_middle_of_a_batch_leaves_one_record_per_paymo_record(tmp_path: Path) -> None:
    with served_sandbox(TIMEOUT_S) as facts:
        customers_before = len(_qbo(facts, "Customer"))

        killed = _worker(tmp_path, facts, kill_after=2)
        assert killed.returncode == -signal.SIGKILL, killed.stderr
        # The dead process's batch reached QuickBooks: more was created than it linked.
        assert len(_qbo(facts, "Invoice")) > 2

        finished = _worker(tmp_path, facts)
        assert finished.returncode == 0, finished.stderr
        outcomes = Counter(outcome for entity, outcome in json.loads(finished.stdout) if entity == "invoice")
        assert outcomes["failed"] == outcomes["skipped"] == 0
        # What the dead process created was found (by number and marker) or replayed, never created again.
        assert outcomes["linked"] + outcomes["replayed"] >= 1

        again = _worker(tmp_path, facts)
        assert again.returncode == 0, again.stderr
        assert json.loads(again.stdout) == []  # nothing left to write

        # One QuickBooks invoice per live Paymo invoice of the period, one customer per client.
        invoices = _markers(_qbo(facts, "Invoice"), "PrivateNote", "invoice")
        assert invoices == Counter({str(seed.INVOICE_IDS[number]): 1 for number in LIVE})
        customers = _qbo(facts, "Customer")
        assert len(customers) == customers_before + 1  # Stark Industries, created once
        assert set(_markers(customers, "Notes", "client").values()) == {1}


def _markers(records: list[dict[str, Any]], field: str, kind: str) -> Counter[str]:
    return Counter(
        str(record.get(field) or "").rsplit(f"paymo:{kind}:", 1)[-1]
        for record in records
        if f"paymo:{kind}:" in str(record.get(field) or "")
    )
