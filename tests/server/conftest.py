"""Fixtures: an MCP server on the sandbox, driven through a real in-process MCP client."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from server_support import SHIPPED_POLICY, ServerEnv, make_env


@pytest.fixture
def server_env(tmp_path: Path) -> ServerEnv:
    return make_env(tmp_path)


@pytest.fixture
def env_factory(tmp_path: Path) -> Callable[..., ServerEnv]:
    def build(policy_text: str | None = None, tax_model: str = "global") -> ServerEnv:
        path = SHIPPED_POLICY
        if policy_text is not None:
            path = tmp_path / "policies.yaml"
            path.write_text(policy_text, encoding="utf-8")
        return make_env(tmp_path, path, tax_model)

    return build
