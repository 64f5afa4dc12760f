"""The reliability suite's fuzz: every tool, through a real MCP client session on the sandbox, with a few
hundred generated bad inputs (``reliability_inputs``: seeded, so a failure replays exactly).

Every answer must be a normal result or an error starting with one of the project's codes — never a
traceback, an ``INTERNAL`` error, a Python exception's name, or a long string or credential the call
carried; nothing may be written to either service (the emulators' request logs and data are compared); the
audit chain must still verify. The table's row: runs = calls, tracebacks = answers that are uncoded,
``INTERNAL`` or a traceback, failures = every other violation, slowest call.

Seen failing against deliberately broken servers, chosen with ``RELIABILITY_BREAK`` (read only here):
``uncoded-errors`` leaves tool errors as the SDK words them (tracebacks > 0); ``echo-values`` adds the SDK's
raw validation text, which quotes the value given, to every error (failures > 0: credentials echoed).
"""

from __future__ import annotations

import builtins
import json
import os
import re
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from mcp.shared.exceptions import MCPError

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "server"))

from reliability_inputs import SEED, BadCall, bad_calls
from reliability_table import ScenarioRow
from request_log_support import books_fingerprint, record_requests
from server_support import ServerEnv, make_env

from paymo_qb_mcp import errors
from paymo_qb_mcp.sandbox.paymo import seed
from paymo_qb_mcp.server import app as server_app
from paymo_qb_mcp.server.tools import TOOL_NAMES

BREAK = os.environ.get("RELIABILITY_BREAK", "")
# What each tool needs for a dry run that plans; the fuzzed argument replaces one of these or comes on top.
BASE: dict[str, dict[str, Any]] = {
    "find_client_match": {"paymo_client_id": seed.STARK, "dry_run": True},
    "sync_invoice": {"paymo_invoice_id": seed.INVOICE_IDS["INV-2026-1035"], "dry_run": True},
    "mark_paid": {"paymo_invoice_id": seed.INVOICE_IDS["INV-2026-1035"], "dry_run": True},
    "push_expenses": {"date_from": "2026-10-01", "date_to": "2026-11-30", "dry_run": True},
    "aggregate_time": {"date_from": "2026-10-01", "date_to": "2026-11-30", "dry_run": True},
    "create_po_from_budget": {"paymo_project_id": seed.STARK_PROTOTYPE, "dry_run": True},
    "reconciliation_report": {"date_from": "2026-10-01", "date_to": "2026-11-30"},
}


def _codes(kind: type[errors.PaymoQbError]) -> set[str]:
    return {kind.code}.union(*(_codes(sub) for sub in kind.__subclasses__()))


# Every code an error may start with (errors.py's tree, and BLOCKED for a plan a guard blocks); INTERNAL is
# the server saying it failed unexpectedly, which the fuzz counts with the tracebacks.
KNOWN_CODES = (_codes(errors.PaymoQbError) - {"ERROR"}) | {"BLOCKED"}
CODE = re.compile(r"^(?P<code>[A-Z][A-Z_]+): ")
# An error says what is wrong in a few sentences, whatever the size of what was sent.
MAX_ERROR_LENGTH = 4000
EXCEPTION_NAMES = re.compile(
    r"\b("
    + "|".join(
        sorted(
            {name for name in dir(builtins) if name.endswith(("Error", "Exception"))}
            | {"ValidationError", "ToolError", "UnexpectedToolError", "ResourceError", "PaymoQbError"}
        )
    )
    + r")\b"
)


def _text(result: Any) -> str:
    return " ".join(str(getattr(block, "text", "")) for block in result.content)


@pytest.fixture
def broken(monkeypatch: pytest.MonkeyPatch) -> str | None:
    """The deliberately broken server RELIABILITY_BREAK asks for (None: the product). Another scenario's
    variant skips the fuzz rather than run it unbroken under a name that says otherwise."""
    original = server_app.coded_error_text
    if BREAK == "uncoded-errors":
        monkeypatch.setattr(server_app, "coded_error_text", lambda text, accepted=None: text)
    elif BREAK == "echo-values":
        monkeypatch.setattr(
            server_app, "coded_error_text", lambda text, accepted=None: f"{original(text, accepted)} [{text}]"
        )
    elif BREAK:
        pytest.skip(f"RELIABILITY_BREAK={BREAK!r} is not a fuzz variant (uncoded-errors, echo-values)")
    return BREAK or None


async def test_fuzz_every_tool(
    tmp_path: Path,
    broken: str | None,  # before the row: a fuzz skipped for another scenario's variant has none
    reliability_row: ScenarioRow,
) -> None:
    env: ServerEnv = make_env(tmp_path)
    requests = record_requests(env)
    books = books_fingerprint(env)
    secrets = [env.sandbox.paymo.api_key, env.sandbox.qbo.access_token]
    violations: list[str] = []
    answers: Counter[str] = Counter()
    slowest: list[tuple[float, str]] = []
    async with env.client() as client:
        schemas = {tool.name: tool.input_schema for tool in (await client.list_tools()).tools}
        assert set(schemas) == set(TOOL_NAMES)
        # The runtime opens on the first call (connecting, catching up the company data): not a fuzz figure.
        assert not (await client.call_tool("sync_status", {})).is_error
        calls = bad_calls(schemas, BASE, secrets, seed=SEED)
        assert len(calls) >= 150
        assert {call.tool for call in calls} >= set(TOOL_NAMES)
        for call in calls:
            sent = len(requests)
            started = time.perf_counter()
            try:
                result = await client.call_tool(call.tool, dict(call.arguments))
                is_error, text = result.is_error, _text(result)
                structured = json.dumps(result.structured_content, default=str)
            except MCPError as error:  # a protocol error: held to the same rules as a tool error
                is_error, text, structured = True, error.message, ""
            took = time.perf_counter() - started
            reliability_row.runs += 1
            reliability_row.call_took(took)
            slowest.append((took, f"{call.tool} {call.label}"))
            what = f"{call.tool} [{call.label}]"
            code = CODE.match(text) if is_error else None
            answers[code.group("code") if code else "error" if is_error else "result"] += 1
            if (
                "Traceback" in text
                or EXCEPTION_NAMES.search(text)
                or (is_error and (code is None or code.group("code") == "INTERNAL"))
            ):
                reliability_row.tracebacks += 1
                violations.append(f"{what}: uncoded or internal: {text[:160]!r}")
                continue
            problems = _problems(call, is_error, code, text, structured, result_ok=not is_error)
            problems += [f"sent a write: {r.method} {r.path}" for r in requests[sent:] if r.writes]
            if problems:
                reliability_row.failures += 1
                violations += [f"{what}: {problem}" for problem in problems]
    if books_fingerprint(env) != books:
        reliability_row.failures += 1
        violations.append("the emulators' data changed")
    if not env.audit().verify().ok:
        reliability_row.failures += 1
        violations.append("the audit chain no longer verifies")
    slowest.sort(reverse=True)
    answered = ", ".join(f"{kind} {count}" for kind, count in answers.most_common())
    reliability_row.notes += [
        f"seed {SEED}",
        answered,
        *(f"{took:.3f}s {what}" for took, what in slowest[:3]),
    ]
    print(
        f"\nfuzz: {reliability_row.runs} calls ({answered}); slowest: "
        + ", ".join(f"{took:.3f}s {what}" for took, what in slowest[:5])
    )
    assert reliability_row.tracebacks == 0, violations[:10]
    assert reliability_row.failures == 0, violations[:10]
    assert reliability_row.runs >= 150


def _problems(
    call: BadCall, is_error: bool, code: re.Match[str] | None, text: str, structured: str, *, result_ok: bool
) -> list[str]:
    problems = []
    if is_error and code is not None and code.group("code") not in KNOWN_CODES:
        problems.append(f"unknown code {code.group('code')}")
    if result_ok and structured == "null":
        problems.append("a result without its structured content")
    if is_error and len(text) > MAX_ERROR_LENGTH:
        problems.append(f"an error of {len(text)} characters")
    answer = f"{text} {structured}".lower()
    problems += [f"echoed {guarded[:20]!r}…" for guarded in call.guarded if guarded.lower() in answer]
    return problems
