"""`paymo-qb-mcp sandbox` as a user runs it: facts JSON first, both services answer, a signal stops it."""

from __future__ import annotations

import json
import os
import select
import signal
import subprocess
import sys
from typing import Any

import httpx
import pytest

from paymo_qb_mcp.cli import build_parser

STARTUP_TIMEOUT_S = 30.0


def _first_line(process: subprocess.Popen[str]) -> str:
    assert process.stdout is not None
    ready, _, _ = select.select([process.stdout], [], [], STARTUP_TIMEOUT_S)
    assert ready, "the sandbox printed nothing"
    return process.stdout.readline()


@pytest.mark.slow
@pytest.mark.parametrize("stop_signal", [signal.SIGTERM, signal.SIGINT])
def test_sandbox_serves_both_apis_and_stops_cleanly(stop_signal: signal.Signals) -> None:
    process = subprocess.Popen(
        [sys.executable, "-m", "paymo_qb_mcp.cli", "sandbox", "--paymo-port", "0", "--qbo-port", "0"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    try:
        facts: dict[str, Any] = json.loads(_first_line(process))
        assert set(facts) >= {
            "paymo_base_url",
            "qbo_base_url",
            "realm_id",
            "paymo_api_key",
            "qbo_access_token",
        }
        assert facts["paymo_base_url"].endswith("/api")
        paymo = httpx.get(f"{facts['paymo_base_url']}/me", auth=(facts["paymo_api_key"], "X"), timeout=10)
        assert paymo.status_code == 200
        assert paymo.json()["users"][0]["name"] == "Alice Tremblay"
        created = httpx.post(
            f"{facts['paymo_base_url']}/clients",
            json={"name": "Served Ltd"},
            auth=(facts["paymo_api_key"], "X"),
        )
        assert created.headers["Location"].startswith(facts["paymo_base_url"] + "/clients/")
        realm = facts["realm_id"]
        qbo = httpx.get(
            f"{facts['qbo_base_url']}/v3/company/{realm}/companyinfo/{realm}",
            headers={"Authorization": f"Bearer {facts['qbo_access_token']}", "Accept": "application/json"},
            timeout=10,
        )
        assert qbo.status_code == 200
        assert qbo.json()["CompanyInfo"]["CompanyName"] == "Northwind Pixel Studio Inc."
        process.send_signal(stop_signal)
        process.wait(timeout=STARTUP_TIMEOUT_S)
        # Read through the text wrappers: `readline` above already buffered the lines after the first.
        assert process.stdout is not None
        assert process.stderr is not None
        stdout, stderr = process.stdout.read(), process.stderr.read()
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate()
    assert process.returncode == 0, stderr
    assert "Press Ctrl-C to stop." in stdout
    assert stdout.rstrip().endswith("Sandbox stopped.")
    assert "Traceback" not in stderr


def test_sandbox_options() -> None:
    args = build_parser().parse_args(
        [
            "sandbox",
            "--host",
            "::1",
            "--paymo-port",
            "8123",
            "--qbo-port",
            "0",
            "--empty",
            "--tax-model",
            "us",
        ]
    )
    assert (args.host, args.paymo_port, args.qbo_port, args.empty, args.tax_model, args.rate_limits) == (
        "::1",
        8123,
        0,
        True,
        "us",
        "relaxed",
    )
    with pytest.raises(SystemExit):
        build_parser().parse_args(["sandbox", "--paymo-port", "70000"])
    with pytest.raises(SystemExit):
        build_parser().parse_args(["sandbox", "--tax-model", "eu"])


def test_rate_time_scale_option() -> None:
    parser = build_parser()
    assert parser.parse_args(["sandbox"]).rate_time_scale == 1.0
    assert parser.parse_args(["sandbox", "--rate-time-scale", "10"]).rate_time_scale == 10.0
    assert parser.parse_args(["sandbox", "--rate-time-scale", "0.5"]).rate_time_scale == 0.5
    for nonsense in ("0", "-2", "inf", "nan", "fast"):
        with pytest.raises(SystemExit):
            parser.parse_args(["sandbox", "--rate-time-scale", nonsense])


def test_the_sandbox_served_has_the_limits_and_time_scale_asked_for(monkeypatch: pytest.MonkeyPatch) -> None:
    from paymo_qb_mcp.sandbox import Sandbox, runner

    served: list[Sandbox] = []

    async def serve(sandbox: Sandbox, **_: Any) -> None:
        served.append(sandbox)

    monkeypatch.setattr(runner, "serve", serve)
    args = build_parser().parse_args(["sandbox", "--rate-limits", "faithful", "--rate-time-scale", "10"])
    assert args.handler(args) == 0
    [sandbox] = served
    assert (sandbox.qbo.time_scale, sandbox.paymo.time_scale) == (10.0, 10.0)
    assert sandbox.qbo.rate_budget.per_second.period_s == 0.1
    assert sandbox.paymo.rate_budget.period_s == 0.5


def test_fault_control_is_served_only_with_faults(monkeypatch: pytest.MonkeyPatch) -> None:
    from paymo_qb_mcp.sandbox import Sandbox, runner

    served: list[Sandbox] = []

    async def serve(sandbox: Sandbox, **_: Any) -> None:
        served.append(sandbox)

    monkeypatch.setattr(runner, "serve", serve)
    for argv in (["sandbox"], ["sandbox", "--faults"]):
        args = build_parser().parse_args(argv)
        assert args.handler(args) == 0
    plain, with_faults = served
    assert (plain.paymo.fault_control, plain.qbo.fault_control) == (False, False)
    assert (with_faults.paymo.fault_control, with_faults.qbo.fault_control) == (True, True)


async def test_the_in_process_sandbox_of_serve_and_demo_has_no_fault_control() -> None:
    from paymo_qb_mcp.cli.connect import sandbox_connection

    connection, sandbox = sandbox_connection()
    assert (sandbox.paymo.fault_control, sandbox.qbo.fault_control) == (False, False)
    assert connection.qbo_transport is not None
    async with httpx.AsyncClient(transport=connection.qbo_transport, base_url="http://qbo.test") as qbo:
        refused = await qbo.put("/__sandbox/faults", json={"error_rate": 1})
    assert refused.status_code == 404
    assert sandbox.qbo.faults.error_rate == 0.0
