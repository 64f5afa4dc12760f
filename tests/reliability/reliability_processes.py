"""Process plumbing of the reliability scenarios that kill servers or share a data directory: the sandbox
served by a process of its own with the benchmark's company at volume (what a killed server sent
survives it), MCP servers over stdio as `paymo-qb-mcp serve` (pid, stderr and a count of write requests
in files, so a test can SIGKILL one at a chosen point), one server start driven through a real MCP
client, and the read-backs over both services' APIs and the audit log that count duplicates, lost
records and unaudited writes. The processes themselves are reliability_spawned.py."""

from __future__ import annotations

import datetime as dt
import json
import os
import re
import select
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Awaitable, Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
if str(ROOT) not in sys.path:  # the benchmark's company (benchmarks/seeding.py) seeds the sandbox
    sys.path.insert(0, str(ROOT))

import pytest  # noqa: E402
from reliability_spawned import BREAKS  # noqa: E402
from reliability_table import ScenarioRow  # noqa: E402

from benchmarks.seeding import PERIOD_FROM, PERIOD_TO  # noqa: E402 - needs the repository on the path
from paymo_qb_mcp.store.audit import AUDIT_FILE_NAME, AuditLog  # noqa: E402

__all__ = [
    "AUDIT_FILE_NAME",
    "CALLS",
    "DONE",
    "PERIOD_FROM",
    "PERIOD_TO",
    "AuditAccount",
    "Books",
    "KillPoint",
    "Killer",
    "Run",
    "Sandbox",
    "ServerFiles",
    "SettlementMarks",
    "broken_variant",
    "leaks",
    "read_books",
    "run_server",
    "seeded_payments",
    "served_sandbox",
    "server_env",
    "settle",
    "tally",
    "write_policy",
]

SPAWNED = HERE / "reliability_spawned.py"
START_TIMEOUT_S = 120.0
HTTP_TIMEOUT_S = 60.0
CALL_TIMEOUT_S = 180.0

# The bulk sync of the seeded month: its invoices, their payments (both ways) and its expenses.
_MONTH = {"date_from": PERIOD_FROM.isoformat(), "date_to": PERIOD_TO.isoformat()}
CALLS: dict[str, dict[str, Any]] = {
    "sync_invoice": _MONTH,
    "mark_paid": {"since": PERIOD_FROM.isoformat(), "direction": "both"},
    "push_expenses": _MONTH,
}
# A call's top-level status when it did what it was asked (or found nothing left to do).
DONE = frozenset({"applied", "unchanged"})

# What a tool's text must not show a client: a Python traceback or an exception's class name.
_PYTHON_ERROR = re.compile(r"Traceback \(most recent call last\)|\b[A-Z][A-Za-z0-9]*(?:Error|Exception)\b")
# Every tool error starts with the project's stable code (errors.py), e.g. "CONFLICT: ...".
_CODED = re.compile(r"^[A-Z][A-Z_]+: ")


# --- the sandbox, as its own process -------------------------------------------------------------------


@dataclass(frozen=True)
class Sandbox:
    """A served sandbox: its facts line (base URLs, realm, key and token) and its process."""

    facts: dict[str, Any]
    process: subprocess.Popen[str]


@contextmanager
def served_sandbox(invoices: int, *, seed: int = 7) -> Iterator[Sandbox]:
    """The empty sandbox with ``invoices`` clients and invoices (payments included) and invoices/2
    expenses, on relaxed rate limits, served by a process of its own until the block ends."""
    existing = os.environ.get("PYTHONPATH")
    env = {
        **os.environ,
        "PYTHONUNBUFFERED": "1",
        "PYTHONPATH": f"{ROOT}{os.pathsep}{existing}" if existing else str(ROOT),
    }
    process = subprocess.Popen(
        [sys.executable, str(SPAWNED), "sandbox", "--invoices", str(invoices), "--seed", str(seed)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
        cwd=ROOT,
    )
    try:
        assert process.stdout is not None
        ready, _, _ = select.select([process.stdout], [], [], START_TIMEOUT_S)
        assert ready, "the sandbox printed nothing"
        line = process.stdout.readline()
        assert line, "the sandbox stopped before serving"
        yield Sandbox(json.loads(line), process)
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.communicate(timeout=HTTP_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            process.kill()
            process.communicate()


def seeded_payments(facts: Mapping[str, Any]) -> dict[int, int]:
    """How many payments each Paymo invoice has before any server ran (more after is a duplicate)."""
    return {
        int(invoice["id"]): len(invoice.get("invoicepayments") or [])
        for invoice in paymo_all(facts, "invoices", include="invoicepayments")
    }


# --- MCP servers over stdio ----------------------------------------------------------------------------


def broken_variant(scenario: str) -> str:
    """The deliberately broken variant ``scenario`` runs its servers as ($RELIABILITY_BREAK, one of that
    scenario's in reliability_spawned.BREAKS), or '' when none is asked for. Another name skips the
    scenario, as the suite's other scenarios do, rather than run it unbroken under a name that says
    otherwise."""
    name = os.environ.get("RELIABILITY_BREAK", "")
    if name and BREAKS.get(name) != scenario:
        mine = ", ".join(break_ for break_, owner in BREAKS.items() if owner == scenario)
        pytest.skip(f"RELIABILITY_BREAK={name!r} is not a {scenario} variant ({mine})")
    return name


@dataclass(frozen=True)
class ServerFiles:
    """Where a server writes its pid, its stderr and its count of write requests (a directory per server
    running beside others; its restarts reuse it)."""

    directory: Path

    @property
    def pid_file(self) -> Path:
        return self.directory / "server.pid"

    @property
    def stderr(self) -> Path:
        return self.directory / "server.stderr"

    @property
    def writes(self) -> Path:
        return self.directory / "server.writes"

    @property
    def killed(self) -> Path:
        """Written by a server just before it kills itself where it was asked to (`KillPoint.inside`)."""
        return self.directory / "server.killed"

    @property
    def armed(self) -> Path:
        """Written by the test: a `held` kill point counts the writes from then on."""
        return self.directory / "server.armed"

    @property
    def held(self) -> Path:
        """Written by a server holding at a `held` kill point, which waits for `release`."""
        return self.directory / "server.held"

    @property
    def release(self) -> Path:
        return self.directory / "server.release"

    def pid(self) -> int:
        deadline = time.monotonic() + START_TIMEOUT_S
        while time.monotonic() < deadline:
            try:
                return int(self.pid_file.read_text(encoding="utf-8"))
            except (FileNotFoundError, ValueError):
                time.sleep(0.01)
        raise AssertionError(f"the server wrote no pid to {self.pid_file}")

    def tracebacks(self) -> int:
        """Tracebacks the server's runs logged to stderr (never sent to the client, but worth a note)."""
        try:
            return self.stderr.read_text(encoding="utf-8", errors="replace").count("Traceback")
        except FileNotFoundError:
            return 0


def server_env(facts: Mapping[str, Any], data_dir: Path, policy: Path) -> dict[str, str]:
    """The environment `serve` (and the CLI's `audit verify`) run with against the served sandbox."""
    return {
        "PATH": os.environ.get("PATH", ""),
        "HOME": str(data_dir.parent),
        "PAYMO_QB_DATA_DIR": str(data_dir),
        "PAYMO_QB_POLICY": str(policy),
        "PAYMO_QB_TOKEN_STORE": "file",
        "PAYMO_BASE_URL": str(facts["paymo_base_url"]),
        "PAYMO_API_KEY": str(facts["paymo_api_key"]),
        "QBO_BASE_URL": str(facts["qbo_base_url"]),
        "QBO_REALM_ID": str(facts["realm_id"]),
        "QBO_ACCESS_TOKEN": str(facts["qbo_access_token"]),
        "QBO_ENVIRONMENT": "sandbox",
    }


def _server_params(env: Mapping[str, str], files: ServerFiles, broken: str, die_at: str) -> Any:
    from mcp import StdioServerParameters

    files.directory.mkdir(parents=True, exist_ok=True)
    for stale in (files.pid_file, files.killed, files.armed, files.held, files.release):
        stale.unlink(missing_ok=True)  # so what the test reads is this start's
    server = {
        **env,
        "RELIABILITY_PID_FILE": str(files.pid_file),
        "RELIABILITY_STDERR": str(files.stderr),
        "RELIABILITY_WRITES": str(files.writes),
        "RELIABILITY_KILLED": str(files.killed),
        "RELIABILITY_ARMED": str(files.armed),
        "RELIABILITY_HELD": str(files.held),
        "RELIABILITY_RELEASE": str(files.release),
        "RELIABILITY_DIE_AT": die_at,
        "RELIABILITY_BREAK": broken,
    }
    return StdioServerParameters(command=sys.executable, args=[str(SPAWNED), "server"], env=server)


def write_policy(path: Path) -> Path:
    """The benchmark's policy: the shipped one with its mappings and its deny rules, writes allowed
    without a human, and no write budget to speak of (these scenarios test crashes, not approvals)."""
    from benchmarks.runs import write_policy as benchmark_policy

    return benchmark_policy(path, confirm=False)


@dataclass(frozen=True)
class KillPoint:
    """When a server is SIGKILLed, counted from its session's opening.

    With ``inside`` (reliability_spawned.DIE_AT), the server kills itself at an exact point of its
    ``writes``-th request that writes: ``answered`` (the service applied it, neither the ledger nor the
    audit log knows), ``audited`` (the ledger knows, the audit log not yet), ``held`` (counted once the
    test has armed it: answered, then it waits for the test to release it before dying as at
    ``audited``). Otherwise the test kills it from
    outside: once ``writes`` more requests that write have left it, then ``delay_s`` more — anywhere from a
    batch in flight to between two writes; with no ``writes``, ``delay_s`` after the opening (start-up,
    planning, between calls)."""

    delay_s: float = 0.0
    writes: int = 0
    inside: str = ""

    @property
    def die_at(self) -> str:
        """The server's $RELIABILITY_DIE_AT ('' when killed from outside)."""
        return f"{self.inside}:{self.writes}" if self.inside else ""


class Killer:
    """SIGKILLs a process at a `KillPoint` from outside, from a thread of its own; `cancel()` before then
    keeps it alive. The server's write counter (a file it appends a byte to per write request) is polled
    every few milliseconds."""

    POLL_S = 0.002

    def __init__(self, pid: int, point: KillPoint, counter: Path) -> None:
        self.pid = pid
        self.point = point
        self.fired = threading.Event()
        self._cancelled = threading.Event()
        self._counter = counter
        self._thread = threading.Thread(target=self._watch, daemon=True)
        self._thread.start()

    def _watch(self) -> None:
        writes = _size(self._counter)
        while _size(self._counter) - writes < self.point.writes:
            if self._cancelled.wait(self.POLL_S):
                return
        if self._cancelled.wait(self.point.delay_s):
            return
        try:
            os.kill(self.pid, signal.SIGKILL)
        except ProcessLookupError:
            return
        self.fired.set()

    def cancel(self) -> bool:
        """Stop watching; whether the kill had already happened."""
        self._cancelled.set()
        self._thread.join()
        return self.fired.is_set()


class SettlementMarks:
    """Counts the ``intents_settled`` marks (a start settling open write intents) appended to an audit log
    since this was made (whole lines only: a group being written is counted once it is complete)."""

    def __init__(self, path: Path) -> None:
        self._path = path
        self._offset = _size(path)
        self._count = 0

    def new(self) -> int:
        if _size(self._path) > self._offset:
            with self._path.open("rb") as handle:
                handle.seek(self._offset)
                appended = handle.read()
            complete = appended[: appended.rfind(b"\n") + 1]
            self._offset += len(complete)
            self._count += complete.count(b'"event":"intents_settled"')
        return self._count


def _size(path: Path) -> int:
    try:
        return path.stat().st_size
    except FileNotFoundError:
        return 0


def audit_verify(env: Mapping[str, str]) -> subprocess.CompletedProcess[str]:
    """`paymo-qb-mcp audit verify` on the data directory, as a user runs it."""
    return subprocess.run(
        [sys.executable, "-m", "paymo_qb_mcp.cli", "audit", "verify"],
        env=dict(env),
        capture_output=True,
        text=True,
        timeout=HTTP_TIMEOUT_S,
        check=False,
    )


# --- one server start, driven through a real MCP client ------------------------------------------------


def tool_text(result: Any) -> str:
    return " ".join(str(getattr(block, "text", "")) for block in result.content)


def leaks(text: str, *, is_error: bool) -> bool:
    """Whether a tool's text shows the client a traceback, an exception class, or an uncoded error."""
    return bool(_PYTHON_ERROR.search(text)) or (is_error and not _CODED.match(text))


@dataclass
class Run:
    """What one server start did: the calls that returned (tool, status or error code, seconds), whether
    a kill cut it short (and which call), and what went wrong that nobody asked for."""

    calls: list[tuple[str, str, float]] = field(default_factory=list)
    killed: bool = False
    interrupted: str | None = None
    failures: list[str] = field(default_factory=list)
    tracebacks: list[str] = field(default_factory=list)

    @property
    def statuses(self) -> list[str]:
        return [status for _, status, _ in self.calls]


async def run_server(
    env: Mapping[str, str],
    files: ServerFiles,
    calls: list[tuple[str, dict[str, Any]]],
    *,
    kill: KillPoint | None = None,
    broken: str = "",
    before_calls: Callable[[], Awaitable[None]] | None = None,
) -> Run:
    """Start a server, make ``calls`` in order through an MCP client over stdio, and stop it; with
    ``kill``, SIGKILL it at that point (the error of a call the kill cut short is expected, any other is
    a failure); with ``broken``, the server is that deliberately broken variant (reliability_spawned.BREAKS);
    ``before_calls`` is awaited once the session is open, before the first call (which opens the server's
    runtime). A call fails when it errs or its status is not applied/unchanged."""
    from mcp import Client

    run = Run()
    killer: Killer | None = None
    params = _server_params(env, files, broken, kill.die_at if kill is not None else "")

    def died() -> bool:  # the kill asked for, by the test or by the server itself
        return (killer is not None and killer.fired.is_set()) or files.killed.exists()

    try:
        async with Client(params, read_timeout_seconds=CALL_TIMEOUT_S) as client:
            if kill is not None and not kill.inside:
                killer = Killer(files.pid(), kill, files.writes)
            if before_calls is not None:
                await before_calls()
            for tool, arguments in calls:
                started = time.perf_counter()
                try:
                    result = await client.call_tool(tool, arguments)
                except Exception as error:
                    if died():
                        run.killed, run.interrupted = True, tool
                        return run
                    run.failures.append(f"{tool}: {type(error).__name__}: {error}")
                    return run
                seconds = time.perf_counter() - started
                text = tool_text(result)
                if result.is_error:
                    run.calls.append((tool, text.split(":", 1)[0], seconds))
                    run.failures.append(f"{tool}: {text[:300]}")
                else:
                    status = str((result.structured_content or {}).get("status"))
                    run.calls.append((tool, status, seconds))
                    if status not in DONE:
                        run.failures.append(f"{tool}: status {status}: {_failed_items(result)}")
                if leaks(text, is_error=result.is_error):
                    run.tracebacks.append(f"{tool}: {text[:300]}")
            if killer is not None:
                killer.cancel()
            run.killed = died()
    except Exception as error:  # the session's end, when the kill landed after the last call returned
        if died():
            run.killed = True
        else:
            run.failures.append(f"session: {type(error).__name__}: {error}")
    finally:
        if killer is not None:
            killer.cancel()
    return run


_UNDONE = frozenset({"failed", "blocked"})


def _failed_items(result: Any) -> str:
    items = (result.structured_content or {}).get("results") or []
    failed = [item for item in items if isinstance(item, dict) and item.get("status") in _UNDONE]
    return "; ".join(str(item.get("reason") or item.get("detail"))[:200] for item in failed[:3])


def tally(row: ScenarioRow, run: Run) -> None:
    """A server start into the scenario's row: one run, its failures, tracebacks and call times."""
    row.runs += 1
    row.failures += len(run.failures)
    row.tracebacks += len(run.tracebacks)
    for _, _, seconds in run.calls:
        row.call_took(seconds)
    for text in (run.failures + run.tracebacks)[:3]:
        row.notes.append(text)


# --- read-backs over the services' APIs and the audit log ----------------------------------------------


def qbo_all(facts: Mapping[str, Any], entity: str) -> list[dict[str, Any]]:
    """Every record of one QuickBooks entity, read page by page through the query endpoint."""
    import httpx

    found: list[dict[str, Any]] = []
    with httpx.Client(timeout=HTTP_TIMEOUT_S) as http:
        while True:
            response = http.get(
                f"{facts['qbo_base_url']}/v3/company/{facts['realm_id']}/query",
                params={"query": f"SELECT * FROM {entity} STARTPOSITION {len(found) + 1} MAXRESULTS 1000"},
                headers={
                    "Authorization": f"Bearer {facts['qbo_access_token']}",
                    "Accept": "application/json",
                },
            )
            assert response.status_code == 200, response.text
            page = list(response.json(parse_float=Decimal)["QueryResponse"].get(entity, []))
            found.extend(page)
            if len(page) < 1000:
                return found


def paymo_all(facts: Mapping[str, Any], collection: str, **params: str) -> list[dict[str, Any]]:
    """Every record of one Paymo collection (the emulator answers a list in one page)."""
    import httpx

    response = httpx.get(
        f"{facts['paymo_base_url']}/{collection}",
        params=params,
        auth=(str(facts["paymo_api_key"]), "X"),
        headers={"Accept": "application/json"},
        timeout=HTTP_TIMEOUT_S,
    )
    assert response.status_code == 200, response.text
    return list(response.json(parse_float=Decimal)[collection])


_MARKER = re.compile(r"paymo:([a-z0-9_]+):(\d+)")
# Where our marker lives in each QuickBooks entity the scenarios write, and the Paymo kind it names.
MARKED: dict[str, tuple[str, str]] = {
    "Customer": ("Notes", "client"),
    "Invoice": ("PrivateNote", "invoice"),
    "Payment": ("PrivateNote", "payment"),
    "Purchase": ("PrivateNote", "expense"),
}


def _ours(records: list[dict[str, Any]], entity: str) -> dict[int, list[dict[str, Any]]]:
    """The records of an entity that carry our marker, by the Paymo id the marker names."""
    note, kind = MARKED[entity]
    found: dict[int, list[dict[str, Any]]] = {}
    for record in records:
        for marker_kind, paymo_id in _MARKER.findall(str(record.get(note) or "")):
            if marker_kind == kind:
                found.setdefault(int(paymo_id), []).append(record)
    return found


@dataclass
class Books:
    """What both companies, read back after a scenario, say about it."""

    duplicates: Counter[str] = field(default_factory=Counter)
    lost: Counter[str] = field(default_factory=Counter)
    unaudited: Counter[str] = field(default_factory=Counter)
    examples: list[str] = field(default_factory=list)
    # What was compared: Paymo records of the month, and our QuickBooks records by entity.
    checked: Counter[str] = field(default_factory=Counter)

    @property
    def clean(self) -> bool:
        return not (self.duplicates or self.lost or self.unaudited)

    def note(self, text: str) -> None:
        if len(self.examples) < 6:
            self.examples.append(text)

    def summary(self) -> str:
        counts = f"duplicates {dict(self.duplicates)}, lost {dict(self.lost)}"
        counts += f", unaudited {dict(self.unaudited)}"
        return counts + (f"; e.g. {'; '.join(self.examples)}" if self.examples else "")


def read_books(
    facts: Mapping[str, Any], *, payments_before: Mapping[int, int], audit_entries: list[dict[str, Any]]
) -> Books:
    """Count what a scenario left in the seeded month, over the services' APIs: duplicates (more than one
    QuickBooks record per Paymo record by marker, an invoice number twice, more Paymo payments than were
    seeded), records lost (a Paymo invoice, payment or expense with no QuickBooks record, or with
    another total) and unaudited writes (a record of ours the audit log does not account for)."""
    books = Books()
    invoices = [
        invoice
        for invoice in paymo_all(facts, "invoices", include="invoicepayments")
        if invoice.get("status") != "draft" and _in_month(invoice.get("date"))
    ]
    expenses = [expense for expense in paymo_all(facts, "expenses") if _in_month(expense.get("date"))]
    qbo = {entity: qbo_all(facts, entity) for entity in MARKED}
    ours = {entity: _ours(records, entity) for entity, records in qbo.items()}

    for entity, by_paymo in ours.items():
        for paymo_id, records in by_paymo.items():
            if len(records) > 1:
                books.duplicates[entity] += len(records) - 1
                books.note(f"{entity} ×{len(records)} for Paymo {paymo_id}: {[r['Id'] for r in records]}")
    numbers = Counter(str(record.get("DocNumber")) for record in qbo["Invoice"])
    for invoice in invoices:
        number = str(invoice["number"])
        if numbers[number] > max(1, len(ours["Invoice"].get(int(invoice["id"]), []))):
            books.duplicates["Invoice (DocNumber)"] += numbers[number] - 1
            books.note(f"DocNumber {number} ×{numbers[number]}")

    def compare(kind: str, paymo_id: int, amount: object, label: str) -> None:
        books.checked[f"Paymo {MARKED[kind][1]}"] += 1
        found = ours[kind].get(paymo_id, [])
        if not found:
            books.lost[kind] += 1
            books.note(f"{label} is not in QuickBooks")
        elif Decimal(str(found[0]["TotalAmt"])) != Decimal(str(amount)):
            books.lost[f"{kind} (amount)"] += 1
            books.note(f"{label}: QuickBooks {found[0]['TotalAmt']} ≠ Paymo {amount}")

    for invoice in invoices:
        compare("Invoice", int(invoice["id"]), invoice["total"], f"invoice {invoice['id']}")
        payments = list(invoice.get("invoicepayments") or [])
        seeded = payments_before.get(int(invoice["id"]), 0)
        if len(payments) > seeded:
            books.duplicates["Paymo payment"] += len(payments) - seeded
            books.note(f"invoice {invoice['id']} has {len(payments)} Paymo payments, {seeded} seeded")
        for payment in payments:
            compare("Payment", int(payment["id"]), payment["amount"], f"payment {payment['id']}")
    for expense in expenses:
        compare("Purchase", int(expense["id"]), expense["amount"], f"expense {expense['id']}")

    account = AuditAccount(audit_entries)
    for entity, by_paymo in ours.items():
        for paymo_id, records in by_paymo.items():
            books.checked[f"QuickBooks {entity}"] += len(records)
            for record in records:
                if not account.covers(entity, paymo_id, str(record["Id"])):
                    books.unaudited[entity] += 1
                    books.note(f"{entity} {record['Id']} (Paymo {paymo_id}) is in no write entry")
    return books


def _in_month(value: object) -> bool:
    return value is not None and PERIOD_FROM <= dt.date.fromisoformat(str(value)[:10]) <= PERIOD_TO


# The audit's entity names (the sync's changes) of the QuickBooks entities the scenarios write.
_AUDIT_ENTITY = {"customer": "Customer", "invoice": "Invoice", "payment": "Payment", "expense": "Purchase"}
# `write` outcomes saying this entry's request (or an earlier attempt of ours it replayed or adopted)
# wrote the record.
WROTE = frozenset({"created", "replayed", "recovered", "updated"})


class AuditAccount:
    """Which QuickBooks records the audit log accounts for.

    A record is accounted for by a `write` entry naming it with an outcome that wrote it, or a
    `write_recovered` entry that found it written; or — when a crash left a write's outcome unknown (an
    intent, then a `write_recovered` saying ``unconfirmed``) — by the later `write` entry that linked
    it once the next plan found it by its marker. A record that no entry says was being written, found
    later by its marker and linked, is not accounted for.
    """

    def __init__(self, entries: list[dict[str, Any]]) -> None:
        self.wrote: set[tuple[str | None, str]] = set()
        self.linked: set[tuple[str | None, str]] = set()
        self.intended: set[tuple[str | None, str]] = set()
        for entry in entries:
            event, outcome = entry.get("event"), entry.get("outcome")
            ids = entry.get("ids") or {}
            entity = _AUDIT_ENTITY.get(str(ids.get("entity")))
            qbo_id, paymo_id = ids.get("quickbooks"), ids.get("paymo")
            if event in ("write_intent", "write_recovered") and paymo_id is not None:
                self.intended.add((entity, str(paymo_id)))
            if not qbo_id:
                continue
            found_written = event == "write_recovered" and outcome == "written"
            if found_written or (event == "write" and outcome in WROTE):
                self.wrote.add((entity, str(qbo_id)))
            elif event == "write" and outcome == "linked":
                self.linked.add((entity, str(qbo_id)))

    def covers(self, entity: str, paymo_id: int, qbo_id: str) -> bool:
        if (entity, qbo_id) in self.wrote:
            return True
        return (entity, qbo_id) in self.linked and (entity, str(paymo_id)) in self.intended


def settle(
    row: ScenarioRow, facts: Mapping[str, Any], env: Mapping[str, str], payments_before: Mapping[int, int]
) -> tuple[Books, subprocess.CompletedProcess[str]]:
    """Read both companies and the audit log back, run `audit verify`, and put what they say in the row
    (a broken chain is a failure); the books and the verification, for the scenario's assertions."""
    data_dir = Path(env["PAYMO_QB_DATA_DIR"])
    entries = AuditLog.in_data_dir(data_dir).tail(10**7)
    books = read_books(facts, payments_before=payments_before, audit_entries=entries)
    row.duplicates = sum(books.duplicates.values())
    row.records_lost = sum(books.lost.values())
    row.unaudited_writes = sum(books.unaudited.values())
    if not books.clean:
        row.notes.append(books.summary())
    verified = audit_verify(env)
    if verified.returncode != 0:
        row.failures += 1
        row.notes.append(f"audit verify: {verified.stdout.strip()} {verified.stderr.strip()}"[:400])
    row.notes.append(f"read back: {dict(books.checked)}")
    recovered = Counter(str(e.get("outcome")) for e in entries if e.get("event") == "write_recovered")
    row.notes.append(f"audit: {len(entries)} entries, write_recovered {dict(recovered)}")
    return books, verified
