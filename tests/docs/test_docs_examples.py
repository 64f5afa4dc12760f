"""The examples and the README's tables say what the code does: Desktop configs, tool calls, settings."""

from __future__ import annotations

import inspect
import json
import re
from pathlib import Path
from typing import Any

import pytest
from docs_support import REPO, parse_error, relative, section

from paymo_qb_mcp.cli import build_parser
from paymo_qb_mcp.config.settings import ENVIRONMENT_VARIABLES, load_settings
from paymo_qb_mcp.server import tools

CONFIGS: tuple[Path, ...] = tuple(sorted((REPO / "examples").glob("claude_desktop_config*.json")))
# Values that must never sit in a config file: the README promises that no secret goes there.
SECRET_VARIABLES = frozenset(
    {"PAYMO_API_KEY", "QBO_ACCESS_TOKEN", "QBO_CLIENT_SECRET", "PAYMO_QB_HTTP_TOKEN"}
)
# Parameters the SDK fills (the plan, the human's answer, the context); the agent never sends them.
RESOLVER_PARAMETERS = frozenset({"prepared", "confirmation", "ctx"})


def _server(path: Path) -> tuple[str, dict[str, Any]]:
    document = json.loads(path.read_text(encoding="utf-8"))
    assert set(document) == {"mcpServers"}, f"{relative(path)}: only mcpServers belongs at the top"
    servers = document["mcpServers"]
    assert isinstance(servers, dict)
    assert len(servers) == 1, relative(path)
    ((name, server),) = servers.items()
    return name, server


def test_both_desktop_configs_exist() -> None:
    assert {path.name for path in CONFIGS} == {
        "claude_desktop_config.live.json",
        "claude_desktop_config.sandbox.json",
    }


@pytest.mark.parametrize("path", CONFIGS, ids=relative)
def test_desktop_config_has_the_right_shape(path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    name, server = _server(path)
    assert re.fullmatch(r"[a-z][a-z0-9-]*", name), name
    assert set(server) == {"command", "args", "env"}
    command = server["command"]
    assert isinstance(command, str)
    assert command.startswith("/"), command
    assert command.endswith("/.venv/bin/paymo-qb-mcp"), command
    args = server["args"]
    assert isinstance(args, list)
    assert all(isinstance(arg, str) for arg in args)
    assert args[0] == "serve"
    assert parse_error(build_parser(), args) is None, args
    env = server["env"]
    assert isinstance(env, dict)
    assert all(isinstance(value, str) for value in env.values())
    assert set(env) <= set(ENVIRONMENT_VARIABLES), set(env) - set(ENVIRONMENT_VARIABLES)
    assert not set(env) & SECRET_VARIABLES, f"{relative(path)} puts a secret in the config"
    # The values are valid settings (placeholders included), as the server would read them.
    for variable in ENVIRONMENT_VARIABLES:
        monkeypatch.delenv(variable, raising=False)
    for variable, value in env.items():
        monkeypatch.setenv(variable, value)
    load_settings()


def test_sandbox_config_runs_the_sandbox() -> None:
    _, server = _server(REPO / "examples" / "claude_desktop_config.sandbox.json")
    assert "--sandbox" in server["args"]


def test_live_config_names_the_company_and_finds_what_auth_stored() -> None:
    _, server = _server(REPO / "examples" / "claude_desktop_config.live.json")
    assert "--sandbox" not in server["args"]
    assert {"QBO_ENVIRONMENT", "QBO_REALM_ID", "PAYMO_QB_POLICY"} <= set(server["env"])
    # `auth` stores credentials in the default data directory and store; a live config that moved
    # either would look for them somewhere else.
    assert not {"PAYMO_QB_DATA_DIR", "PAYMO_QB_TOKEN_STORE"} & set(server["env"])


def _tool_parameters(name: str) -> set[str]:
    function = getattr(tools, name)
    return set(inspect.signature(function).parameters) - RESOLVER_PARAMETERS


def test_transcript_tool_calls_use_real_tools_and_arguments() -> None:
    text = (REPO / "examples" / "transcript.md").read_text(encoding="utf-8")
    calls = re.findall(r"`([a-z_]+) (\{[^`]*\})`", text)
    checked = 0
    for name, arguments in calls:
        assert name in tools.TOOL_NAMES, f"the transcript calls an unknown tool {name}"
        if "…" in arguments:
            continue  # abridged on purpose
        unknown = set(json.loads(arguments)) - _tool_parameters(name)
        assert not unknown, f"{name} has no arguments {sorted(unknown)}"
        checked += 1
    assert checked >= 8


def test_readme_tool_table_lists_every_tool() -> None:
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    table = readme[: readme.index("## Fresh machine")]
    listed = re.findall(r"^\| `([a-z_]+)` \|", table, re.MULTILINE)
    assert listed == list(tools.TOOL_NAMES)


def test_readme_configuration_table_lists_every_setting() -> None:
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    rows = [line for line in section(readme, "## Configuration").splitlines() if line.startswith("| `")]
    documented = {name for row in rows for name in re.findall(r"`([A-Z][A-Z0-9_]+)`", row.split("|")[1])}
    assert documented == set(ENVIRONMENT_VARIABLES)
