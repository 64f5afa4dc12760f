"""QBO emulator transport: auth, realms, Accept, minorversion, envelopes, faults, throttling, requestid."""

from __future__ import annotations

import re
import time
import xml.etree.ElementTree as ET
from collections.abc import AsyncIterator

import pytest
from test_qbo_harness import FakeClock, Qbo, emulator, invoice_line, open_qbo, parse, validated

from paymo_qb_mcp.sandbox.faults import RateBudget
from paymo_qb_mcp.sandbox.quickbooks import QboEmulator

NS = "{http://schema.intuit.com/finance/v3}"


@pytest.fixture
async def qbo() -> AsyncIterator[Qbo]:
    async with open_qbo(emulator()) as client:
        yield client


# --- auth ------------------------------------------------------------------------------------------


async def test_a_call_without_a_bearer_token_gets_the_gateways_lower_case_401(qbo: Qbo) -> None:
    response = await qbo.client.get(f"{qbo.company}/customer/1", headers={"Accept": "application/json"})
    assert response.status_code == 401
    body = parse(response)
    assert body["fault"]["type"] == "AUTHENTICATION"
    error = body["fault"]["error"][0]
    assert error["code"] == "3200"
    assert error["message"] == "message=AuthenticationFailed; errorCode=003200; statusCode=401"
    assert isinstance(body["time"], int)
    assert body["batchItemResponse"] == []
    assert "Fault" not in body


async def test_an_unknown_token_is_refused_without_echoing_it(qbo: Qbo) -> None:
    response = await qbo.client.get(
        f"{qbo.company}/customer/1", headers={"Authorization": "Bearer not-a-real-token-123"}
    )
    assert response.status_code == 401
    assert "not-a-real-token-123" not in response.text
    assert parse(response)["fault"]["error"][0]["detail"] == "Token invalid"


async def test_expire_token_makes_the_next_call_401_and_a_fresh_token_works(qbo: Qbo) -> None:
    old_token = qbo.emu.access_token
    qbo.emu.expire_token()
    first = await qbo.client.get(
        f"{qbo.company}/customer/1", headers={"Authorization": f"Bearer {old_token}"}
    )
    assert first.status_code == 401
    assert parse(first)["fault"]["error"][0]["detail"] == "Token expired"
    again = await qbo.client.get(
        f"{qbo.company}/customer/1", headers={"Authorization": f"Bearer {old_token}"}
    )
    assert again.status_code == 401
    assert qbo.emu.access_token != old_token
    assert (await qbo.read("Customer", "1"))["DisplayName"] == "ACME Corp."


async def test_a_token_is_bound_to_its_realm_and_other_realms_get_the_xml_auth_fault(qbo: Qbo) -> None:
    other = qbo.emu.issue_access_token(realm_id="123456789")
    response = await qbo.client.get(
        f"{qbo.company}/customer/1",
        headers={"Authorization": f"Bearer {other}", "Accept": "application/json"},
    )
    assert response.status_code == 401
    assert response.headers["content-type"].startswith("application/xml")
    error = ET.fromstring(response.content).find(f"{NS}Fault/{NS}Error")
    assert error is not None
    assert error.get("code") == "100"
    unknown_realm = await qbo.client.get(
        "/v3/company/999/customer/1", headers={"Authorization": f"Bearer {qbo.emu.access_token}"}
    )
    assert unknown_realm.status_code == 401
    qbo.emu.foreign_realm_fault = "403"
    forbidden = await qbo.client.get(
        "/v3/company/999/customer/1", headers={"Authorization": f"Bearer {qbo.emu.access_token}"}
    )
    assert forbidden.status_code == 403
    assert parse(forbidden)["fault"]["error"][0]["code"] == "3100"


async def test_tokens_from_an_outside_authority_are_accepted_for_their_realm(qbo: Qbo) -> None:
    qbo.emu.token_realm = lambda token: qbo.emu.realm_id if token == "issued-by-oauth" else None
    ok = await qbo.client.get(
        f"{qbo.company}/customer/1",
        headers={"Authorization": "Bearer issued-by-oauth", "Accept": "application/json"},
    )
    assert ok.status_code == 200
    refused = await qbo.client.get(f"{qbo.company}/customer/1", headers={"Authorization": "Bearer other"})
    assert refused.status_code == 401


# --- representation --------------------------------------------------------------------------------


async def test_without_a_json_accept_header_the_answer_is_xml(qbo: Qbo) -> None:
    response = await qbo.request("GET", "customer/1", headers={"Accept": "application/xml"})
    assert response.status_code == 200
    root = ET.fromstring(response.content)
    assert root.tag == f"{NS}IntuitResponse"
    customer = root.find(f"{NS}Customer")
    assert customer is not None
    assert customer.get("domain") == "QBO"
    assert customer.findtext(f"{NS}DisplayName") == "ACME Corp."
    currency = customer.find(f"{NS}CurrencyRef")
    assert currency is not None
    assert (currency.text, currency.get("name")) == ("CAD", "Canadian Dollar")


async def test_minorversion_is_accepted_and_ignored(qbo: Qbo) -> None:
    bodies = []
    for version in ("75", "4", "abc"):
        document = await qbo.ok("GET", "customer/1", params={"minorversion": version})
        bodies.append(document["Customer"])
    assert bodies[0] == bodies[1] == bodies[2]


async def test_envelopes_carry_time_and_entities_carry_string_ids_and_local_metadata(qbo: Qbo) -> None:
    response = await qbo.request("GET", "customer/1")
    document = parse(response)
    assert set(document) == {"Customer", "time"}
    assert re.fullmatch(r"2026-11-20T10:30:00\.000-05:00", document["time"])
    customer = document["Customer"]
    assert customer["domain"] == "QBO"
    assert customer["sparse"] is False
    assert customer["Id"] == "1"
    assert customer["SyncToken"] == "0"
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d-05:00", customer["MetaData"]["CreateTime"])
    assert "null" not in response.text
    assert response.headers["intuit_tid"]


async def test_amounts_are_json_numbers_and_absent_fields_are_omitted(qbo: Qbo) -> None:
    invoice = await qbo.create("Invoice", {"CustomerRef": {"value": "1"}, "Line": [invoice_line("150.00")]})
    raw = (await qbo.request("GET", f"invoice/{invoice['Id']}")).text
    assert '"TotalAmt":172.46' in raw
    assert '"Amount":150.00' in raw
    assert "null" not in raw
    assert "DocNumber" not in invoice
    validated("Invoice", invoice)


async def test_unknown_paths_are_404(qbo: Qbo) -> None:
    assert (await qbo.request("GET", "widget/1")).status_code == 404
    assert (await qbo.client.get("/v2/whatever")).status_code == 404


async def test_a_body_that_is_not_utf8_is_an_unsupported_operation(qbo: Qbo) -> None:
    error = await qbo.fault(
        "POST",
        "customer",
        content=b'{"DisplayName": "Caf\xe9"}',
        headers={"Content-Type": "application/json"},
    )
    assert error["code"] == "500"
    assert error["Message"] == "Unsupported Operation"
    assert "MalformedByteSequenceException" in error["Detail"]


async def test_the_request_log_records_every_call(qbo: Qbo) -> None:
    await qbo.request("GET", "customer/1", params={"minorversion": "75"})
    await qbo.request("POST", "customer", payload={"DisplayName": "Logged Ltd"})
    await qbo.client.get(f"{qbo.company}/customer/1")
    logged = qbo.emu.request_log
    assert [(entry.method, entry.status) for entry in logged] == [("GET", 200), ("POST", 200), ("GET", 401)]
    assert logged[0].path == f"{qbo.company}/customer/1"
    assert logged[0].query == "minorversion=75"
    assert b"Logged Ltd" in logged[1].body


# --- fault injection -------------------------------------------------------------------------------


async def test_random_failures_and_fail_after_n_answer_with_a_system_fault(qbo: Qbo) -> None:
    qbo.emu.faults.error_rate = 1.0
    response = await qbo.request("GET", "customer/1")
    assert response.status_code == 503
    assert parse(response)["Fault"]["type"] == "SystemFault"
    qbo.emu.faults.clear()
    qbo.emu.faults.fail_after_n = qbo.emu.faults.answered + 1
    assert (await qbo.request("GET", "customer/1")).status_code == 200
    assert (await qbo.request("GET", "customer/1")).status_code == 503


async def test_a_scripted_failure_fails_the_matching_request_only(qbo: Qbo) -> None:
    qbo.emu.faults.fail_next(1, status=502, method="POST", path_contains="/customer")
    assert (await qbo.request("GET", "customer/1")).status_code == 200
    failed = await qbo.request("POST", "customer", payload={"DisplayName": "Not Created"})
    assert failed.status_code == 502
    assert (await qbo.query("select count(*) from Customer where DisplayName = 'Not Created'"))[
        "totalCount"
    ] == 0
    qbo.emu.faults.fail_next(1, status=401)
    assert parse(await qbo.request("GET", "customer/1"))["fault"]["error"][0]["code"] == "3200"


async def test_a_lost_response_after_commit_is_replayed_by_requestid_without_a_duplicate(qbo: Qbo) -> None:
    qbo.emu.faults.fail_next(1, status=500, path_contains="/customer", after_commit=True)
    payload = {"DisplayName": "Stark Industries"}
    lost = await qbo.request("POST", "customer", payload=payload, params={"requestid": "create-stark-1"})
    assert lost.status_code == 500
    retried = await qbo.request("POST", "customer", payload=payload, params={"requestid": "create-stark-1"})
    assert retried.status_code == 200
    count = await qbo.query("select count(*) from Customer where DisplayName = 'Stark Industries'")
    assert count["totalCount"] == 1
    assert parse(retried)["Customer"]["SyncToken"] == "0"


# --- requestid -------------------------------------------------------------------------------------


async def test_a_repeated_requestid_replays_the_exact_response_without_side_effects(qbo: Qbo) -> None:
    customer = await qbo.read("Customer", "3")
    update = {"Id": "3", "SyncToken": customer["SyncToken"], "sparse": True, "Notes": "first"}
    first = await qbo.request("POST", "customer", payload=update, params={"requestid": "note-3"})
    second = await qbo.request("POST", "customer", payload=update, params={"requestid": "note-3"})
    assert first.status_code == second.status_code == 200
    assert first.content == second.content
    assert (await qbo.read("Customer", "3"))["SyncToken"] == "1"


async def test_requestid_with_a_different_body_replays_by_default_or_errors_when_configured(qbo: Qbo) -> None:
    await qbo.request("POST", "customer", payload={"DisplayName": "First Body"}, params={"requestid": "rq-1"})
    replayed = await qbo.request(
        "POST", "customer", payload={"DisplayName": "Second Body"}, params={"requestid": "rq-1"}
    )
    assert parse(replayed)["Customer"]["DisplayName"] == "First Body"
    qbo.emu.requestid_conflict = "error"
    error = await qbo.fault(
        "POST", "customer", payload={"DisplayName": "Third Body"}, params={"requestid": "rq-1"}
    )
    assert error["code"] == "600"


async def test_requestid_longer_than_50_characters_is_refused(qbo: Qbo) -> None:
    error = await qbo.fault(
        "POST", "customer", payload={"DisplayName": "Long Id"}, params={"requestid": "r" * 51}
    )
    assert error["code"] == "2050"
    ok = await qbo.request(
        "POST", "customer", payload={"DisplayName": "Long Id"}, params={"requestid": "r" * 50}
    )
    assert ok.status_code == 200


async def test_requestids_are_kept_per_company(qbo: Qbo) -> None:
    await qbo.request("POST", "customer", payload={"DisplayName": "Realm One"}, params={"requestid": "same"})
    other = QboEmulator(rate_limits="relaxed", realm_id="4620816365170000000")
    async with open_qbo(other) as second:
        response = await second.request(
            "POST", "customer", payload={"DisplayName": "Realm Two"}, params={"requestid": "same"}
        )
    assert parse(response)["Customer"]["DisplayName"] == "Realm Two"


# --- throttling ------------------------------------------------------------------------------------


async def test_the_per_second_budget_answers_429_in_xml_until_the_injected_clock_moves() -> None:
    clock = FakeClock()
    async with open_qbo(emulator(rate_limits="faithful", clock=clock)) as qbo:
        statuses = [(await qbo.request("GET", "customer/1")).status_code for _ in range(11)]
        assert statuses == [200] * 10 + [429]
        throttled = await qbo.request("GET", "customer/1")
        assert throttled.headers["content-type"].startswith("application/xml")
        assert "Retry-After" not in throttled.headers
        error = ET.fromstring(throttled.content).find(f"{NS}Fault/{NS}Error")
        assert error is not None
        assert error.get("code") == "3001"
        assert error.findtext(f"{NS}Message") == "message=ThrottleExceeded; errorCode=003001; statusCode=429"
        fault = ET.fromstring(throttled.content).find(f"{NS}Fault")
        assert fault is not None
        assert fault.get("type") == "SERVICE"
        clock.advance(1.0)
        assert (await qbo.request("GET", "customer/1")).status_code == 200


async def test_the_per_minute_budget_is_tunable_and_retry_after_is_opt_in() -> None:
    clock = FakeClock()
    async with open_qbo(emulator(rate_limits="faithful", clock=clock)) as qbo:
        qbo.emu.rate_budget.per_minute = RateBudget(3, 60.0)
        qbo.emu.retry_after_header = True
        for _ in range(3):
            assert (await qbo.request("GET", "customer/1")).status_code == 200
            clock.advance(2.0)
        throttled = await qbo.request("GET", "customer/1")
        assert throttled.status_code == 429
        assert throttled.headers["Retry-After"] == "54"
        clock.advance(54.0)
        assert (await qbo.request("GET", "customer/1")).status_code == 200


async def test_batch_requests_have_their_own_per_minute_budget() -> None:
    clock = FakeClock()
    async with open_qbo(emulator(rate_limits="faithful", clock=clock)) as qbo:
        qbo.emu.rate_budget.batch_per_minute = RateBudget(2, 60.0)
        batch = {"BatchItemRequest": [{"bId": "q", "Query": "select count(*) from Customer"}]}
        assert (await qbo.request("POST", "batch", payload=batch)).status_code == 200
        assert (await qbo.request("POST", "batch", payload=batch)).status_code == 200
        assert (await qbo.request("POST", "batch", payload=batch)).status_code == 429
        assert (await qbo.request("GET", "customer/1")).status_code == 200


async def test_time_scale_shortens_every_window_and_retry_after_and_throttles_are_counted() -> None:
    clock = FakeClock()
    async with open_qbo(emulator(rate_limits="faithful", time_scale=10, clock=clock)) as qbo:
        budget = qbo.emu.rate_budget
        assert (budget.per_minute, budget.per_second, budget.batch_per_minute) == (
            RateBudget(500, 6.0),
            RateBudget(10, 0.1),
            RateBudget(40, 6.0),
        )
        statuses = [(await qbo.request("GET", "customer/1")).status_code for _ in range(11)]
        assert statuses == [200] * 10 + [429]
        assert qbo.emu.throttled == 1
        clock.advance(0.1)
        assert (await qbo.request("GET", "customer/1")).status_code == 200
        qbo.emu.retry_after_header = True
        qbo.emu.rate_budget.per_minute = RateBudget(11, 6.0)
        clock.advance(0.5)
        throttled = await qbo.request("GET", "customer/1")
        # The window frees in 5.4 s of its 6; the real service would have said 54 of 60.
        assert (throttled.status_code, throttled.headers["Retry-After"]) == (429, "5.4")
        assert qbo.emu.throttled == 2
    assert emulator(rate_limits="relaxed", time_scale=2).rate_budget.per_second == RateBudget(1_000, 0.5)
    for nonsense in (0, -1, float("inf")):
        with pytest.raises(ValueError, match="time_scale"):
            emulator(time_scale=nonsense)


async def test_latency_is_added_before_answering(qbo: Qbo) -> None:
    qbo.emu.faults.latency_s = 0.02
    started = time.monotonic()
    assert (await qbo.request("GET", "customer/1")).status_code == 200
    assert time.monotonic() - started >= 0.02


async def test_queries_batches_and_faults_render_as_xml_too(qbo: Qbo) -> None:
    xml = {"Accept": "application/xml"}
    query = ET.fromstring(
        (await qbo.request("GET", "query", params={"query": "select * from Term"}, headers=xml)).content
    )
    response = query.find(f"{NS}QueryResponse")
    assert response is not None
    assert (response.get("startPosition"), response.get("maxResults")) == ("1", "4")
    assert len(response.findall(f"{NS}Term")) == 4
    batch = {"BatchItemRequest": [{"bId": "one", "Query": "select count(*) from Vendor"}]}
    batch_root = ET.fromstring((await qbo.request("POST", "batch", payload=batch, headers=xml)).content)
    item = batch_root.find(f"{NS}BatchItemResponse")
    assert item is not None
    assert item.get("bId") == "one"
    fault = await qbo.request("POST", "customer", payload={"DisplayName": "Hooli"}, headers=xml)
    assert fault.status_code == 400
    error = ET.fromstring(fault.content).find(f"{NS}Fault/{NS}Error")
    assert error is not None
    assert (error.get("code"), error.findtext(f"{NS}Message")) == ("6240", "Duplicate Name Exists Error")
