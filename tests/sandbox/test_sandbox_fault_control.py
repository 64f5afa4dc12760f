"""Fault control over HTTP (`/__sandbox/...`): every knob takes effect, DELETE restores the defaults,
bodies are checked field by field, and the path is an unknown one unless fault control is on."""

from __future__ import annotations

import json
import os
import select
import signal
import subprocess
import sys
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from paymo_qb_mcp.sandbox import Sandbox
from paymo_qb_mcp.sandbox.control import FAULTS_PATH, NEXT_PATH, REQUESTS_PATH

PAYMO = "http://paymo.test"
QBO = "http://qbo.test"
STARTUP_TIMEOUT_S = 30.0


class FakeClock:
    def __init__(self) -> None:
        self.now = 5000.0

    def __call__(self) -> float:
        return self.now


@dataclass
class Clients:
    sandbox: Sandbox
    paymo: httpx.AsyncClient  # the Paymo port: admin calls without credentials, API calls with `auth`
    qbo: httpx.AsyncClient
    paymo_auth: tuple[str, str]
    qbo_headers: dict[str, str]
    company: str

    async def paymo_me(self) -> httpx.Response:
        return await self.paymo.get("/api/me", auth=self.paymo_auth)

    async def qbo_get(self, path: str) -> httpx.Response:
        return await self.qbo.get(f"{self.company}/{path}", headers=self.qbo_headers)

    async def qbo_post(self, path: str, payload: Any, **params: str) -> httpx.Response:
        return await self.qbo.post(
            f"{self.company}/{path}", json=payload, params=params, headers=self.qbo_headers
        )


@asynccontextmanager
async def _open(sandbox: Sandbox) -> AsyncIterator[Clients]:
    async with (
        httpx.AsyncClient(transport=sandbox.paymo_transport(), base_url=PAYMO) as paymo,
        httpx.AsyncClient(transport=sandbox.qbo_transport(), base_url=QBO) as qbo,
    ):
        yield Clients(
            sandbox=sandbox,
            paymo=paymo,
            qbo=qbo,
            paymo_auth=(sandbox.paymo.api_key, "X"),
            qbo_headers={"Authorization": f"Bearer {sandbox.qbo.access_token}", "Accept": "application/json"},
            company=f"/v3/company/{sandbox.qbo.realm_id}",
        )


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
async def on(clock: FakeClock) -> AsyncIterator[Clients]:
    async with _open(Sandbox.create(clock=clock, fault_control=True)) as clients:
        yield clients


@pytest.fixture
async def off() -> AsyncIterator[Clients]:
    async with _open(Sandbox.create()) as clients:
        yield clients


def _ports(clients: Clients) -> list[httpx.AsyncClient]:
    return [clients.paymo, clients.qbo]


# --- reading the knobs -----------------------------------------------------------------------------


async def test_get_shows_every_knob_off_and_each_services_budget(on: Clients) -> None:
    paymo = (await on.paymo.get(FAULTS_PATH)).json()
    qbo = (await on.qbo.get(FAULTS_PATH)).json()
    for state in (paymo, qbo):
        assert {key: state[key] for key in ("latency_s", "error_rate", "error_status", "fail_after_n")} == {
            "latency_s": 0.0,
            "error_rate": 0.0,
            "error_status": 503,
            "fail_after_n": None,
        }
        assert (state["scripted"], state["time_scale"]) == ([], 1.0)
    assert paymo["rate_budget"] == {"limit": 1000, "period_s": 5.0}
    assert qbo["rate_budget"] == {
        "per_minute": {"limit": 50_000, "period_s": 60.0},
        "per_second": {"limit": 1_000, "period_s": 1.0},
        "batch_per_minute": {"limit": 50_000, "period_s": 60.0},
    }


async def test_admin_calls_touch_neither_the_log_nor_the_fault_counters(on: Clients) -> None:
    await on.qbo.put(FAULTS_PATH, json={"error_rate": 1.0})
    for _ in range(3):
        assert (await on.qbo.get(FAULTS_PATH)).status_code == 200
        assert (await on.paymo.get(REQUESTS_PATH)).status_code == 200
    assert on.sandbox.qbo.request_log == []
    assert on.sandbox.paymo.request_log == []
    assert (on.sandbox.qbo.faults.answered, on.sandbox.paymo.faults.answered) == (0, 0)


# --- each knob takes effect ------------------------------------------------------------------------


async def test_latency_delays_every_api_answer(on: Clients) -> None:
    set_to = await on.qbo.put(FAULTS_PATH, json={"latency_s": 0.3})
    assert set_to.status_code == 200
    assert set_to.json()["latency_s"] == 0.3
    assert on.sandbox.qbo.faults.latency_s == 0.3
    started = time.monotonic()
    assert (await on.qbo_get("customer/1")).status_code == 200
    # A lower bound only: the emulator sleeps at least this long, however busy the machine.
    assert time.monotonic() - started >= 0.29


async def test_an_error_rate_of_one_fails_every_request_then_zero_restores_them(on: Clients) -> None:
    for port in _ports(on):
        assert (await port.put(FAULTS_PATH, json={"error_rate": 1.0, "error_status": 502})).status_code == 200
    qbo = [await on.qbo_get("customer/1") for _ in range(3)]
    paymo = [await on.paymo_me() for _ in range(3)]
    assert [r.status_code for r in qbo + paymo] == [502] * 6
    assert "Fault" in qbo[0].json()
    for port in _ports(on):
        await port.put(FAULTS_PATH, json={"error_rate": 0})
    assert (await on.qbo_get("customer/1")).status_code == 200
    assert (await on.paymo_me()).status_code == 200


async def test_an_injected_429_from_qbo_has_its_xml_throttle_body(on: Clients) -> None:
    await on.qbo.put(FAULTS_PATH, json={"error_rate": 1, "error_status": 429})
    response = await on.qbo_get("customer/1")
    assert response.status_code == 429
    assert "ThrottleExceeded" in response.text


async def test_fail_after_n_counts_from_the_put(on: Clients) -> None:
    for _ in range(4):  # answered before the PUT: not the tester's
        assert (await on.qbo_get("customer/1")).status_code == 200
    state = (await on.qbo.put(FAULTS_PATH, json={"fail_after_n": 2})).json()
    assert (state["fail_after_n"], state["answered"]) == (2, 0)
    statuses = [(await on.qbo_get("customer/1")).status_code for _ in range(4)]
    assert statuses == [200, 200, 503, 503]
    assert (await on.qbo.get(FAULTS_PATH)).json()["answered"] == 4
    await on.qbo.put(FAULTS_PATH, json={"fail_after_n": None})
    assert (await on.qbo_get("customer/1")).status_code == 200


async def test_a_seeded_error_rate_fails_the_same_requests_each_time(on: Clients) -> None:
    runs = []
    for _ in range(2):
        await on.paymo.put(FAULTS_PATH, json={"error_rate": 0.5, "seed": 7})
        runs.append([(await on.paymo_me()).status_code for _ in range(12)])
    assert runs[0] == runs[1]
    assert set(runs[0]) == {200, 503}


async def test_a_lost_qbo_response_is_applied_and_a_replay_of_its_requestid_returns_the_record(
    on: Clients,
) -> None:
    scripted = await on.qbo.post(
        NEXT_PATH,
        json={"method": "post", "path_contains": "/customer", "after_commit": True, "status": 502},
    )
    assert scripted.status_code == 201
    assert scripted.json()["scripted"] == [
        {"remaining": 1, "status": 502, "method": "POST", "path_contains": "/customer", "after_commit": True}
    ]
    payload = {"DisplayName": "Lost Response Ltd"}
    lost = await on.qbo_post("customer", payload, requestid="lost-1")
    assert lost.status_code == 502
    stored = [
        row for row in on.sandbox.qbo.state.rows("Customer") if row["DisplayName"] == payload["DisplayName"]
    ]
    assert len(stored) == 1  # the write was applied though the client saw an error
    replay = await on.qbo_post("customer", payload, requestid="lost-1")
    assert replay.status_code == 200
    assert replay.json()["Customer"]["Id"] == stored[0]["Id"]
    again = [
        row for row in on.sandbox.qbo.state.rows("Customer") if row["DisplayName"] == payload["DisplayName"]
    ]
    assert len(again) == 1
    assert (await on.qbo.get(FAULTS_PATH)).json()["scripted"] == []


async def test_a_lost_paymo_response_is_applied(on: Clients) -> None:
    await on.paymo.post(NEXT_PATH, json={"count": 1, "method": "POST", "after_commit": True})
    lost = await on.paymo.post("/api/clients", json={"name": "Lost Paymo Ltd"}, auth=on.paymo_auth)
    assert lost.status_code == 500
    found = await on.paymo.get("/api/clients", params={"where": 'name="Lost Paymo Ltd"'}, auth=on.paymo_auth)
    assert len(found.json()["clients"]) == 1


async def test_scripted_faults_before_commit_apply_nothing_and_can_be_withdrawn(on: Clients) -> None:
    await on.paymo.post(NEXT_PATH, json={"count": 2, "status": 503, "path_contains": "/clients"})
    for _ in range(2):
        refused = await on.paymo.post("/api/clients", json={"name": "Never Ltd"}, auth=on.paymo_auth)
        assert refused.status_code == 503
    assert not [row for row in on.sandbox.paymo.state.rows("clients") if row["name"] == "Never Ltd"]
    await on.qbo.post(NEXT_PATH, json={"count": 5})
    assert len((await on.qbo.get(FAULTS_PATH)).json()["scripted"]) == 1
    assert (await on.qbo.delete(NEXT_PATH)).json()["scripted"] == []
    assert (await on.qbo_get("customer/1")).status_code == 200


# --- rate budgets ----------------------------------------------------------------------------------


async def test_a_paymo_budget_tightened_over_http_yields_429s(on: Clients) -> None:
    state = (await on.paymo.put(FAULTS_PATH, json={"rate_budget": {"limit": 2, "period_s": 60}})).json()
    assert state["rate_budget"] == {"limit": 2, "period_s": 60.0}
    answers = [await on.paymo_me() for _ in range(3)]
    assert [r.status_code for r in answers] == [200, 200, 429]
    assert answers[0].headers["X-Ratelimit-Limit"] == "2"
    assert answers[2].headers["Retry-After"] == "60"
    summary = (await on.paymo.get(REQUESTS_PATH)).json()
    assert (summary["total"], summary["throttled"], summary["by_status"]) == (3, 1, {"200": 2, "429": 1})


async def test_a_qbo_window_tightened_over_http_yields_429s(on: Clients, clock: FakeClock) -> None:
    state = (await on.qbo.put(FAULTS_PATH, json={"rate_budget": {"per_second": {"limit": 2}}})).json()
    assert state["rate_budget"]["per_second"] == {"limit": 2, "period_s": 1.0}
    assert state["rate_budget"]["per_minute"] == {"limit": 50_000, "period_s": 60.0}
    statuses = [(await on.qbo_get("customer/1")).status_code for _ in range(3)]
    assert statuses == [200, 200, 429]
    assert on.sandbox.qbo.throttled == 1
    clock.now += 1.0  # the window frees
    assert (await on.qbo_get("customer/1")).status_code == 200


async def test_rate_limits_and_time_scale_set_a_profile_at_a_scale(on: Clients) -> None:
    qbo = (await on.qbo.put(FAULTS_PATH, json={"rate_limits": "faithful", "time_scale": 10})).json()
    assert qbo["time_scale"] == 10.0
    assert qbo["rate_budget"]["per_minute"] == {"limit": 500, "period_s": 6.0}
    assert qbo["rate_budget"]["per_second"] == {"limit": 10, "period_s": 0.1}
    paymo = (await on.paymo.put(FAULTS_PATH, json={"rate_limits": "faithful"})).json()
    assert paymo["rate_budget"] == {"limit": 5, "period_s": 5.0}
    # A new scale alone shortens the current windows from their real length.
    rescaled = (await on.paymo.put(FAULTS_PATH, json={"time_scale": 10})).json()
    assert rescaled["rate_budget"] == {"limit": 5, "period_s": 0.5}
    answers = [await on.paymo_me() for _ in range(6)]
    assert answers[-1].status_code == 429
    assert answers[-1].headers["Retry-After"] == "0.5"  # Paymo's 5 s, ten times shorter


# --- DELETE ----------------------------------------------------------------------------------------


async def test_delete_restores_the_defaults_the_sandbox_started_with(on: Clients) -> None:
    before = {port: (await port.get(FAULTS_PATH)).json() for port in _ports(on)}
    spoilt = {
        "latency_s": 0.01,
        "error_rate": 1,
        "error_status": 500,
        "fail_after_n": 0,
        "seed": 3,
        "rate_limits": "faithful",
        "time_scale": 4,
    }
    for port in _ports(on):
        assert (await port.put(FAULTS_PATH, json=spoilt)).status_code == 200
        assert (await port.post(NEXT_PATH, json={"after_commit": True})).status_code == 201
    assert (await on.qbo_get("customer/1")).status_code == 500
    for port in _ports(on):
        restored = (await port.delete(FAULTS_PATH)).json()
        restored.pop("answered")
        expected = dict(before[port])
        expected.pop("answered")
        assert restored == expected
    assert (await on.qbo_get("customer/1")).status_code == 200
    assert (await on.paymo_me()).status_code == 200
    assert on.sandbox.qbo.time_scale == 1.0
    assert on.sandbox.paymo.rate_budget.limit == 1000


async def test_the_request_log_can_be_read_and_cleared(on: Clients) -> None:
    await on.qbo_get("customer/1")
    await on.qbo_get("customer/999999")
    summary = (await on.qbo.get(REQUESTS_PATH)).json()
    assert summary["total"] == 2
    assert summary["by_status"] == {"200": 1, "400": 1}
    assert summary["recent"][0] == {
        "method": "GET",
        "path": f"{on.company}/customer/1",
        "query": "",
        "status": 200,
    }
    assert (await on.qbo.delete(REQUESTS_PATH)).json()["total"] == 0
    assert on.sandbox.qbo.request_log == []


# --- refused bodies --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"latency_s": -1}, "latency_s"),
        ({"latency_s": "slow"}, "latency_s"),
        ({"latency_s": 601}, "latency_s"),
        ({"error_rate": 1.5}, "error_rate"),
        ({"error_rate": True}, "error_rate"),
        ({"error_status": 200}, "error_status"),
        ({"error_status": "503"}, "error_status"),
        ({"fail_after_n": -1}, "fail_after_n"),
        ({"fail_after_n": 2.5}, "fail_after_n"),
        ({"seed": "x"}, "seed"),
        ({"time_scale": 0}, "time_scale"),
        ({"rate_limits": "fast"}, "rate_limits"),
        ({"rate_budget": 5}, "rate_budget"),
        ({"rate_budget": {"limit": 0}}, "rate_budget.limit"),
        ({"rate_budget": {"period_s": -5}}, "rate_budget.period_s"),
        ({"rate_budget": {"burst": 3}}, "rate_budget.burst"),
        ({"latency": 1}, "latency"),
        ({"latency_s": 0.5, "error_rate": 2}, "error_rate"),  # one bad field refuses the whole body
    ],
)
async def test_a_bad_paymo_setting_is_a_400_naming_the_field(
    on: Clients, body: dict[str, Any], field: str
) -> None:
    before = (await on.paymo.get(FAULTS_PATH)).json()
    response = await on.paymo.put(FAULTS_PATH, json=body)
    assert response.status_code == 400
    assert response.json()["field"] == field
    assert field in response.json()["error"]
    assert (await on.paymo.get(FAULTS_PATH)).json() == before


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"rate_budget": {"per_hour": {"limit": 1}}}, "rate_budget.per_hour"),
        ({"rate_budget": {"per_second": 3}}, "rate_budget.per_second"),
        ({"rate_budget": {"per_second": {"limit": 1.5}}}, "rate_budget.per_second.limit"),
        ({"rate_budget": {"batch_per_minute": {"period_s": 0}}}, "rate_budget.batch_per_minute.period_s"),
    ],
)
async def test_a_bad_qbo_window_is_a_400_naming_the_field(
    on: Clients, body: dict[str, Any], field: str
) -> None:
    response = await on.qbo.put(FAULTS_PATH, json=body)
    assert response.status_code == 400
    assert response.json()["field"] == field


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"count": 0}, "count"),
        ({"status": 302}, "status"),
        ({"method": "FETCH"}, "method"),
        ({"path_contains": ""}, "path_contains"),
        ({"after_commit": "yes"}, "after_commit"),
        ({"times": 2}, "times"),
    ],
)
async def test_a_bad_scripted_fault_is_a_400_naming_the_field(
    on: Clients, body: dict[str, Any], field: str
) -> None:
    response = await on.qbo.post(NEXT_PATH, json=body)
    assert response.status_code == 400
    assert response.json()["field"] == field
    assert on.sandbox.qbo.faults.scripted == []


@pytest.mark.parametrize("content", [b"", b"not json", b"[1, 2]", b'"latency_s"'])
async def test_a_body_that_is_not_a_json_object_is_a_400(on: Clients, content: bytes) -> None:
    response = await on.qbo.put(FAULTS_PATH, content=content)
    assert response.status_code == 400
    assert response.json()["field"] is None
    assert "JSON" in response.json()["error"]


async def test_other_methods_and_paths_under_the_prefix_are_refused_plainly(on: Clients) -> None:
    wrong_method = await on.qbo.post(FAULTS_PATH, json={})
    assert wrong_method.status_code == 405
    assert wrong_method.headers["Allow"] == "GET, PUT, PATCH, DELETE"
    unknown = await on.paymo.get("/__sandbox/fault")
    assert unknown.status_code == 404
    assert FAULTS_PATH in unknown.json()["error"]
    assert (await on.paymo.patch(FAULTS_PATH, json={"latency_s": 0})).status_code == 200


# --- off unless asked for --------------------------------------------------------------------------


@pytest.mark.parametrize("path", [FAULTS_PATH, NEXT_PATH, REQUESTS_PATH])
async def test_without_fault_control_the_path_is_an_unknown_path(off: Clients, path: str) -> None:
    assert off.sandbox.qbo.fault_control is False
    assert off.sandbox.paymo.fault_control is False
    for method in ("GET", "PUT", "POST", "DELETE"):
        qbo = await off.qbo.request(method, path, json={"error_rate": 1})
        qbo_unknown = await off.qbo.request(method, "/__elsewhere/faults", json={"error_rate": 1})
        assert qbo.status_code == 404
        assert (qbo.status_code, qbo.text) == (qbo_unknown.status_code, qbo_unknown.text)
        paymo = await off.paymo.request(method, path, json={"error_rate": 1}, auth=off.paymo_auth)
        assert paymo.status_code == 404
        assert paymo.json() == {"message": "Not Found"}
        # Without credentials Paymo refuses every path outside its API alike, this one included.
        anonymous = await off.paymo.request(method, path)
        assert anonymous.status_code == (await off.paymo.request(method, "/__elsewhere")).status_code
    assert off.sandbox.qbo.faults.error_rate == 0.0
    assert off.sandbox.paymo.faults.error_rate == 0.0
    assert (await off.qbo_get("customer/1")).status_code == 200


def test_facts_name_the_admin_urls_only_when_fault_control_is_on() -> None:
    plain = Sandbox.create().facts(paymo_base_url="http://127.0.0.1:1/api", qbo_base_url="http://127.0.0.1:2")
    assert not {"paymo_admin_url", "qbo_admin_url"} & set(plain)
    facts = Sandbox.create(fault_control=True).facts(
        paymo_base_url="http://127.0.0.1:1/api", qbo_base_url="http://127.0.0.1:2"
    )
    assert facts["paymo_admin_url"] == "http://127.0.0.1:1/__sandbox"
    assert facts["qbo_admin_url"] == "http://127.0.0.1:2/__sandbox"
    assert {key: facts[key] for key in plain if key != "qbo_access_token"} == {
        key: value for key, value in plain.items() if key != "qbo_access_token"
    }


# --- the served sandbox, driven like curl would ------------------------------------------------------


def _first_line(process: subprocess.Popen[str]) -> str:
    assert process.stdout is not None
    ready, _, _ = select.select([process.stdout], [], [], STARTUP_TIMEOUT_S)
    assert ready, "the sandbox printed nothing"
    return process.stdout.readline()


@pytest.mark.slow
def test_the_served_sandbox_with_faults_is_driven_over_plain_http() -> None:
    process = subprocess.Popen(
        [sys.executable, "-m", "paymo_qb_mcp.cli", "sandbox", "--faults", "--empty"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    try:
        facts = json.loads(_first_line(process))
        paymo_admin, qbo_admin = facts["paymo_admin_url"], facts["qbo_admin_url"]
        assert paymo_admin == facts["paymo_base_url"].removesuffix("/api") + "/__sandbox"
        assert qbo_admin == facts["qbo_base_url"] + "/__sandbox"
        company = f"{facts['qbo_base_url']}/v3/company/{facts['realm_id']}"
        bearer = {"Authorization": f"Bearer {facts['qbo_access_token']}", "Accept": "application/json"}
        paymo_key = (facts["paymo_api_key"], "X")
        with httpx.Client(timeout=STARTUP_TIMEOUT_S) as http:
            assert http.get(f"{qbo_admin}/faults").json()["error_rate"] == 0.0
            # Every QBO call fails, then DELETE brings the faithful emulator back.
            assert http.put(f"{qbo_admin}/faults", json={"error_rate": 1.0}).status_code == 200
            assert http.get(f"{company}/companyinfo/{facts['realm_id']}", headers=bearer).status_code == 503
            assert http.delete(f"{qbo_admin}/faults").json()["error_rate"] == 0.0
            assert http.get(f"{company}/companyinfo/{facts['realm_id']}", headers=bearer).status_code == 200
            # A lost response: applied, answered 502; the same requestid then returns the record.
            http.post(
                f"{qbo_admin}/faults/next", json={"after_commit": True, "status": 502, "method": "POST"}
            )
            customer = {"DisplayName": "Served Lost Ltd"}
            lost = http.post(f"{company}/customer", params={"requestid": "r1"}, json=customer, headers=bearer)
            assert lost.status_code == 502
            replay = http.post(
                f"{company}/customer", params={"requestid": "r1"}, json=customer, headers=bearer
            )
            assert replay.status_code == 200
            assert replay.json()["Customer"]["DisplayName"] == "Served Lost Ltd"
            # Paymo's budget tightened to one request an hour.
            http.put(f"{paymo_admin}/faults", json={"rate_budget": {"limit": 1, "period_s": 3600}})
            me = [http.get(f"{facts['paymo_base_url']}/me", auth=paymo_key).status_code for _ in range(2)]
            assert me == [200, 429]
            assert http.get(f"{paymo_admin}/requests").json()["throttled"] == 1
            # Latency: at least what was asked for (a lower bound cannot flake).
            http.put(f"{qbo_admin}/faults", json={"latency_s": 0.2})
            started = time.monotonic()
            http.get(f"{company}/companyinfo/{facts['realm_id']}", headers=bearer)
            assert time.monotonic() - started >= 0.19
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=STARTUP_TIMEOUT_S)
        assert process.stdout is not None
        assert process.stderr is not None
        stdout, stderr = process.stdout.read(), process.stderr.read()
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate()
    assert process.returncode == 0, stderr
    assert f"Fault control: {qbo_admin}/faults" in stdout
    assert "Traceback" not in stderr
