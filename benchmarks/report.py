"""The benchmark's verdicts and tables: issue 8's targets next to the measured values (met / not met /
not measured), and the runs as a plain-text or Markdown table."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

__all__ = ["Target", "evaluate_targets", "merge", "render"]

Run = dict[str, Any]
TARGET_N = 1000
LARGE_N = 5000
# "Flat in N": at the larger size, at most this factor of the empty-ledger time, or this many seconds more
# (a call of a millisecond or two is at the clock's and the scheduler's mercy).
FLAT_FACTOR = 1.5
FLAT_SLACK_S = 0.010


@dataclass(frozen=True)
class Target:
    key: str
    text: str
    measured: str
    met: bool | None

    def as_dict(self) -> dict[str, Any]:
        return {"key": self.key, "target": self.text, "measured": self.measured, "met": self.met}


def _run(runs: Sequence[Run], n: int, *modes: str) -> Run | None:
    """The first measured (status ok) run of size `n` among `modes`, in the order given."""
    for mode in modes:
        for run in runs:
            if run.get("n") == n and run.get("mode") == mode and run.get("status") == "ok":
                return run
    return None


def _why_missing(runs: Sequence[Run], n: int, *modes: str) -> str:
    for mode in modes:
        for run in runs:
            if run.get("n") == n and run.get("mode") == mode:
                # The reason is in the notes; a target only says which run it would have needed.
                return f"N={n} mode {mode}: {str(run.get('status')).replace('_', ' ')}"
    return f"not measured (no run of N={n}, mode {' or '.join(modes)})"


def _check(
    key: str,
    text: str,
    runs: Sequence[Run],
    n: int,
    modes: Sequence[str],
    value: Callable[[Run], float | None],
    passes: Callable[[float], bool],
    shown: Callable[[float, Run], str],
) -> Target:
    run = _run(runs, n, *modes)
    if run is None:
        return Target(key, text, _why_missing(runs, n, *modes), None)
    measured = value(run)
    if measured is None:
        return Target(key, text, f"N={n} mode {run['mode']}: no value", None)
    return Target(key, text, f"{shown(measured, run)} (N={n}, mode {run['mode']})", passes(measured))


def _get(run: Run, *path: str) -> Any:
    value: Any = run
    for key in path:
        if not isinstance(value, dict):
            return None
        value = value.get(key)
    return value


def evaluate_targets(data: dict[str, Any]) -> list[Target]:
    runs: list[Run] = list(data.get("runs", []))
    return [
        _check(
            "period_qbo_requests",
            "Period plan at N=1,000: ≤ 1.2 QBO requests per synced invoice (refreshes, read-backs included)",
            runs,
            TARGET_N,
            ["b"],
            lambda run: _get(run, "per_synced_invoice", "qbo"),
            lambda value: value <= 1.2,
            lambda value, run: f"{value:.2f}",
        ),
        _check(
            "period_paymo_requests",
            "Period plan at N=1,000: ≤ 1.2 Paymo requests per synced invoice",
            runs,
            TARGET_N,
            ["b"],
            lambda run: _get(run, "per_synced_invoice", "paymo"),
            lambda value: value <= 1.2,
            lambda value, run: f"{value:.2f}",
        ),
        _check(
            "period_mismatches",
            "Period plan at N=1,000: 0 total mismatches (and every invoice in QBO)",
            runs,
            TARGET_N,
            ["b"],
            lambda run: float(_get(run, "books", "mismatches") + _get(run, "books", "missing")),
            lambda value: value == 0,
            lambda value, run: f"{run['books']['mismatches']} mismatches, {run['books']['missing']} missing",
        ),
        _check(
            "period_vs_lower_bound",
            "Period plan under the real limits at N=1,000: wall time ≤ 1.25 × the limits' lower bound",
            runs,
            TARGET_N,
            ["b-limits"],
            lambda run: run.get("wall_over_lower_bound"),
            lambda value: value <= 1.25,
            lambda value, run: (
                f"{value:.2f} × ({run['wall_s']:.1f} s vs {run['lower_bound']['seconds']:.1f} s)"
            ),
        ),
        _faster_than_naive(runs),
        _no_slower_than_naive(runs),
        _check(
            "warm_call_qbo_requests",
            "One call per invoice with a warm cache: ≤ 4 QBO requests per invoice",
            runs,
            TARGET_N,
            ["a"],
            lambda run: _get(run, "warm_per_invoice", "qbo"),
            lambda value: value <= 4,
            lambda value, run: f"{value:.2f}",
        ),
        _check(
            "latency_flat",
            "One call per invoice: last tenth's mean latency ≤ 1.3 × the first tenth's at N=1,000",
            runs,
            TARGET_N,
            ["a"],
            lambda run: _get(run, "latency", "last_over_first"),
            lambda value: value <= 1.3,
            lambda value, run: (
                f"{value:.2f} × ({run['latency']['first_tenth_mean_s'] * 1000:.0f} → "
                f"{run['latency']['last_tenth_mean_s'] * 1000:.0f} ms)"
            ),
        ),
        _rss(runs),
        _no_throttles(runs),
        _startup(data.get("startup")),
        _check(
            "reconciliation_requests",
            "reconciliation_report at N=1,000 (after the sync) in ≤ 30 QBO requests",
            runs,
            TARGET_N,
            ["b", "a"],
            lambda run: _get(run, "reconciliation_report", "qbo_requests"),
            lambda value: value <= 30,
            lambda value, run: f"{value:.0f} requests",
        ),
        _sync_status_flat(runs),
        _one_approval(runs),
        _still_correct(runs),
    ]


def _sync_status_flat(runs: Sequence[Run]) -> Target:
    text = (
        f"sync_status flat in the ledger's size (at N=1,000 ≤ {FLAT_FACTOR} × the empty ledger's time, "
        f"or + {FLAT_SLACK_S * 1000:.0f} ms)"
    )
    run = _run(runs, TARGET_N, "b", "a")
    status = _get(run, "sync_status") if run else None
    if run is None or not status:
        return Target("sync_status_flat", text, _why_missing(runs, TARGET_N, "b", "a"), None)
    empty, full = status["empty_s"], status["at_size_s"]
    met = full <= max(FLAT_FACTOR * empty, empty + FLAT_SLACK_S)
    measured = (
        f"{full * 1000:.1f} ms at {status['ledger_links']} links vs {empty * 1000:.1f} ms empty "
        f"(N={TARGET_N}, mode {run['mode']})"
    )
    return Target("sync_status_flat", text, measured, met)


def _faster_than_naive(runs: Sequence[Run]) -> Target:
    text = "Period plan under the real limits at N=1,000: ≥ 3× faster than the naive baseline under them"
    period, naive = _run(runs, TARGET_N, "b-limits"), _run(runs, TARGET_N, "c-limits")
    if period is None or naive is None:
        missing = (
            _why_missing(runs, TARGET_N, "b-limits")
            if period is None
            else _why_missing(runs, TARGET_N, "c-limits")
        )
        return Target("period_vs_naive_limits", text, missing, None)
    speedup = naive["wall_s"] / period["wall_s"]
    measured = f"{speedup:.2f}× ({period['wall_s']:.1f} s vs naive {naive['wall_s']:.1f} s)"
    return Target("period_vs_naive_limits", text, measured, speedup >= 3)


def _no_slower_than_naive(runs: Sequence[Run]) -> Target:
    text = "Without limits at N=1,000: period plan wall time ≤ 2 × the naive baseline's"
    period, naive = _run(runs, TARGET_N, "b"), _run(runs, TARGET_N, "c")
    if period is None or naive is None:
        missing = _why_missing(runs, TARGET_N, "b") if period is None else _why_missing(runs, TARGET_N, "c")
        return Target("period_vs_naive", text, missing, None)
    ratio = period["wall_s"] / naive["wall_s"]
    measured = f"{ratio:.2f}× ({period['wall_s']:.2f} s vs naive {naive['wall_s']:.2f} s)"
    return Target("period_vs_naive", text, measured, ratio <= 2)


def _rss(runs: Sequence[Run]) -> Target:
    text = "Peak RSS at N=5,000 ≤ 2 × that at N=1,000 (period plan; one call per invoice if no period plan)"
    for mode in ("b", "a"):
        small, large = _run(runs, TARGET_N, mode), _run(runs, LARGE_N, mode)
        if small is not None and large is not None:
            ratio = large["peak_rss_mb"] / small["peak_rss_mb"]
            measured = (
                f"{ratio:.2f}× ({large['peak_rss_mb']:.0f} MB vs {small['peak_rss_mb']:.0f} MB, mode {mode})"
            )
            return Target("peak_rss", text, measured, ratio <= 2)
    return Target("peak_rss", text, _why_missing(runs, LARGE_N, "b", "a"), None)


def _no_throttles(runs: Sequence[Run]) -> Target:
    text = "0 throttled requests in a faithful-limits run"
    limited = [run for run in runs if run.get("status") == "ok" and run.get("rate_limits") == "faithful"]
    if not limited:
        return Target("no_throttles", text, "not measured (no faithful-limits run completed)", None)
    total = sum(
        int(_get(run, "throttled", "qbo") or 0) + int(_get(run, "throttled", "paymo") or 0) for run in limited
    )
    parts = [
        f"N={run['n']} {run['mode']}: {run['throttled']['qbo']} QBO + {run['throttled']['paymo']} Paymo"
        for run in limited
    ]
    return Target("no_throttles", text, "; ".join(parts), total == 0)


def _startup(startup: dict[str, Any] | None) -> Target:
    text = (
        "initialize answered within 0.3 s of a bare `import mcp.server.mcpserver` (stdio, from process start)"
    )
    if not startup:
        return Target("startup", text, "not measured", None)
    beyond = startup["beyond_bare_import_s"]
    measured = (
        f"+{beyond:.2f} s ({startup['initialize_median_s']:.2f} s vs "
        f"{startup['bare_mcp_import_median_s']:.2f} s, median of {startup['runs']})"
    )
    return Target("startup", text, measured, beyond <= 0.3)


def _one_approval(runs: Sequence[Run]) -> Target:
    text = "A whole period approved once: 1 elicitation for the period plan with a confirm policy"
    confirmed = [
        run for run in runs if run.get("status") == "ok" and str(run.get("mode", "")).startswith("b-confirm")
    ]
    if not confirmed:
        return Target("one_approval", text, _why_missing(runs, TARGET_N, "b-confirm"), None)
    parts = [f"N={run['n']}: {run['elicitations']}" for run in confirmed]
    return Target("one_approval", text, "; ".join(parts), all(run["elicitations"] == 1 for run in confirmed))


def _still_correct(runs: Sequence[Run]) -> Target:
    text = "Everything still holds: 0 duplicates, cent-exact totals, every invoice in QBO (all product runs)"
    product = [
        run
        for run in runs
        if run.get("status") == "ok" and str(run.get("mode", "")).startswith(("a", "b")) and run.get("books")
    ]
    if not product:
        return Target("still_correct", text, "not measured (no product run completed)", None)
    bad = [
        f"N={run['n']} {run['mode']}: {run['books']['duplicates']} dup., {run['books']['mismatches']} mism., "
        f"{run['books']['missing']} missing"
        for run in product
        if run["books"]["duplicates"] or run["books"]["mismatches"] or run["books"]["missing"]
    ]
    measured = "; ".join(bad) if bad else f"0 / 0 / 0 in {len(product)} runs"
    return Target("still_correct", text, measured, not bad)


# --------------------------------------------------------------------------------------------
# Tables
# --------------------------------------------------------------------------------------------


def _fmt(value: Any, places: int = 2) -> str:
    if value is None:
        return "–"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        return f"{value:.{places}f}"
    return str(value)


def _mb(value: Any) -> str:
    return "–" if value is None else f"{value / 1_000_000:.1f}"


def _ms(value: Any) -> str:
    return "–" if value is None else f"{value * 1000:.0f}"


RUN_HEADERS = (
    "N", "mode", "status", "synced", "QBO req/inv", "Paymo req/inv", "QBO warm/inv", "QBO MB", "Paymo MB",
    "wall s", "first ms", "last ms", "last/first", "peak RSS MB", "mism.", "dup.", "429s", "bound s",
    "wall/bound", "asks",
)  # fmt: skip


def _run_row(run: Run) -> list[str]:
    status = str(run.get("status"))
    if status != "ok":
        return [str(run.get("n")), str(run.get("mode")), status, *(["–"] * (len(RUN_HEADERS) - 3))]
    traffic = run.get("traffic") or {}
    books = run.get("books") or {}
    latency = run.get("latency") or {}
    throttled = run.get("throttled") or {}
    bound = run.get("lower_bound") or {}
    qbo_bytes = _get(traffic, "qbo", "response_bytes")
    paymo_bytes = _get(traffic, "paymo", "response_bytes")
    return [
        str(run["n"]),
        str(run["mode"]),
        "ok",
        f"{run.get('synced')}/{run.get('invoices')}",
        _fmt(_get(run, "per_synced_invoice", "qbo")),
        _fmt(_get(run, "per_synced_invoice", "paymo")),
        _fmt(_get(run, "warm_per_invoice", "qbo")),
        _mb(qbo_bytes),
        _mb(paymo_bytes),
        _fmt(run.get("wall_s"), 1),
        _ms(latency.get("first_tenth_mean_s")),
        _ms(latency.get("last_tenth_mean_s")),
        _fmt(latency.get("last_over_first")),
        _fmt(run.get("peak_rss_mb"), 0),
        _fmt(books.get("mismatches")),
        _fmt(books.get("duplicates")),
        f"{throttled.get('qbo', 0)}+{throttled.get('paymo', 0)}",
        _fmt(bound.get("seconds"), 1),
        _fmt(run.get("wall_over_lower_bound")),
        _fmt(run.get("elicitations")),
    ]


READ_HEADERS = (
    "N", "mode", "reconciliation_report QBO req", "its Paymo req", "its s", "sync_status empty ms",
    "sync_status at size ms", "ledger links",
)  # fmt: skip


def _read_row(run: Run) -> list[str] | None:
    recon, status = run.get("reconciliation_report"), run.get("sync_status")
    if run.get("status") != "ok" or not recon or not status:
        return None
    return [
        str(run["n"]),
        str(run["mode"]),
        str(recon["qbo_requests"]),
        str(recon["paymo_requests"]),
        _fmt(recon["s"]),
        _fmt(status["empty_s"] * 1000, 1),
        _fmt(status["at_size_s"] * 1000, 1),
        str(status["ledger_links"]),
    ]


def _table(headers: Sequence[str], rows: Sequence[Sequence[str]], markdown: bool) -> str:
    if markdown:
        lines = ["| " + " | ".join(headers) + " |", "|" + "|".join("---" for _ in headers) + "|"]
        lines += ["| " + " | ".join(cell.replace("|", "\\|") for cell in row) + " |" for row in rows]
        return "\n".join(lines)
    widths = [max(len(header), *(len(row[index]) for row in rows)) for index, header in enumerate(headers)]
    lines = ["  ".join(header.ljust(width) for header, width in zip(headers, widths, strict=True))]
    lines += ["  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)) for row in rows]
    return "\n".join(line.rstrip() for line in lines)


def render(data: dict[str, Any], *, markdown: bool) -> str:
    """The runs, the reads at size, start-up and the targets, as text or Markdown (docs/performance.md)."""
    runs: list[Run] = list(data.get("runs", []))
    parts: list[str] = [_head(meta) for meta in data.get("sources") or [data.get("meta", {})]]
    parts.append(_table(RUN_HEADERS, [_run_row(run) for run in runs], markdown))
    reads = [row for row in (_read_row(run) for run in runs) if row is not None]
    if reads:
        parts.append(_table(READ_HEADERS, reads, markdown))
    startup = data.get("startup")
    if startup:
        parts.append(
            f"Start-up: `initialize` answered {startup['initialize_median_s']:.2f} s after process start "
            f"(median of {startup['runs']}); a bare `import mcp.server.mcpserver` takes "
            f"{startup['bare_mcp_import_median_s']:.2f} s: the project adds "
            f"{startup['beyond_bare_import_s']:.2f} s."
        )
    notes = sorted(
        {note for run in runs for note in run.get("notes", []) if not note.startswith("first question")}
    )
    unmeasured: dict[tuple[str, str], list[str]] = {}
    for run in runs:
        if run.get("status") != "ok":
            unmeasured.setdefault((str(run["mode"]), str(run.get("reason"))), []).append(str(run["n"]))
    notes += [f"mode {mode} (N={', '.join(sizes)}): {reason}" for (mode, reason), sizes in unmeasured.items()]
    if notes:
        bullet = "- " if markdown else "  * "
        parts.append("Notes:\n" + "\n".join(bullet + note for note in notes))
    targets = evaluate_targets(data)
    verdict = {True: "met", False: "NOT met", None: "not measured"}
    parts.append(
        _table(
            ("target (issue 8)", "measured", "verdict"),
            [(target.text, target.measured, verdict[target.met]) for target in targets],
            markdown,
        )
    )
    return "\n\n".join(parts) + "\n"


def _head(meta: dict[str, Any]) -> str:
    scale = meta.get("time_scale") or {}
    measured = f"{meta['measured']}: " if meta.get("measured") else ""
    dirty = " (with uncommitted changes)" if meta.get("dirty") else ""
    return (
        f"{measured}commit {meta.get('commit', '?')}{dirty}, "
        f"{meta.get('python', '?')} on {meta.get('platform', '?')}, {meta.get('cpus', '?')} CPUs "
        f"(load {meta.get('load_average', '?')}), seed {meta.get('seed')}, "
        f"rate time scale {scale.get('effective')} (asked {scale.get('requested')}), "
        f"{meta.get('started_at', '?')} – {meta.get('finished_at', '?')}."
    )


def _measured(document: dict[str, Any]) -> str:
    runs = document.get("runs", [])
    sizes = sorted({int(run["n"]) for run in runs})
    modes = list(dict.fromkeys(str(run["mode"]) for run in runs))
    return f"N={', '.join(map(str, sizes))}; modes {', '.join(modes)}"


def merge(documents: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """Several result files as one report (e.g. the limits modes measured at another size): every run,
    the latest start-up measurement, each file's metadata; the targets are evaluated afresh."""
    startups = [document["startup"] for document in documents if document.get("startup")]
    return {
        "benchmark": "volume",
        "version": 1,
        "meta": documents[0].get("meta", {}),
        "sources": [{**document.get("meta", {}), "measured": _measured(document)} for document in documents],
        "startup": startups[-1] if startups else None,
        "runs": [run for document in documents for run in document.get("runs", [])],
    }
