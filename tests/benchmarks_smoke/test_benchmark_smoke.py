"""The volume benchmark (benchmarks/volume.py) runs from the repository at a tiny N and reports every figure.

Nothing here asserts a timing: the benchmark measures, this only checks that the measurements are there,
that the books it reads back are what the sync wrote, and that the limits' lower bound is the formula's.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parents[2]
N = 5


def _run_benchmark(*arguments: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "benchmarks.volume", *arguments],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )


def _number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


@pytest.mark.slow
def test_benchmark_reports_every_figure_for_one_call_per_invoice_and_the_naive_baseline(
    tmp_path: Path,
) -> None:
    out = tmp_path / "volume.json"
    done = _run_benchmark("--sizes", str(N), "--modes", "a,c", "--startup-runs", "1", "--out", str(out))
    assert done.returncode == 0, done.stderr[-3000:]
    data = json.loads(out.read_text(encoding="utf-8"))

    assert data["meta"]["seed"] == 7
    assert data["meta"]["time_scale"]["requested"] == 20.0
    startup = data["startup"]
    for key in ("initialize_median_s", "bare_mcp_import_median_s", "beyond_bare_import_s"):
        assert _number(startup[key]), key
    assert startup["initialize_median_s"] > 0

    runs = {run["mode"]: run for run in data["runs"]}
    assert set(runs) == {"a", "c"}
    for mode, run in runs.items():
        assert run["status"] == "ok", (mode, run["reason"], run["failures"])
        assert run["n"] == N
        assert run["invoices"] == N
        assert run["dataset"]["time_entries"] == 10 * N
        assert run["dataset"]["expenses"] == N // 2
        assert run["synced"] == N, (mode, run["failures"])
        for service in ("qbo", "paymo"):
            assert _number(run["per_synced_invoice"][service]), (mode, service)
            assert run["traffic"][service]["requests"] == pytest.approx(
                run["per_synced_invoice"][service] * N
            )
            assert run["traffic"][service]["response_bytes"] > 0, (mode, service)
            assert _number(run["traffic"][service]["request_bytes"])
            assert run["throttled"][service] == 0
        assert run["per_synced_invoice"]["qbo"] >= 2  # at least a create per invoice and a customer lookup
        for key in ("wall_s", "cpu_s", "peak_rss_mb", "rss_after_seed_mb", "real_limits_lower_bound_s"):
            assert _number(run[key]), (mode, key)
        assert run["latency"]["calls"] == N
        assert _number(run["latency"]["first_tenth_mean_s"])
        assert _number(run["latency"]["last_tenth_mean_s"])
        assert run["books"]["in_qbo"] == N
        assert run["books"]["duplicates"] == 0
        assert _number(run["books"]["mismatches"])

    product = runs["a"]
    assert product["outcomes"] == {"applied": N}
    assert product["books"]["mismatches"] == 0
    assert product["elicitations"] == 0
    assert _number(product["warm_per_invoice"]["qbo"])
    assert product["reconciliation_report"]["ok"] is True
    assert product["reconciliation_report"]["qbo_requests"] >= 1
    assert product["sync_status"]["ledger_links"] >= N
    assert _number(product["sync_status"]["empty_s"])
    assert _number(product["sync_status"]["at_size_s"])
    assert runs["c"]["outcomes"] == {"created": N}

    targets = {target["key"]: target for target in data["targets"]}
    assert len(targets) == 15
    assert targets["still_correct"]["met"] is True
    assert targets["period_qbo_requests"]["met"] is None  # measured at N = 1,000 only

    rendered = _run_benchmark("--report", str(out), "--markdown")
    assert rendered.returncode == 0, rendered.stderr
    assert "| N | mode | status |" in rendered.stdout
    assert "| 5 | a | ok | 5/5 |" in rendered.stdout


def test_an_unknown_mode_is_refused_before_anything_runs(tmp_path: Path) -> None:
    done = _run_benchmark(
        "--sizes", "5", "--modes", "a,c-confirm", "--skip-startup", "--out", str(tmp_path / "x")
    )
    assert done.returncode == 2
    assert "c-confirm" in done.stderr
    assert not (tmp_path / "x").exists()


def test_the_lower_bound_is_the_binding_windows_floor(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.syspath_prepend(str(REPO))
    from benchmarks.measure import QBO_LIMITS, Span, floor_time, lower_bound
    from paymo_qb_mcp.sandbox.faults import LoggedRequest

    per_minute = QBO_LIMITS[0]
    assert [floor_time(k, per_minute) for k in (0, 1, 500, 501, 1000, 1001)] == [0, 0, 0, 60, 60, 120]

    def logged(count: int, path: str) -> list[LoggedRequest]:
        return [LoggedRequest("GET", path, "", 200) for _ in range(count)]

    span = Span(
        requests={"qbo": logged(1001, "/v3/company/1/query"), "paymo": logged(16, "/api/invoices")},
        request_bytes={"qbo": 0, "paymo": 0},
        response_bytes={"qbo": 0, "paymo": 0},
    )
    bound = lower_bound(span, 2.0)
    # 1,001 QBO requests: the 10/s window allows the last at 100 s, the 500/min one at 120 s;
    # 16 Paymo requests at 5 per 5 s: the last at 15 s — each window twice as short at scale 2.
    assert bound["windows"] == {
        "qbo 500/min": 60.0,
        "qbo 10/s": 50.0,
        "qbo batch 40/min": 0.0,
        "paymo 5/5s": 7.5,
    }
    assert bound["binding"] == "qbo 500/min"
    assert bound["seconds"] == 60.0
