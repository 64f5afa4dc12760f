"""The shared write window: one writes-per-minute budget for every process and restart on a data directory."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from paymo_qb_mcp.errors import RateLimitedLocally
from paymo_qb_mcp.store.write_budget import WriteWindow

T0 = datetime(2026, 11, 3, 14, 0, tzinfo=UTC)


class ManualClock:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += timedelta(**delta)


def plan(n: int) -> str:
    return f"{n:064x}"


def test_two_windows_on_one_data_directory_share_the_budget(tmp_path: Path) -> None:
    clock = ManualClock()
    with WriteWindow(tmp_path, clock=clock) as one, WriteWindow(tmp_path, clock=clock) as other:
        one.spend(plan(1), 3)
        clock.advance(seconds=10)
        other.spend(plan(2), 3)
        one.spend(plan(3), 3)
        with pytest.raises(RateLimitedLocally, match="3 writes per minute") as refused:
            other.spend(plan(4), 3)
        assert refused.value.retry_after == 50.0
        assert "retry after 50 s" in str(refused.value)
        # A plan already spent in the window is free, whoever spent it (a retried round of one call).
        other.spend(plan(1), 3)
        assert one.spent() == other.spent() == 3
        clock.advance(seconds=50)  # plan 1 leaves the window
        other.spend(plan(4), 3)
        with pytest.raises(RateLimitedLocally):
            one.spend(plan(5), 3)


def test_the_budget_survives_a_restart(tmp_path: Path) -> None:
    clock = ManualClock()
    with WriteWindow(tmp_path, clock=clock) as before:
        before.spend(plan(1), 2)
        before.spend(plan(2), 2)
    with WriteWindow(tmp_path, clock=clock) as after, pytest.raises(RateLimitedLocally):
        after.spend(plan(3), 2)


def test_a_refused_write_takes_no_place(tmp_path: Path) -> None:
    clock = ManualClock()
    with WriteWindow(tmp_path, clock=clock) as window:
        window.spend(plan(1), 1)
        for _ in range(3):
            with pytest.raises(RateLimitedLocally):
                window.spend(plan(2), 1)
        clock.advance(seconds=60)
        window.spend(plan(2), 1)
        assert window.spent() == 1


def test_a_clock_set_back_does_not_hold_the_budget_for_longer_than_a_minute(tmp_path: Path) -> None:
    clock = ManualClock()
    with WriteWindow(tmp_path, clock=clock) as window:
        window.spend(plan(1), 1)
        clock.advance(minutes=-5)
        window.spend(plan(2), 1)
        clock.advance(seconds=-30)  # less than a minute back: the write still counts, for a minute at most
        with pytest.raises(RateLimitedLocally) as refused:
            window.spend(plan(3), 1)
        assert refused.value.retry_after == 60.0


def test_the_clock_must_be_timezone_aware(tmp_path: Path) -> None:
    with (
        WriteWindow(tmp_path, clock=lambda: datetime(2026, 11, 3, 14, 0)) as window,
        pytest.raises(ValueError, match="timezone-aware"),
    ):
        window.spend(plan(1), 1)


RACER = textwrap.dedent(
    """
    import sys
    from datetime import UTC, datetime
    from pathlib import Path
    from paymo_qb_mcp.errors import RateLimitedLocally
    from paymo_qb_mcp.store.write_budget import WriteWindow

    # Every racer at the same moment: the outcome cannot depend on how long the processes take.
    moment = datetime(2026, 11, 3, 14, 0, tzinfo=UTC)
    first = int(sys.argv[2])
    with WriteWindow(Path(sys.argv[1]), clock=lambda: moment) as window:
        print("ready", flush=True)
        sys.stdin.readline()  # all start spending together
        for n in range(first, first + 40):
            try:
                window.spend(f"{n:064x}", 50)
                print("spent")
            except RateLimitedLocally:
                print("refused")
    """
)


def test_processes_racing_on_one_data_directory_spend_the_limit_once(tmp_path: Path) -> None:
    racers = [
        subprocess.Popen(
            [sys.executable, "-c", RACER, str(tmp_path), str(first)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for first in (0, 1000, 2000)
    ]
    for racer in racers:
        assert racer.stdout is not None
        assert racer.stdout.readline().strip() == "ready"
    outputs = [racer.communicate("go\n", timeout=120) for racer in racers]
    assert [racer.returncode for racer in racers] == [0, 0, 0], [err for _, err in outputs]
    answers = [line for out, _ in outputs for line in out.split()]
    assert (answers.count("spent"), answers.count("refused")) == (50, 70)
