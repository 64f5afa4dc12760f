"""One redaction list: the HTTP edge (`net.redact`) and the store (audit, approvals) mask exactly the same
names and shapes, URL query secrets and Authorization headers included, and keep everything else."""

from __future__ import annotations

import base64
import string
from typing import Any

import httpx
import pytest
from hypothesis import given
from hypothesis import strategies as st

from paymo_qb_mcp.domain import secrets
from paymo_qb_mcp.domain.secrets import MASK, KnownSecrets
from paymo_qb_mcp.net import redact as net_redact
from paymo_qb_mcp.store import _redact as store_redact

PAYMO_KEY = "5c2a1e7b94d04f3e8a61b7d2c9f0e4a8"
QBO_ACCESS_TOKEN = "qbo-sandbox-Zm9vYmFyYmF6cXV4MTIzNDU2Nzg5MA"
# The shape of Intuit's access tokens: a compact JWE with `dir` key management (empty second segment).
INTUIT_JWE = (
    "eyJlbmMiOiJBMTI4Q0JDLUhTMjU2IiwiYWxnIjoiZGlyIn0..5jwLwB6D0pN1K3tLwSO1aA."
    "oQ9N0tLbJ2XzAxNmQ1aZ8cWm5p3uY7rT2kL0vB9nM4xQ1sD6fG8hJ0kL2zX4cV6b.ZxYwVu1T2s3R4q5P6o7N8A"
)
INTUIT_REFRESH_TOKEN = "AB11786543210fyPkVCJaEt4LSEHpPC6qxYNXF05m2ybSmg2Hx"

SECRET_NAMES = [
    "Authorization",
    "proxy-authorization",
    "Cookie",
    "Set-Cookie",
    "X-Session",
    "X-Api-Key",
    "api_key",
    "apiKey",
    "access_token",
    "refresh_token",
    "Refresh-Token",
    "REFRESHTOKEN",
    "id_token",
    "client_secret",
    "clientSecret",
    "password",
    "Password",
    "X-Paymo-Signature",
    "private_key",
    "credentials",
    "PAYMO_QB_HTTP_TOKEN",
    "QBO_CLIENT_SECRET",
]
PUBLIC_NAMES = [
    "SyncToken",
    "sync_token",
    "DocNumber",
    "where",
    "include",
    "page_size",
    "code",
    "requestid",
    "minorversion",
    "x_refresh_token_expires_in",
    "done_key",
    "intuit_tid",
    "Accept",
    "Content-Type",
]

name_alphabet = st.sampled_from([*SECRET_NAMES, *PUBLIC_NAMES]) | st.text(
    alphabet=string.ascii_letters + "_-", min_size=1, max_size=16
)
json_scalars = st.none() | st.booleans() | st.integers() | st.text(max_size=40)
json_documents = st.recursive(
    json_scalars,
    lambda children: st.lists(children, max_size=4) | st.dictionaries(name_alphabet, children, max_size=4),
    max_leaves=20,
)


# --- one list -----------------------------------------------------------------------------------


@pytest.mark.parametrize("name", SECRET_NAMES)
def test_both_redactors_call_the_same_names_secret(name: str) -> None:
    assert secrets.is_secret_name(name)
    assert net_redact.is_sensitive_name(name)
    assert store_redact.is_secret_key(name)


@pytest.mark.parametrize("name", PUBLIC_NAMES)
def test_both_redactors_keep_the_same_names_public(name: str) -> None:
    assert not secrets.is_secret_name(name)
    assert not net_redact.is_sensitive_name(name)
    assert not store_redact.is_secret_key(name)


@given(json_documents)
def test_both_redactors_mask_any_document_identically(document: Any) -> None:
    assert net_redact.redact_json(document) == store_redact.Redactor()(document)


@given(st.text(max_size=200))
def test_both_redactors_mask_any_text_identically(text: str) -> None:
    assert net_redact.redact_text(text) == store_redact.Redactor().text(text)


def test_store_redactor_masks_every_secret_name_and_keeps_public_ones() -> None:
    document = dict.fromkeys([*SECRET_NAMES, *PUBLIC_NAMES], "value-1234")
    redacted = store_redact.Redactor()(document)
    assert {name for name, value in redacted.items() if value == MASK} == set(SECRET_NAMES)
    assert net_redact.redact_json(document) == redacted


# --- Authorization headers ----------------------------------------------------------------------


def test_authorization_headers_are_masked_in_every_form() -> None:
    basic = base64.b64encode(f"{PAYMO_KEY}:X".encode()).decode()
    headers = httpx.Headers({"Authorization": f"Basic {basic}", "Accept": "application/json"})
    assert net_redact.redact_headers(headers) == {"authorization": MASK, "accept": "application/json"}
    assert store_redact.Redactor()({"headers": {"Authorization": f"Bearer {QBO_ACCESS_TOKEN}"}}) == {
        "headers": {"Authorization": MASK}
    }
    dumped = (
        f"Authorization: Bearer {QBO_ACCESS_TOKEN}; authorization: Basic {basic}; "
        f"Authorization: raw-{PAYMO_KEY}"
    )
    for redacted in (net_redact.redact_text(dumped), store_redact.Redactor().text(dumped)):
        assert redacted == "Authorization: Bearer ***; authorization: Basic ***; Authorization: ***"


def test_a_header_value_that_carries_a_url_loses_its_secret_parameters() -> None:
    headers = {"Location": "https://app.paymoapp.com/api/invoices/7/?token=perm42&format=pdf"}
    assert net_redact.redact_headers(headers) == {
        "Location": "https://app.paymoapp.com/api/invoices/7/?token=***&format=pdf"
    }


# --- URLs ---------------------------------------------------------------------------------------


def test_query_string_secrets_are_masked_by_both_redactors_wherever_the_url_is() -> None:
    url = (
        f"https://{PAYMO_KEY}:X@app.paymoapp.com/api/invoices/7/?token=perm42&format=pdf"
        "&where=status%3D%22sent%22&include=client,invoiceitems"
    )
    expected = (
        "https://***@app.paymoapp.com/api/invoices/7/?token=***&format=pdf"
        "&where=status%3D%22sent%22&include=client,invoiceitems"
    )
    assert net_redact.redact_url(url) == expected
    assert net_redact.redact_url(httpx.URL(url)) == expected
    redactor = store_redact.Redactor()
    assert redactor.text(f"GET {url} answered 500") == f"GET {expected} answered 500"
    assert redactor({"permalink": url}) == {"permalink": expected}
    assert net_redact.redact_json({"permalink": url}) == {"permalink": expected}


def test_oauth_callbacks_lose_code_and_tokens_in_query_and_fragment() -> None:
    callback = "http://localhost:8765/callback?code=AB12xyz&state=s1&realmId=9130"
    assert secrets.redact_url(callback) == "http://localhost:8765/callback?code=***&state=s1&realmId=9130"
    implicit = "https://app.example/cb#access_token=tok-1234567&token_type=bearer&expires_in=3600"
    assert (
        secrets.redact_url(implicit)
        == "https://app.example/cb#access_token=***&token_type=bearer&expires_in=3600"
    )
    for name in ("api_key", "apiKey", "client_secret", "refresh_token", "password", "X-Api-Key"):
        assert secrets.redact_url(f"https://h/p?{name}=v1&page=2") == f"https://h/p?{name}=***&page=2"


def test_urls_without_secrets_are_left_byte_for_byte() -> None:
    for url in (
        "https://sandbox-quickbooks.api.intuit.com/v3/company/9130/query?query=select%20*%20from%20Invoice"
        "&minorversion=75",
        'https://app.paymoapp.com/api/invoices?where=client_id=3 and status in ("sent","viewed")',
        "https://h/p?a&b=&c==d",
    ):
        assert secrets.redact_url(url) == url


def test_an_unparseable_url_still_loses_its_user_info_and_parameters() -> None:
    assert (
        secrets.redact_text("see http://key123:X@[broken/x?api_key=k1")
        == "see http://***@[broken/x?api_key=***"
    )


# --- shapes in free text ------------------------------------------------------------------------


def test_intuit_tokens_are_masked_by_shape() -> None:
    text = f"refresh failed for {INTUIT_REFRESH_TOKEN} while {INTUIT_JWE} was still cached"
    assert secrets.redact_text(text) == "refresh failed for *** while *** was still cached"
    jwt = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.SflKxwRJSMeKKF2QT4fwpMeJf36POk6yJV_adQssw5c"
    assert store_redact.Redactor().text(f"token {jwt}.") == "token ***."


def test_values_after_a_secret_name_are_masked_in_quoted_bodies() -> None:
    body = (
        '{"error":"invalid_grant","refresh_token": "rt-0123456789", "client_secret":\'cs-1\', "code": 6240}'
    )
    assert secrets.redact_text(body) == (
        '{"error":"invalid_grant","refresh_token": "***", "client_secret":\'***\', "code": 6240}'
    )
    assert secrets.redact_text("password=hunter2! api-key: k-123 SyncToken=3") == (
        "password=*** api-key: *** SyncToken=3"
    )


def test_ordinary_messages_are_untouched() -> None:
    for text in (
        "QuickBooks create Invoice failed (intuit_tid 1-6543-abc): Duplicate Document Number (fault 6140)",
        "Paymo invoice INV-2026-1042 is dated 2025-12-15, before the QuickBooks close date 2025-12-31",
        "Token expired (fault 3200). Reconnect with `paymo-qb-mcp auth quickbooks` if this persists.",
        "plan ab12cd34ef56ab12cd34ef56ab12cd34ef56ab12cd34ef56ab12cd34ef56ab12 (SyncToken 3)",
        "",
    ):
        assert secrets.redact_text(text) == text


# --- known values -------------------------------------------------------------------------------


def test_known_values_are_masked_in_keys_values_and_nested_text() -> None:
    redactor = store_redact.Redactor([PAYMO_KEY, QBO_ACCESS_TOKEN, "short"])
    document = {
        "note": f"key {PAYMO_KEY}, token {QBO_ACCESS_TOKEN}, short stays",
        PAYMO_KEY: [QBO_ACCESS_TOKEN, {"deep": f"x{PAYMO_KEY}y"}],
        "ids": {PAYMO_KEY},
    }
    assert redactor(document) == {
        "note": "key ***, token ***, short stays",
        MASK: [MASK, {"deep": "x***y"}],
        "ids": [MASK],
    }
    assert net_redact.redact_text(f"Invalid key {PAYMO_KEY}", known_secrets=[PAYMO_KEY]) == "Invalid key ***"


def test_a_secret_that_contains_another_is_masked_whole() -> None:
    known = KnownSecrets(["abcdefgh", "abcdefgh-ijklmnop"])
    assert known.mask("x abcdefgh-ijklmnop y abcdefgh") == "x *** y ***"
    assert "abcdefgh" not in repr(known)


@given(
    secret=st.text(alphabet=string.ascii_letters + string.digits + "-_.~", min_size=8, max_size=40),
    before=st.text(max_size=30),
    after=st.text(max_size=30),
)
def test_a_known_secret_never_survives_and_redaction_is_idempotent(
    secret: str, before: str, after: str
) -> None:
    text = f"{before}{secret}{after}"
    once = secrets.redact_text(text, [secret])
    assert secret not in once
    assert secrets.redact_text(once, [secret]) == once


@given(st.text(max_size=200))
def test_redacting_text_twice_changes_nothing_more(text: str) -> None:
    once = secrets.redact_text(text)
    assert secrets.redact_text(once) == once


@pytest.mark.parametrize(
    "shape",
    ["a", "token", "eyJ", "eyJaaaaaaaa.", "a=", "AB12", "Bearer ", "name: ", "x.y-z_"],
)
def test_redaction_takes_time_linear_in_the_text(shape: str) -> None:
    # Redaction ran in time quadratic in a string's length: 20,000 letters took 18 s and a 1 MB
    # argument hung the server. The same shapes, repeated to 400,000 characters, must take no time at
    # all next to that (the bound is a thousand times what linear work needs, so it never flakes).
    import time

    text = shape * (400_000 // len(shape))
    started = time.perf_counter()
    for redact in (secrets.redact_text, net_redact.redact_text):
        redact(text)
    assert time.perf_counter() - started < 10.0
