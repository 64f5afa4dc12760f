"""The month-end volume benchmark (issue 8): one command that seeds the sandbox at each size N, runs each
mode in a fresh subprocess, and prints and writes what it measured next to the issue's targets.

    .venv/bin/python -m benchmarks.volume --sizes 100,1000,5000 --out benchmarks/results/latest.json

Modes (`--modes`, comma-separated): `a` one sync_invoice call per invoice through a real MCP client
session; `b` the period plan (one sync_invoice call for the seeded month); `c` the naive baseline;
suffix `-confirm` for a policy that asks the human (who accepts; elicitations are counted) and `-limits`
for the services' real rate limits, enforced by the emulators on the time-scale knob
(`--rate-time-scale`). `--report FILE` renders an earlier JSON again; `--markdown` prints Markdown
tables (what docs/performance.md shows). Nothing here is a test: figures are measured, never asserted.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
import traceback
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
DEFAULT_SIZES = "100,1000,5000"
DEFAULT_MODES = "a,b,b-confirm,c,b-limits,c-limits"
DEFAULT_OUT = REPO / "benchmarks" / "results" / "latest.json"


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.volume",
        description="Month-end volume benchmark of paymo-qb-mcp on the in-process sandbox "
        "(docs/performance.md).",
    )
    parser.add_argument("--sizes", default=DEFAULT_SIZES, help=f"comma-separated N (default {DEFAULT_SIZES})")
    parser.add_argument(
        "--modes", default=DEFAULT_MODES, help=f"comma-separated modes (default {DEFAULT_MODES})"
    )
    parser.add_argument("--seed", type=int, default=7, help="the data generator's seed (default 7)")
    parser.add_argument(
        "--rate-time-scale",
        type=float,
        default=20.0,
        help="in -limits modes every rate-limit window is this many times shorter, on both the "
        "emulators and the product's limiters (20: a minute lasts 3 s; default 20)",
    )
    parser.add_argument(
        "--timeout", type=float, default=3600.0, help="seconds allowed per run (N, mode) (default 3600)"
    )
    parser.add_argument(
        "--out", type=Path, default=DEFAULT_OUT, help=f"JSON written here (default {DEFAULT_OUT})"
    )
    parser.add_argument(
        "--startup-runs", type=int, default=5, help="cold starts timed for initialize (default 5)"
    )
    parser.add_argument("--skip-startup", action="store_true", help="do not time the server's start-up")
    parser.add_argument(
        "--markdown", action="store_true", help="print Markdown tables (for docs/performance.md)"
    )
    parser.add_argument(
        "--report",
        type=Path,
        nargs="+",
        help="render earlier result JSON files instead of running (several are merged into one report)",
    )
    # One run in this process (what the orchestrator starts for each N and mode).
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    parser.add_argument("--worker-n", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--worker-result", type=Path, help=argparse.SUPPRESS)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if args.worker:
        return _worker(args)
    from benchmarks.report import merge, render

    if args.report:
        documents = [json.loads(path.read_text(encoding="utf-8")) for path in args.report]
        data = documents[0] if len(documents) == 1 else merge(documents)
        print(render(data, markdown=args.markdown), end="")
        return 0
    from benchmarks.runs import ModeSpec

    try:
        sizes = [int(size) for size in args.sizes.split(",") if size.strip()]
        modes = [ModeSpec.parse(mode.strip()).name for mode in args.modes.split(",") if mode.strip()]
    except ValueError as error:
        print(f"benchmarks.volume: {error}", file=sys.stderr)
        return 2
    if not sizes or min(sizes) < 1 or not modes:
        print("benchmarks.volume: give at least one size ≥ 1 and one mode", file=sys.stderr)
        return 2
    data = _run_all(args, sizes, modes)
    print(render(data, markdown=args.markdown), end="")
    print(f"\nWritten to {args.out}", file=sys.stderr)
    return 0


def _meta(args: argparse.Namespace) -> dict[str, Any]:
    from benchmarks.runs import detect_time_scale

    def git(*command: str) -> str | None:
        try:
            done = subprocess.run(["git", *command], cwd=REPO, capture_output=True, text=True, timeout=30)
        except (OSError, subprocess.SubprocessError):
            return None
        return done.stdout.strip() if done.returncode == 0 else None

    status = git("status", "--porcelain", "--untracked-files=no")
    load = os.getloadavg() if hasattr(os, "getloadavg") else None
    return {
        "commit": git("rev-parse", "--short=12", "HEAD"),
        "dirty": bool(status) if status is not None else None,
        "python": f"Python {platform.python_version()}",
        "platform": platform.platform(terse=True),
        "cpus": os.cpu_count(),
        "load_average": [round(value, 2) for value in load] if load else None,
        "seed": args.seed,
        "time_scale": detect_time_scale(args.rate_time_scale).as_dict(),
        "timeout_s": args.timeout,
        "started_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
    }


def _run_all(args: argparse.Namespace, sizes: list[int], modes: list[str]) -> dict[str, Any]:
    from benchmarks.report import evaluate_targets
    from benchmarks.startup import measure_startup

    data: dict[str, Any] = {
        "benchmark": "volume",
        "version": 1,
        "meta": _meta(args),
        "startup": None,
        "runs": [],
    }
    if not args.skip_startup:
        _say(f"timing start-up ({args.startup_runs} cold starts of each)…")
        data["startup"] = measure_startup(args.startup_runs)
    for n in sizes:
        for mode in modes:
            _say(f"N={n} mode {mode}…")
            run = _spawn(args, n, mode)
            data["runs"].append(run)
            _say(
                f"N={n} mode {mode}: {run['status']}" + (f", {run['wall_s']} s" if run.get("wall_s") else "")
            )
            _write(args.out, data)  # a long run keeps what it has measured so far
    data["meta"]["finished_at"] = dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
    data["targets"] = [target.as_dict() for target in evaluate_targets(data)]
    _write(args.out, data)
    return data


def _spawn(args: argparse.Namespace, n: int, mode: str) -> dict[str, Any]:
    """One run in a fresh interpreter, so its peak RSS is its own; killed after the timeout."""
    with tempfile.TemporaryDirectory(prefix="paymo-qb-bench-run-") as scratch:
        result = Path(scratch) / "run.json"
        command = [
            sys.executable, "-m", "benchmarks.volume", "--worker", mode, "--worker-n", str(n),
            "--worker-result", str(result), "--seed", str(args.seed),
            "--rate-time-scale", str(args.rate_time_scale), "--timeout", str(args.timeout),
        ]  # fmt: skip
        env = {
            **os.environ,
            "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")])),
        }
        started = time.perf_counter()
        process = subprocess.Popen(command, cwd=REPO, env=env)
        try:
            code = process.wait(timeout=args.timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
            return _failed(n, mode, "timeout", f"stopped after the {args.timeout:.0f} s per-run timeout")
        if result.exists():
            run: dict[str, Any] = json.loads(result.read_text(encoding="utf-8"))
            run["process_s"] = round(time.perf_counter() - started, 3)
            return run
        return _failed(n, mode, "error", f"the run's process exited with status {code} and wrote no result")


def _failed(n: int, mode: str, status: str, reason: str) -> dict[str, Any]:
    from benchmarks.runs import ModeSpec, detect_time_scale, empty_result

    run = empty_result(n, ModeSpec.parse(mode), detect_time_scale(1.0))
    run.update(status=status, reason=reason)
    return run


def _worker(args: argparse.Namespace) -> int:
    import anyio

    from benchmarks.runs import run_one

    async def measured() -> dict[str, Any]:
        return await run_one(
            args.worker_n,
            args.worker,
            seed=args.seed,
            time_scale=args.rate_time_scale,
            timeout_s=args.timeout,
        )

    try:
        run = anyio.run(measured)
    except Exception:
        run = _failed(args.worker_n, args.worker, "error", traceback.format_exc(limit=8)[-3000:])
    _write(args.worker_result, run)
    return 0 if run["status"] in ("ok", "not_supported") else 1


def _write(path: Path, data: dict[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_suffix(path.suffix + ".tmp")
    temporary.write_text(json.dumps(data, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    temporary.replace(path)


def _say(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


if __name__ == "__main__":
    raise SystemExit(main())
