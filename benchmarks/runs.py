"""One benchmark run — one size N and one mode — in the process that calls it (the orchestrator starts a
fresh subprocess for each, so peak RSS is the run's own).

Modes: `a` (one `sync_invoice` call per invoice through a real MCP client session), `b` (the period
plan: one `sync_invoice` call for the seeded period), `c` (the naive baseline, straight HTTP). Suffixes:
`-confirm` (a policy that asks the human, who accepts; the elicitations are counted) and `-limits` (the
emulators enforce the services' real rate limits and the product paces itself with its own limiters,
both on the time-scale knob when the code has one). Whatever the server under test does not offer yet
(the period selection, the time-scale knob) is detected here and reported, never imitated.
"""

from __future__ import annotations

import inspect
import re
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

import yaml
from mcp import Client
from mcp.server import MCPServer
from mcp.types import CallToolResult, ElicitRequestParams, ElicitResult, TextContent

from benchmarks.measure import (
    Mark,
    Meter,
    Span,
    check_books,
    cpu_seconds,
    lower_bound,
    mean_of_tenths,
    peak_rss_mb,
    rss_now_mb,
)
from benchmarks.naive import run_naive
from benchmarks.seeding import Dataset, seed_volume, tax_combinations
from paymo_qb_mcp.config.policy import load_policy
from paymo_qb_mcp.config.settings import shipped_policy_path
from paymo_qb_mcp.net.ratelimit import PaymoPacer, QboRealmLimiter, RateLimiter, UnlimitedLimiter
from paymo_qb_mcp.quickbooks.tokens import StaticTokenProvider
from paymo_qb_mcp.sandbox.core import DEFAULT_PAYMO_BASE_URL, DEFAULT_QBO_BASE_URL, RateLimits, Sandbox
from paymo_qb_mcp.server.app import build_server
from paymo_qb_mcp.server.runtime import Connection, runtime_opener

__all__ = ["MODES", "ModeSpec", "TimeScale", "detect_time_scale", "run_one"]

BASES = ("a", "b", "c")
MODES = ("a", "b", "b-confirm", "c", "b-limits", "c-limits", "a-limits", "b-confirm-limits")
SYNC_STATUS_REPEATS = 5
_CODE = re.compile(r"^([A-Z][A-Z_]+):")


@dataclass(frozen=True)
class ModeSpec:
    name: str
    base: str
    confirm: bool
    limits: bool

    @classmethod
    def parse(cls, name: str) -> ModeSpec:
        base, *flags = name.split("-")
        if base not in BASES or not set(flags) <= {"confirm", "limits"} or len(set(flags)) != len(flags):
            raise ValueError(f"unknown mode {name!r}: a, b or c, optionally with -confirm and/or -limits")
        if base == "c" and "confirm" in flags:
            raise ValueError("the naive baseline (c) asks nobody: c-confirm makes no sense")
        return cls(name, base, "confirm" in flags, "limits" in flags)


@dataclass(frozen=True)
class TimeScale:
    """The rate-limit time scale asked for, and whether the code under test can apply it."""

    requested: float
    emulators: bool
    limiters: bool

    @property
    def supported(self) -> bool:
        return self.emulators and self.limiters

    @property
    def effective(self) -> float:
        return self.requested if self.supported else 1.0

    def notes(self) -> list[str]:
        if self.supported or self.requested == 1.0:
            return []
        missing = [
            name
            for name, present in (
                ("the emulators (Sandbox.create)", self.emulators),
                ("the client limiters (QboRealmLimiter, PaymoPacer)", self.limiters),
            )
            if not present
        ]
        return [
            f"time_scale is not supported by this code ({' and '.join(missing)} take no time_scale): "
            f"rate limits run in real time (scale 1), not at the requested {self.requested}"
        ]

    def as_dict(self) -> dict[str, Any]:
        return {
            "requested": self.requested,
            "effective": self.effective,
            "emulators": self.emulators,
            "limiters": self.limiters,
        }


def _takes(function: Callable[..., Any], name: str) -> bool:
    return name in inspect.signature(function).parameters


def detect_time_scale(requested: float) -> TimeScale:
    """Whether the emulators and the client limiters take `time_scale` (the pacing work adds it)."""
    return TimeScale(
        requested=requested,
        emulators=_takes(Sandbox.create, "time_scale"),
        limiters=_takes(QboRealmLimiter, "time_scale") and _takes(PaymoPacer, "time_scale"),
    )


def _scale_kwargs(scale: TimeScale, present: bool) -> dict[str, Any]:
    return {"time_scale": scale.effective} if scale.supported and present else {}


def make_sandbox(mode: ModeSpec, scale: TimeScale) -> Sandbox:
    rate_limits: RateLimits = "faithful" if mode.limits else "relaxed"
    return Sandbox.create("empty", "global", rate_limits, **_scale_kwargs(scale, scale.emulators))


def make_limiters(mode: ModeSpec, scale: TimeScale) -> tuple[RateLimiter, RateLimiter]:
    """(Paymo, QBO) limiters: none against relaxed emulators, the product's own under real limits."""
    if not mode.limits:
        return UnlimitedLimiter(), UnlimitedLimiter()
    kwargs = _scale_kwargs(scale, scale.limiters)
    return PaymoPacer(**kwargs), QboRealmLimiter(**kwargs)


def write_policy(path: Path, *, confirm: bool) -> Path:
    """The shipped policy with its mappings, its reads-free and closed-books rules, writes allowed by
    default and no write budget to speak of; with `confirm`, every sync_invoice plan needs the human."""
    document = yaml.safe_load(shipped_policy_path().read_text(encoding="utf-8"))
    rules = [rule for rule in document.get("rules", []) if rule.get("effect") != "confirm"]
    if confirm:
        rules.append(
            {
                "name": "benchmark: a human approves each sync_invoice plan",
                "tools": ["sync_invoice"],
                "when": {"operation": "write"},
                "effect": "confirm",
            }
        )
    document["rules"] = rules
    document["default"] = "allow"
    document["limits"] = {**(document.get("limits") or {}), "writes_per_minute": 1_000_000}
    mapped = {
        tuple(Decimal(str(percent)) for percent in code["paymo_percents"])
        for code in document["mappings"]["tax"]["codes"]
    }
    unmapped = [
        combo for combo in tax_combinations() if tuple(Decimal(percent) for percent in combo) not in mapped
    ]
    if unmapped:
        raise RuntimeError(f"the shipped policy maps no QBO tax code for Paymo percents {unmapped}")
    path.write_text(yaml.safe_dump(document, sort_keys=False, allow_unicode=True), encoding="utf-8")
    return path


def build_mcp_server(
    sandbox: Sandbox,
    meter: Meter,
    policy_path: Path,
    data_dir: Path,
    mode: ModeSpec,
    scale: TimeScale,
) -> MCPServer:
    """The product's MCP server over the in-process sandbox, as tests/server/server_support.py builds it.

    Against relaxed emulators it paces nothing; under the services' limits it paces as it would against
    the real services — its own process-wide limiters (batches included) — on the same time scale."""
    policy = load_policy(policy_path)
    connection = Connection(
        paymo_base_url=DEFAULT_PAYMO_BASE_URL,
        paymo_api_key=sandbox.paymo.api_key,
        qbo_base_url=DEFAULT_QBO_BASE_URL,
        qbo_realm_id=sandbox.qbo.realm_id,
        qbo_tokens=StaticTokenProvider(sandbox.qbo.access_token),
        paymo_transport=meter.transport("paymo"),
        qbo_transport=meter.transport("qbo"),
        paymo_limiter=None if mode.limits else UnlimitedLimiter(),
        qbo_limiter=None if mode.limits else UnlimitedLimiter(),
        label="sandbox (benchmark)",
        time_scale=scale.effective if mode.limits else 1.0,
    )

    factory = runtime_opener(connection, policy=policy, data_dir=data_dir)

    return build_server(factory, policy_path=policy_path)


@dataclass
class Human:
    """Accepts every elicitation, counting them and noting when the first one came."""

    seen: int = 0
    first_at: float | None = None
    messages: list[str] = field(default_factory=list)

    async def __call__(self, context: Any, params: ElicitRequestParams) -> ElicitResult:
        self.seen += 1
        if self.first_at is None:
            self.first_at = time.perf_counter()
        if len(self.messages) < 3:
            self.messages.append(str(getattr(params, "message", ""))[:2000])
        return ElicitResult(action="accept", content={"approve": True, "note": "benchmark"})


def outcome_of(result: CallToolResult) -> str:
    """A tool call's outcome: its status, or the error's code (BLOCKED, POLICY_DENIED, ...)."""
    if result.is_error:
        for block in result.content:
            if isinstance(block, TextContent):
                match = _CODE.match(block.text)
                return match.group(1).lower() if match else "error"
        return "error"
    return str((result.structured_content or {}).get("status", "unknown"))


def _error_text(result: CallToolResult) -> str:
    return " ".join(block.text for block in result.content if isinstance(block, TextContent))[:500]


async def _median_call_time(client: Client, tool: str, arguments: dict[str, Any]) -> float:
    times: list[float] = []
    for _ in range(SYNC_STATUS_REPEATS):
        started = time.perf_counter()
        result = await client.call_tool(tool, arguments)
        times.append(time.perf_counter() - started)
        if result.is_error:
            raise RuntimeError(f"{tool} failed: {_error_text(result)}")
    return statistics.median(times)


def _per(count: int, synced: int) -> float | None:
    return round(count / synced, 3) if synced else None


def _ratio(numerator: float | None, denominator: float | None) -> float | None:
    if numerator is None or not denominator:
        return None
    return round(numerator / denominator, 3)


def empty_result(n: int, mode: ModeSpec, scale: TimeScale) -> dict[str, Any]:
    """Every figure a run reports, None until measured (so a report always has the same shape)."""
    return {
        "n": n,
        "mode": mode.name,
        "status": "ok",
        "reason": None,
        "notes": [],
        "rate_limits": "faithful" if mode.limits else "relaxed",
        "time_scale": scale.effective if mode.limits else None,
        "seed_s": None,
        "rss_after_seed_mb": None,
        "dataset": None,
        "invoices": None,
        "synced": None,
        "outcomes": None,
        "wall_s": None,
        "cpu_s": None,
        "latency": {
            "calls": None,
            "first_tenth_mean_s": None,
            "last_tenth_mean_s": None,
            "last_over_first": None,
        },
        "traffic": None,
        "per_synced_invoice": {"qbo": None, "paymo": None},
        "warm_per_invoice": {"qbo": None, "paymo": None},
        "throttled": {"qbo": None, "paymo": None},
        "peak_rss_mb": None,
        "books": None,
        "elicitations": None,
        "time_to_first_elicitation_s": None,
        "real_limits_lower_bound_s": None,
        "lower_bound": None,
        "wall_over_lower_bound": None,
        "reconciliation_report": None,
        "sync_status": None,
        "failures": [],
    }


async def run_one(
    n: int, mode_name: str, *, seed: int, time_scale: float, timeout_s: float
) -> dict[str, Any]:
    mode = ModeSpec.parse(mode_name)
    scale = detect_time_scale(time_scale)
    report = empty_result(n, mode, scale)
    if mode.limits:
        report["notes"].extend(scale.notes())
    sandbox = make_sandbox(mode, scale)
    started = time.perf_counter()
    dataset = seed_volume(sandbox, n, seed=seed)
    report["seed_s"] = round(time.perf_counter() - started, 3)
    report["rss_after_seed_mb"] = _round(rss_now_mb())
    report["dataset"] = dataset.describe()
    report["invoices"] = len(dataset.invoice_ids)
    meter = Meter(sandbox)
    limiters = make_limiters(mode, scale)
    work = Path(tempfile.mkdtemp(prefix="paymo-qb-bench-"))
    try:
        if mode.base == "c":
            await _naive(report, sandbox, dataset, meter, limiters)
        else:
            policy_path = write_policy(work / "policies.yaml", confirm=mode.confirm)
            server = build_mcp_server(sandbox, meter, policy_path, work / "data", mode, scale)
            await _product(report, mode, server, sandbox, dataset, meter, timeout_s)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return report


def _round(value: float | None, places: int = 3) -> float | None:
    return None if value is None else round(value, places)


def _traffic(report: dict[str, Any], span: Span, synced: int, wall: float, mode: ModeSpec) -> None:
    report["traffic"] = span.summary()
    report["per_synced_invoice"] = {
        service: _per(span.count(service), synced) for service in ("qbo", "paymo")
    }
    report["throttled"] = {service: span.throttled(service) for service in ("qbo", "paymo")}
    report["real_limits_lower_bound_s"] = round(lower_bound(span, 1.0)["seconds"], 3)
    if mode.limits:
        bound = lower_bound(span, report["time_scale"] or 1.0)
        report["lower_bound"] = bound
        report["wall_over_lower_bound"] = _ratio(wall, bound["seconds"])


async def _naive(
    report: dict[str, Any],
    sandbox: Sandbox,
    dataset: Dataset,
    meter: Meter,
    limiters: tuple[RateLimiter, RateLimiter],
) -> None:
    customers_before = len(sandbox.qbo.state.tables["Customer"])
    start = meter.mark()
    cpu_before = cpu_seconds()
    started = time.perf_counter()
    result = await run_naive(
        sandbox,
        dataset,
        paymo_transport=meter.transport("paymo"),
        qbo_transport=meter.transport("qbo"),
        paymo_limiter=limiters[0],
        qbo_limiter=limiters[1],
    )
    wall = time.perf_counter() - started
    span = meter.since(start)
    report["peak_rss_mb"] = round(peak_rss_mb(), 1)
    report["cpu_s"] = round(cpu_seconds() - cpu_before, 3)
    report["wall_s"] = round(wall, 3)
    report["outcomes"] = dict(result.outcomes)
    report["failures"] = result.failures
    synced = result.outcomes.get("created", 0)
    report["synced"] = synced
    _latency(report, result.latencies)
    _traffic(report, span, synced, wall, ModeSpec.parse(report["mode"]))
    report["books"] = check_books(sandbox, dataset.invoice_ids, customers_before).as_dict()


def _latency(report: dict[str, Any], latencies: list[float]) -> None:
    first, last = mean_of_tenths(latencies)
    report["latency"] = {
        "calls": len(latencies),
        "first_tenth_mean_s": _round(first, 4),
        "last_tenth_mean_s": _round(last, 4),
        "last_over_first": _ratio(last, first),
    }


async def _product(
    report: dict[str, Any],
    mode: ModeSpec,
    server: MCPServer,
    sandbox: Sandbox,
    dataset: Dataset,
    meter: Meter,
    timeout_s: float,
) -> None:
    human = Human()
    async with Client(server, elicitation_callback=human, read_timeout_seconds=timeout_s) as client:
        tools = {tool.name: tool for tool in (await client.list_tools()).tools}
        arguments = set(tools["sync_invoice"].input_schema.get("properties", {}))
        if mode.base == "b" and not {"date_from", "date_to"} <= arguments:
            report["status"] = "not_supported"
            report["reason"] = (
                "not supported by this server: sync_invoice takes no period selection "
                f"(date_from/date_to); its arguments are {sorted(arguments)}"
            )
            return
        status_empty = await _median_call_time(client, "sync_status", {})
        customers_before = len(sandbox.qbo.state.tables["Customer"])
        start = meter.mark()
        cpu_before = cpu_seconds()
        started = time.perf_counter()
        if mode.base == "a":
            outcomes, latencies, warm_from = await _one_call_each(report, client, dataset, meter)
        else:
            outcomes, latencies, warm_from = await _period(report, client, dataset, timeout_s)
        wall = time.perf_counter() - started
        end = meter.mark()
        report["peak_rss_mb"] = round(peak_rss_mb(), 1)
        report["cpu_s"] = round(cpu_seconds() - cpu_before, 3)
        report["wall_s"] = round(wall, 3)
        report["outcomes"] = outcomes
        report["elicitations"] = human.seen
        if human.first_at is not None:
            report["time_to_first_elicitation_s"] = round(human.first_at - started, 3)
        if human.messages:
            report["notes"].append(f"first question the human saw: {human.messages[0][:300]!r}")
        books = check_books(sandbox, dataset.invoice_ids, customers_before)
        report["books"] = books.as_dict()
        synced = outcomes.get("applied", 0) + outcomes.get("unchanged", 0)
        if mode.base == "b" and not any(outcomes.values()):
            synced = books.in_qbo
            report["notes"].append("the result listed no per-invoice entries: synced = invoices found in QBO")
        report["synced"] = synced
        _latency(report, latencies)
        span = meter.since(start, end)
        _traffic(report, span, synced, wall, mode)
        if warm_from is not None:
            warm = meter.since(warm_from, end)
            calls = max(len(latencies) - 1, 1)
            report["warm_per_invoice"] = {
                service: round(warm.count(service) / calls, 3) for service in ("qbo", "paymo")
            }
        await _reads_at_size(report, client, dataset, meter, status_empty)


async def _one_call_each(
    report: dict[str, Any], client: Client, dataset: Dataset, meter: Meter
) -> tuple[dict[str, int], list[float], Mark | None]:
    """One sync_invoice call per invoice, in id order; the traffic after the first call is the warm one."""
    outcomes: dict[str, int] = {}
    latencies: list[float] = []
    warm_from: Mark | None = None
    total = len(dataset.invoice_ids)
    for index, invoice_id in enumerate(dataset.invoice_ids):
        started = time.perf_counter()
        result = await client.call_tool("sync_invoice", {"paymo_invoice_id": invoice_id})
        latencies.append(time.perf_counter() - started)
        outcome = outcome_of(result)
        outcomes[outcome] = outcomes.get(outcome, 0) + 1
        if outcome not in ("applied", "unchanged") and len(report["failures"]) < 20:
            report["failures"].append(f"{invoice_id}: {outcome}: {_error_text(result)}")
        if index == 0:
            warm_from = meter.mark()
        if total >= 20 and (index + 1) % max(total // 10, 1) == 0:
            _progress(f"  mode a: {index + 1}/{total} invoices, last call {latencies[-1] * 1000:.0f} ms")
    return outcomes, latencies, warm_from


async def _period(
    report: dict[str, Any], client: Client, dataset: Dataset, timeout_s: float
) -> tuple[dict[str, int], list[float], Mark | None]:
    """One sync_invoice call for the whole seeded period; per-invoice statuses from its results."""
    arguments = {"date_from": dataset.date_from.isoformat(), "date_to": dataset.date_to.isoformat()}
    started = time.perf_counter()
    result = await client.call_tool("sync_invoice", arguments, read_timeout_seconds=timeout_s)
    latencies = [time.perf_counter() - started]
    top = outcome_of(result)
    report["notes"].append(f"period call: {top}")
    if result.is_error:
        report["failures"].append(f"period: {top}: {_error_text(result)}")
    outcomes: dict[str, int] = {}
    wanted = set(dataset.invoice_ids)
    for entry in (result.structured_content or {}).get("results") or []:
        if not isinstance(entry, dict) or entry.get("paymo_invoice_id") is None:
            continue  # record results of other kinds (customers) carry no invoice status
        if int(entry["paymo_invoice_id"]) not in wanted:
            continue
        status = str(entry.get("status", "unknown"))
        outcomes[status] = outcomes.get(status, 0) + 1
        if status not in ("applied", "unchanged") and len(report["failures"]) < 20:
            report["failures"].append(f"{entry['paymo_invoice_id']}: {status}: {entry.get('reason')}")
    return outcomes, latencies, None


async def _reads_at_size(
    report: dict[str, Any], client: Client, dataset: Dataset, meter: Meter, status_empty: float
) -> None:
    """`sync_status` at the ledger's new size against the empty one; `reconciliation_report` requests."""
    status_full = await _median_call_time(client, "sync_status", {})
    status = await client.call_tool("sync_status", {})
    links = sum(
        int(row.get("links", 0))
        for row in (status.structured_content or {}).get("links", [])
        if isinstance(row, dict)
    )
    report["sync_status"] = {
        "empty_s": round(status_empty, 4),
        "at_size_s": round(status_full, 4),
        "ledger_links": links,
        "at_size_over_empty": _ratio(status_full, status_empty),
    }
    start = meter.mark()
    started = time.perf_counter()
    result = await client.call_tool(
        "reconciliation_report",
        {"date_from": dataset.date_from.isoformat(), "date_to": dataset.date_to.isoformat()},
    )
    elapsed = time.perf_counter() - started
    span = meter.since(start)
    report["reconciliation_report"] = {
        "s": round(elapsed, 3),
        "ok": not result.is_error,
        "qbo_requests": span.count("qbo"),
        "paymo_requests": span.count("paymo"),
        "qbo_response_bytes": span.response_bytes["qbo"],
    }


def _progress(text: str) -> None:
    print(text, file=sys.stderr, flush=True)
