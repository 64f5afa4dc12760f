"""What the benchmark counts and how: bytes on the wire (an ASGI wrapper), requests and throttles (the
emulators' own request logs), the rate limits' lower bound, the books' correctness (read from the
emulators' state, never through counted requests), memory and CPU."""

from __future__ import annotations

import math
import os
import resource
import statistics
import sys
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import httpx
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from paymo_qb_mcp.domain.keys import find_markers
from paymo_qb_mcp.sandbox.core import Sandbox
from paymo_qb_mcp.sandbox.faults import LoggedRequest

__all__ = [
    "PAYMO_LIMITS",
    "QBO_LIMITS",
    "Books",
    "Meter",
    "Window",
    "check_books",
    "lower_bound",
    "mean_of_tenths",
    "peak_rss_mb",
    "rss_now_mb",
]

SERVICES = ("qbo", "paymo")


@dataclass(frozen=True)
class Window:
    """A rate limit: at most `limit` requests of a kind in any `period_s` seconds."""

    name: str
    limit: int
    period_s: float
    batch_only: bool = False


# The services' real limits (../shared/reference/): QBO per realm, Paymo per API key.
QBO_LIMITS = (
    Window("qbo 500/min", 500, 60.0),
    Window("qbo 10/s", 10, 1.0),
    Window("qbo batch 40/min", 40, 60.0, batch_only=True),
)
PAYMO_LIMITS = (Window("paymo 5/5s", 5, 5.0),)


@dataclass
class Traffic:
    request_bytes: int = 0
    response_bytes: int = 0


def counting_app(app: ASGIApp, traffic: Traffic) -> ASGIApp:
    """The emulator's ASGI app, counting request and response body bytes as they pass."""

    async def counted(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await app(scope, receive, send)
            return

        async def receive_counted() -> Message:
            message = await receive()
            if message["type"] == "http.request":
                traffic.request_bytes += len(message.get("body", b""))
            return message

        async def send_counted(message: Message) -> None:
            if message["type"] == "http.response.body":
                traffic.response_bytes += len(message.get("body", b""))
            await send(message)

        await app(scope, receive_counted, send_counted)

    return counted


@dataclass
class Mark:
    """Where each service's request log and byte counters stood at one moment."""

    log_index: dict[str, int]
    request_bytes: dict[str, int]
    response_bytes: dict[str, int]


@dataclass
class Span:
    """Traffic between two marks, per service."""

    requests: dict[str, list[LoggedRequest]] = field(default_factory=dict)
    request_bytes: dict[str, int] = field(default_factory=dict)
    response_bytes: dict[str, int] = field(default_factory=dict)

    def count(self, service: str) -> int:
        return len(self.requests[service])

    def throttled(self, service: str) -> int:
        return sum(1 for entry in self.requests[service] if entry.status == 429)

    def batches(self, service: str) -> int:
        return sum(
            1
            for entry in self.requests[service]
            if entry.method == "POST" and entry.path.rstrip("/").lower().endswith("/batch")
        )

    def by_endpoint(self, service: str) -> dict[str, int]:
        """Requests per method and endpoint kind (ids and query text left out), most frequent first."""
        counts: dict[str, int] = defaultdict(int)
        for entry in self.requests[service]:
            counts[f"{entry.method} {_endpoint(service, entry)}"] += 1
        return dict(sorted(counts.items(), key=lambda item: (-item[1], item[0])))

    def summary(self) -> dict[str, Any]:
        return {
            service: {
                "requests": self.count(service),
                "throttled": self.throttled(service),
                "batch_requests": self.batches(service),
                "request_bytes": self.request_bytes[service],
                "response_bytes": self.response_bytes[service],
                "by_endpoint": self.by_endpoint(service),
            }
            for service in SERVICES
        }


def _endpoint(service: str, entry: LoggedRequest) -> str:
    parts = [part for part in entry.path.split("/") if part]
    if service == "qbo":
        # /v3/company/{realm}/{entity}[/{id}]; a query names its entity after FROM.
        rest = parts[3:]
        if rest and rest[0].lower() == "query":
            if entry.method == "GET":
                text = httpx.QueryParams(entry.query).get("query") or ""
            else:
                text = entry.body.decode("utf-8", "replace")
            words = text.split()
            lowered = [word.lower() for word in words]
            if "from" in lowered and lowered.index("from") + 1 < len(words):
                return f"query {words[lowered.index('from') + 1]}"
            return "query"
        return "/".join(part if not part.isdigit() else "{id}" for part in rest) or "/"
    rest = parts[1:]  # /api/{collection}[/{id}]
    return "/".join(part if not part.isdigit() else "{id}" for part in rest) or "/"


class Meter:
    """Transports that count bytes, and marks over both emulators' request logs."""

    def __init__(self, sandbox: Sandbox) -> None:
        self.sandbox = sandbox
        self.traffic = {service: Traffic() for service in SERVICES}

    def transport(self, service: str) -> httpx.ASGITransport:
        emulator = self.sandbox.qbo if service == "qbo" else self.sandbox.paymo
        return httpx.ASGITransport(app=counting_app(emulator.app, self.traffic[service]))

    def _log(self, service: str) -> list[LoggedRequest]:
        return self.sandbox.qbo.request_log if service == "qbo" else self.sandbox.paymo.request_log

    def mark(self) -> Mark:
        return Mark(
            log_index={service: len(self._log(service)) for service in SERVICES},
            request_bytes={service: self.traffic[service].request_bytes for service in SERVICES},
            response_bytes={service: self.traffic[service].response_bytes for service in SERVICES},
        )

    def since(self, start: Mark, end: Mark | None = None) -> Span:
        end = end or self.mark()
        return Span(
            requests={
                service: self._log(service)[start.log_index[service] : end.log_index[service]]
                for service in SERVICES
            },
            request_bytes={
                service: end.request_bytes[service] - start.request_bytes[service] for service in SERVICES
            },
            response_bytes={
                service: end.response_bytes[service] - start.response_bytes[service] for service in SERVICES
            },
        )


def floor_time(count: int, window: Window) -> float:
    """The earliest the `count`-th request can go under one window: floor((k - 1) / L) · P."""
    if count <= 0:
        return 0.0
    return math.floor((count - 1) / window.limit) * window.period_s


def lower_bound(span: Span, time_scale: float) -> dict[str, Any]:
    """The least wall time the services' limits allow for the requests in `span` (both services are
    used side by side, so the bound is the largest single window's), in seconds with every window
    `time_scale` times shorter (the emulators' `--rate-time-scale`)."""
    windows: dict[str, float] = {}
    for window in QBO_LIMITS:
        count = span.batches("qbo") if window.batch_only else span.count("qbo")
        windows[window.name] = floor_time(count, window) / time_scale
    for window in PAYMO_LIMITS:
        windows[window.name] = floor_time(span.count("paymo"), window) / time_scale
    binding = max(windows, key=lambda name: windows[name])
    return {"seconds": windows[binding], "binding": binding, "windows": windows, "time_scale": time_scale}


@dataclass(frozen=True)
class Books:
    """What QBO holds for the seeded Paymo invoices, read straight from the emulators' state."""

    expected: int
    in_qbo: int
    missing: int
    mismatches: int
    duplicates: int
    customers_created: int
    duplicate_customers: int

    def as_dict(self) -> dict[str, int]:
        return dict(self.__dict__)


def check_books(sandbox: Sandbox, invoice_ids: Sequence[int], customers_before: int) -> Books:
    """Each Paymo invoice's QBO invoices (by our marker in PrivateNote, else by DocNumber = the Paymo
    number): missing, more than one (duplicates), or a TotalAmt other than Paymo's total (mismatches)."""
    paymo_invoices = sandbox.paymo.state.tables["invoices"]
    by_number = {str(record["number"]): record_id for record_id, record in paymo_invoices.items()}
    found: dict[int, list[dict[str, Any]]] = defaultdict(list)
    for record in sandbox.qbo.state.tables["Invoice"].values():
        owners = {
            marker.paymo_id for marker in find_markers(record.get("PrivateNote")) if marker.kind == "invoice"
        }
        if not owners and str(record.get("DocNumber")) in by_number:
            owners = {by_number[str(record.get("DocNumber"))]}
        for owner in owners:
            found[owner].append(record)
    wanted = set(invoice_ids)
    mismatches = 0
    for paymo_id in wanted & set(found):
        paymo_total = Decimal(paymo_invoices[paymo_id]["total"])
        if any(Decimal(str(record.get("TotalAmt", 0))) != paymo_total for record in found[paymo_id]):
            mismatches += 1
    customers = list(sandbox.qbo.state.tables["Customer"].values())
    emails: dict[str, int] = defaultdict(int)
    for customer in customers:
        address = (customer.get("PrimaryEmailAddr") or {}).get("Address")
        if address:
            emails[str(address).lower()] += 1
    return Books(
        expected=len(wanted),
        in_qbo=len(wanted & set(found)),
        missing=len(wanted - set(found)),
        mismatches=mismatches,
        duplicates=sum(1 for paymo_id in wanted if len(found.get(paymo_id, ())) > 1),
        customers_created=len(customers) - customers_before,
        duplicate_customers=sum(1 for count in emails.values() if count > 1),
    )


def mean_of_tenths(latencies: Sequence[float]) -> tuple[float | None, float | None]:
    """Mean latency of the first and of the last tenth of the calls (at least one call each)."""
    if not latencies:
        return None, None
    tenth = max(1, len(latencies) // 10)
    return statistics.fmean(latencies[:tenth]), statistics.fmean(latencies[-tenth:])


def peak_rss_mb() -> float:
    """This process's peak resident set size so far (Linux reports KiB, macOS bytes)."""
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / (1024 * 1024) if sys.platform == "darwin" else peak / 1024


def rss_now_mb() -> float | None:
    """The current resident set size, where /proc tells it (Linux); None elsewhere."""
    try:
        with open("/proc/self/statm", encoding="ascii") as statm:
            pages = int(statm.read().split()[1])
    except (OSError, ValueError, IndexError):
        return None
    return pages * os.sysconf("SC_PAGE_SIZE") / (1024 * 1024)


def cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime
