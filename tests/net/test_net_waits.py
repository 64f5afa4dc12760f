"""The wait reporter: set for a context, heard by that context and the tasks it starts, failures ignored."""

from __future__ import annotations

import logging

import anyio
import anyio.lowlevel
import pytest

from paymo_qb_mcp.net.waits import announce_wait, report_waits


async def test_without_a_reporter_an_announcement_is_a_no_op() -> None:
    await announce_wait("quickbooks", 3.0, "nobody listens")


async def test_plain_and_coroutine_reporters_both_hear_the_wait() -> None:
    heard: list[tuple[str, float, str]] = []

    async def later(service: str, seconds: float, reason: str) -> None:
        await anyio.lowlevel.checkpoint()
        heard.append((service, seconds, f"async {reason}"))

    with report_waits(lambda service, seconds, reason: heard.append((service, seconds, reason))):
        await announce_wait("paymo", 2.5, "pacing")
        with report_waits(later):  # the inner reporter replaces the outer one while it lasts
            await announce_wait("quickbooks", 4.0, "throttled")
        await announce_wait("paymo", 1.0, "again")
    await announce_wait("paymo", 9.0, "after the block: nobody")
    assert heard == [
        ("paymo", 2.5, "pacing"),
        ("quickbooks", 4.0, "async throttled"),
        ("paymo", 1.0, "again"),
    ]


async def test_tasks_started_inside_the_block_report_to_it_and_others_do_not() -> None:
    heard: list[str] = []

    async def call(name: str) -> None:
        await announce_wait("quickbooks", 1.0, name)

    async with anyio.create_task_group() as outside:
        with report_waits(lambda _service, _seconds, reason: heard.append(reason)):
            async with anyio.create_task_group() as inside:
                inside.start_soon(call, "child")
        outside.start_soon(call, "stranger")
    assert heard == ["child"]


async def test_a_failing_reporter_is_logged_and_the_call_goes_on(caplog: pytest.LogCaptureFixture) -> None:
    def broken(service: str, seconds: float, reason: str) -> None:
        raise RuntimeError("the progress channel is closed")

    with caplog.at_level(logging.WARNING, logger="paymo_qb_mcp.net.waits"), report_waits(broken):
        await announce_wait("paymo", 1.0, "pacing")
    assert "wait reporter failed" in caplog.text
