"""Redaction strips every credential and keeps everything else readable."""

from __future__ import annotations

import httpx

from paymo_qb_mcp.net.redact import (
    MASK,
    is_sensitive_name,
    redact_headers,
    redact_json,
    redact_text,
    redact_url,
)


def test_headers_lose_credentials_only() -> None:
    headers = httpx.Headers(
        {
            "Authorization": "Bearer eyJhbGciOi.secret",
            "X-Session": "abc123",
            "Cookie": "sid=1",
            "Accept": "application/json",
            "intuit_tid": "1-abc",
        }
    )
    assert redact_headers(headers) == {
        "authorization": MASK,
        "x-session": MASK,
        "cookie": MASK,
        "accept": "application/json",
        "intuit_tid": "1-abc",
    }
    assert redact_headers({"X-Api-Key": "k", "Content-Type": "text/plain"}) == {
        "X-Api-Key": MASK,
        "Content-Type": "text/plain",
    }


def test_urls_lose_userinfo_and_secret_parameters_but_keep_filters() -> None:
    url = "https://apikey123:X@app.paymoapp.com/api/invoices/7?token=perm42&where=status%3D%22sent%22&page=0"
    assert redact_url(url) == (
        "https://***@app.paymoapp.com/api/invoices/7?token=***&where=status%3D%22sent%22&page=0"
    )
    callback = httpx.URL("https://localhost/cb?code=AB12&state=s1&realmId=9130&client_secret=shh")
    assert redact_url(callback) == "https://localhost/cb?code=***&state=s1&realmId=9130&client_secret=***"
    assert redact_url("https://quickbooks.api.intuit.com/v3/company/1/query") == (
        "https://quickbooks.api.intuit.com/v3/company/1/query"
    )


def test_json_masks_secret_keys_at_any_depth_and_keeps_sync_tokens_and_codes() -> None:
    document = {
        "access_token": "at",
        "refresh_token": "rt",
        "x_refresh_token_expires_in": 8726400,
        "nested": [{"client_secret": "cs", "Password": "pw", "name": "Acme"}],
        "Invoice": {"SyncToken": "3", "DocNumber": "INV-1"},
        "Fault": {"Error": [{"code": "6240", "Message": "Duplicate Name Exists Error"}]},
        "permalink": "https://app.paymoapp.com/api/invoices/1/?token=abc&format=html",
        "download_token": "dl",
    }
    assert redact_json(document) == {
        "access_token": MASK,
        "refresh_token": MASK,
        "x_refresh_token_expires_in": 8726400,
        "nested": [{"client_secret": MASK, "Password": MASK, "name": "Acme"}],
        "Invoice": {"SyncToken": "3", "DocNumber": "INV-1"},
        "Fault": {"Error": [{"code": "6240", "Message": "Duplicate Name Exists Error"}]},
        "permalink": "https://app.paymoapp.com/api/invoices/1/?token=***&format=html",
        "download_token": MASK,
    }


def test_free_text_loses_bearer_basic_and_url_secrets() -> None:
    text = (
        "401 for Authorization: Bearer eyJ.abc-def_1 calling "
        "https://app.paymoapp.com/api/me?api_key=k1 with Basic dXNlcjpY"
    )
    assert redact_text(text) == (
        "401 for Authorization: Bearer *** calling https://app.paymoapp.com/api/me?api_key=*** with Basic ***"
    )


def test_sensitive_names_ignore_case_and_separators() -> None:
    for name in ["Refresh-Token", "refresh_token", "REFRESHTOKEN", "clientSecret", "id_token", "x-api-key"]:
        assert is_sensitive_name(name), name
    for name in ["SyncToken", "DocNumber", "where", "include", "page_size", "code"]:
        assert not is_sensitive_name(name), name
