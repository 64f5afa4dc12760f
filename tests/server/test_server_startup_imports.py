"""Start-up stays light: building `serve --sandbox` and answering `initialize` and the listings import
none of the sync core, the API clients and their wire models, the stores, httpx, the OAuth library,
rapidfuzz, diskcache or the sandbox; the first tool call does (so the probe sees them when they load).

Not a timed test: it checks what is imported, in a fresh interpreter, which is what start-up costs.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow

# What only a call needs: each package and everything under it.
HEAVY = (
    "paymo_qb_mcp.sync",
    "paymo_qb_mcp.paymo",
    "paymo_qb_mcp.quickbooks",
    "paymo_qb_mcp.store",
    "paymo_qb_mcp.sandbox",
    "paymo_qb_mcp.domain.plan",
    "paymo_qb_mcp.net.http",
    "paymo_qb_mcp.net.ratelimit",
    "httpx",
    "intuitlib",
    "rapidfuzz",
    "diskcache",
    "keyring",
)
ALLOWED = (
    # The sync package's __init__ is its docstring; its report models (pydantic only) are the read-only
    # tools' output schemas, which declaring the tools needs.
    "paymo_qb_mcp.sync",
    "paymo_qb_mcp.sync.reports",
    # A namespace package made by intuit-oauth's .pth file when the interpreter starts (nothing loaded).
    "intuitlib",
)

PROBE = """
import json, sys

import anyio
from mcp import Client

from paymo_qb_mcp.cli import build_parser, serve_cmd

HEAVY = tuple(sys.argv[1].split(","))
ALLOWED = tuple(sys.argv[2].split(","))


def heavy() -> list[str]:
    return sorted(
        name
        for name in sys.modules
        if any(name == package or name.startswith(package + ".") for package in HEAVY) and name not in ALLOWED
    )


report = {}
server, _ = serve_cmd._build(build_parser().parse_args(["serve", "--sandbox", "--log-level", "WARNING"]))
report["built"] = heavy()


async def main() -> None:
    async with Client(server) as client:
        await client.list_tools()
        await client.list_resources()
        await client.list_resource_templates()
        await client.list_prompts()
        await client.read_resource("paymo-qb://policy")
        report["initialized"] = heavy()
        result = await client.call_tool("sync_status", {})
        report["first_call_ok"] = not result.is_error
        report["after_first_call"] = heavy()


anyio.run(main)
print(json.dumps(report))
"""


def test_start_up_imports_nothing_a_call_needs_until_a_call_needs_it(tmp_path: Path) -> None:
    env = {
        **{name: value for name, value in os.environ.items() if not name.startswith(("PAYMO_", "QBO_"))},
        "PAYMO_QB_DATA_DIR": str(tmp_path / "data"),
        "PAYMO_QB_TOKEN_STORE": "file",
    }
    done = subprocess.run(
        [sys.executable, "-c", PROBE, ",".join(HEAVY), ",".join(ALLOWED)],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout.strip().splitlines()[-1])
    assert report["built"] == []
    assert report["initialized"] == []
    assert report["first_call_ok"]
    # The probe sees them once a call needs them: the sync core, both clients, the stores, the sandbox.
    loaded = report["after_first_call"]
    for needed in (
        "paymo_qb_mcp.sync.service",
        "paymo_qb_mcp.quickbooks.models",
        "paymo_qb_mcp.paymo.client",
        "paymo_qb_mcp.store.ledger",
        "paymo_qb_mcp.sandbox.core",
        "httpx",
        "diskcache",
        "rapidfuzz",
    ):
        assert needed in loaded
