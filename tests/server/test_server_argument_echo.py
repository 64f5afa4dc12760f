"""A credential passed as an argument never comes back: refused without echo (whatever its case), kept out of
the audit log, and masked in any answer as a last line of defence."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from mcp.server.mcpserver.exceptions import ToolError
from server_support import make_env

from paymo_qb_mcp.domain.secrets import MASK, KnownSecrets
from paymo_qb_mcp.server.governance import refuse_credentials


def text_of(result: Any) -> str:
    return " ".join(str(getattr(block, "text", "")) for block in result.content)


@pytest.mark.parametrize("case", [str, str.upper, str.lower])
@pytest.mark.parametrize(
    ("tool", "argument", "other"),
    [
        ("sync_invoice", "approval_id", {"paymo_invoice_id": 50001}),
        ("find_client_match", "qbo_customer_id", {"paymo_client_id": 10008}),
        ("sync_invoice", "approval_id", {"paymo_invoice_ids": [50001, 50005]}),
    ],
)
@pytest.mark.parametrize("which", ["paymo_key", "qbo_token"])
async def test_a_credential_passed_as_an_argument_is_refused_and_never_repeated(
    tmp_path: Path, case: Any, tool: str, argument: str, other: dict[str, Any], which: str
) -> None:
    env = make_env(tmp_path)
    secret = env.sandbox.paymo.api_key if which == "paymo_key" else env.sandbox.qbo.access_token
    given = case(secret)
    async with env.client() as client:
        result = await client.call_tool(tool, {**other, argument: given})
    assert result.is_error
    text = text_of(result)
    # Refused by the argument's bounds (no credential has an approval id's or a QuickBooks id's form) or,
    # were it to fit them, by `refuse_credentials`: either way an INPUT error naming the argument.
    assert text.startswith(f"INPUT: {tool}")
    assert argument in text
    assert secret.lower() not in text.lower()
    audit = (
        (env.data_dir / "audit.jsonl").read_text(encoding="utf-8").lower()
        if (env.data_dir / "audit.jsonl").exists()
        else ""
    )
    assert secret.lower() not in audit


@pytest.mark.parametrize("case", [str, str.upper, str.lower])
def test_an_argument_holding_a_credential_is_refused_without_repeating_it(case: Any) -> None:
    secret = "5c2a1e7b94d04f3e8a61b7d2c9f0e4a8"
    runtime = SimpleNamespace(secrets=KnownSecrets([secret]))
    refuse_credentials(runtime, "sync_invoice", {"approval_id": "apr_7K2M9Q", "paymo_invoice_ids": [1, 2]})
    with pytest.raises(ToolError) as refused:
        refuse_credentials(runtime, "sync_invoice", {"paymo_invoice_ids": [1], "approval_id": case(secret)})
    text = str(refused.value)
    assert text.startswith(
        "INPUT: sync_invoice's argument approval_id holds one of this server's credentials"
    )
    assert secret not in text.lower()


def test_known_secrets_are_masked_whatever_their_case() -> None:
    secrets = KnownSecrets(["5c2a1e7b94d04f3e8a61b7d2c9f0e4a8"])
    text = "apr_5C2A1E7B94D04F3E8A61B7D2C9F0E4A8 and 5c2a1e7b94d04f3e8a61b7d2c9f0e4a8"
    assert secrets.mask(text) == f"apr_{MASK} and {MASK}"
    assert secrets.found_in("x5C2A1E7B94D04F3E8A61B7D2C9F0E4A8x")
    assert not secrets.found_in("nothing here")
