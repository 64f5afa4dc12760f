"""The runtime opens on the first call that needs it: once however many calls arrive together, closed at the
end of the run in the task that opened it, an opening that fails is that call's coded error (and the next
call tries again), and a policy naming an unknown tool is still refused."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass, field
from typing import Any, cast

import anyio
import pytest
from mcp import Client
from mcp.shared.exceptions import MCPError
from server_support import SHIPPED_POLICY, ServerEnv

from paymo_qb_mcp.config.policy import Policy, Rule, load_policy
from paymo_qb_mcp.errors import ConfigError
from paymo_qb_mcp.server import tools
from paymo_qb_mcp.server.app import build_server
from paymo_qb_mcp.server.runtime import LazyRuntime, Runtime
from paymo_qb_mcp.sync.invoices import selection as sync_selection


@dataclass
class Opening:
    """Wraps a runtime factory: counts openings and closings, fails the first ``failures`` of them, and
    remembers in which task each opened and closed."""

    inner: Callable[[], AbstractAsyncContextManager[Any]]
    failures: int = 0
    delay: float = 0.0
    opened: int = 0
    closed: int = 0
    tasks: list[tuple[str, int]] = field(default_factory=list)

    def __call__(self) -> AbstractAsyncContextManager[Any]:
        @asynccontextmanager
        async def opening() -> AsyncIterator[Any]:
            self.tasks.append(("open", anyio.get_current_task().id))
            await anyio.sleep(self.delay)  # concurrent first calls all arrive while this one opens
            if self.failures:
                self.failures -= 1
                raise ConfigError("No Paymo API key: set PAYMO_API_KEY or run `paymo-qb-mcp auth paymo`.")
            async with self.inner() as runtime:
                self.opened += 1
                try:
                    yield runtime
                finally:
                    self.closed += 1
                    self.tasks.append(("close", anyio.get_current_task().id))

        return opening()


def lazy_server(opening: Opening) -> Client:
    return Client(build_server(opening, policy_path=SHIPPED_POLICY))


def naming_an_unknown_tool(policy: Policy) -> Policy:
    extra = Rule(name="typo", tools=("sync_everything",), effect="deny")
    return policy.model_copy(update={"rules": (*policy.rules, extra)})


def sentinel_factory() -> AbstractAsyncContextManager[Any]:
    @asynccontextmanager
    async def opened() -> AsyncIterator[Any]:
        yield cast(Runtime, object())

    return opened()


# --- LazyRuntime on its own ------------------------------------------------------------------


async def test_concurrent_first_gets_open_once_and_the_run_closes_it_in_the_task_that_opened_it() -> None:
    opening = Opening(sentinel_factory, delay=0.05)
    got: list[Runtime] = []
    async with anyio.create_task_group() as server_group:
        lazy = LazyRuntime(opening, server_group)
        assert lazy.runtime is None

        async def call() -> None:
            got.append(await lazy.get())

        async with anyio.create_task_group() as calls:
            for _ in range(5):
                calls.start_soon(call)
        assert len(got) == 5
        assert len({id(runtime) for runtime in got}) == 1
        assert lazy.runtime is got[0]
        assert (opening.opened, opening.closed, lazy.times_opened) == (1, 0, 1)
        lazy.close()
    assert (opening.opened, opening.closed) == (1, 1)
    assert lazy.runtime is None
    (open_kind, open_task), (close_kind, close_task) = opening.tasks
    assert (open_kind, close_kind) == ("open", "close")
    assert open_task == close_task


async def test_a_failed_opening_raises_to_the_caller_and_the_next_get_tries_again() -> None:
    opening = Opening(sentinel_factory, failures=1)
    async with anyio.create_task_group() as server_group:
        lazy = LazyRuntime(opening, server_group)
        with pytest.raises(ConfigError, match="No Paymo API key"):
            await lazy.get()
        assert lazy.runtime is None
        assert await lazy.get() is lazy.runtime
        assert lazy.times_opened == 1
        lazy.close()
    assert opening.closed == 1


async def test_a_run_that_never_needed_the_runtime_never_opens_it_and_a_closed_one_refuses() -> None:
    opening = Opening(sentinel_factory)
    async with anyio.create_task_group() as server_group:
        lazy = LazyRuntime(opening, server_group)
        lazy.close()
        with pytest.raises(ConfigError, match="shutting down"):
            await lazy.get()
    assert opening.tasks == []


async def test_the_check_runs_on_the_opened_runtime_and_its_error_closes_it() -> None:
    opening = Opening(sentinel_factory)

    def refuse(_runtime: Runtime) -> None:
        raise ConfigError("policies.yaml names tools that do not exist: sync_everything")

    async with anyio.create_task_group() as server_group:
        lazy = LazyRuntime(opening, server_group, check=refuse)
        with pytest.raises(ConfigError, match="sync_everything"):
            await lazy.get()
        lazy.close()
    assert (opening.opened, opening.closed) == (1, 1)


# --- through a real MCP client ---------------------------------------------------------------


async def test_initialize_and_the_listings_open_nothing_the_first_calls_open_once(
    server_env: ServerEnv,
) -> None:
    opening = Opening(server_env.factory, delay=0.05)
    async with lazy_server(opening) as client:
        assert {tool.name for tool in (await client.list_tools()).tools} == set(tools.TOOL_NAMES)
        await client.list_resources()
        await client.list_resource_templates()
        await client.list_prompts()
        await client.get_prompt("month_end_reconciliation", {"month": "2026-10"})
        policy = await client.read_resource("paymo-qb://policy")
        assert "rules" in str(policy.contents[0])
        with pytest.raises(MCPError, match="NOT_FOUND: no recent plan"):
            await client.read_resource("paymo-qb://plans/" + "ab" * 32)
        assert opening.tasks == []

        results: list[Any] = []

        async def status() -> None:
            results.append(await client.call_tool("sync_status", {}))

        async with anyio.create_task_group() as calls:
            for _ in range(4):
                calls.start_soon(status)
        assert [result.is_error for result in results] == [False] * 4
        assert (opening.opened, opening.closed) == (1, 0)
        audit = await client.read_resource("paymo-qb://audit/recent")
        assert audit.contents
        assert opening.opened == 1
    assert opening.closed == 1


async def test_an_opening_that_fails_is_the_calls_coded_error_and_the_next_call_opens(
    server_env: ServerEnv,
) -> None:
    opening = Opening(server_env.factory, failures=2)
    async with lazy_server(opening) as client:
        period = {"date_from": "2026-10-01", "date_to": "2026-10-31"}
        failed = await client.call_tool("reconciliation_report", period)
        assert failed.is_error
        text = str(getattr(failed.content[0], "text", ""))
        assert text.startswith("CONFIG: No Paymo API key"), text
        with pytest.raises(MCPError, match="CONFIG: No Paymo API key"):
            await client.read_resource("paymo-qb://approvals/pending")
        status = await client.call_tool("sync_status", {})
        assert not status.is_error, status.content
        assert status.structured_content is not None
        assert status.structured_content["connection"] == "sandbox (test)"
    assert (opening.opened, opening.closed) == (1, 1)


def test_a_policy_naming_an_unknown_tool_fails_the_build(server_env: ServerEnv) -> None:
    shipped = load_policy(SHIPPED_POLICY)
    wrong = naming_an_unknown_tool(shipped)
    with pytest.raises(ConfigError, match="names tools that do not exist: sync_everything"):
        build_server(server_env.factory, policy=wrong)
    build_server(server_env.factory, policy=shipped)  # the shipped one names only real tools


async def test_without_a_policy_given_the_unknown_tool_is_the_first_calls_error(
    server_env: ServerEnv,
) -> None:
    wrong = naming_an_unknown_tool(load_policy(SHIPPED_POLICY))

    def factory() -> AbstractAsyncContextManager[Runtime]:
        @asynccontextmanager
        async def opened() -> AsyncIterator[Runtime]:
            async with server_env.factory() as runtime:
                runtime.policy = wrong
                yield runtime

        return opened()

    async with Client(build_server(factory)) as client:
        result = await client.call_tool("sync_status", {})
    assert result.is_error
    assert str(getattr(result.content[0], "text", "")).startswith(
        "CONFIG: policies.yaml names tools that do not exist: sync_everything"
    )


def test_the_schema_bound_on_invoice_ids_is_the_sync_cores() -> None:
    assert tools.MAX_SELECTED_IDS == sync_selection.MAX_SELECTED_IDS


async def test_what_a_run_raises_leaves_the_lifespan_as_it_was_raised(server_env: ServerEnv) -> None:
    server = build_server(server_env.factory)
    lifespan = server.settings.lifespan
    assert lifespan is not None

    async def run_that_breaks() -> None:
        async with lifespan(server) as lazy:
            assert isinstance(lazy, LazyRuntime)
            await lazy.get()
            raise ValueError("the transport broke")

    with pytest.raises(ValueError, match="the transport broke"):
        await run_that_breaks()
