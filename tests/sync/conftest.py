"""Fixtures for the sync tests; the environment itself is built in sync_support.py."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from sync_support import SyncEnv, build_sync_env


@pytest.fixture
async def sync_env(tmp_path: Path) -> AsyncIterator[SyncEnv]:
    """The demo agency, global tax model (CAD, GST + QST), shipped policies.yaml."""
    async with build_sync_env(tmp_path, tax_model="global") as env:
        yield env


@pytest.fixture
async def sync_env_us(tmp_path: Path) -> AsyncIterator[SyncEnv]:
    """The demo agency's New York office: USD, Automated Sales Tax, the US policy above."""
    async with build_sync_env(tmp_path, tax_model="us") as env:
        yield env
