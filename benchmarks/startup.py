"""Start-up time: `paymo-qb-mcp serve --sandbox` over stdio, from process start to the `initialize`
answer, next to how long a bare `python -c "import mcp.server.mcpserver"` takes on the same machine."""

from __future__ import annotations

import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

__all__ = ["measure_startup"]

INITIALIZE = {
    "jsonrpc": "2.0",
    "id": 1,
    "method": "initialize",
    "params": {
        "protocolVersion": "2025-11-25",
        "capabilities": {},
        "clientInfo": {"name": "paymo-qb-mcp-benchmark", "version": "1"},
    },
}
TIMEOUT_S = 60.0


def _server_command() -> list[str]:
    """The installed console script next to this interpreter (what a user runs), else the module."""
    script = Path(sys.executable).with_name("paymo-qb-mcp")
    if script.exists():
        return [str(script), "serve", "--sandbox", "--log-level", "WARNING"]
    return [sys.executable, "-m", "paymo_qb_mcp.cli", "serve", "--sandbox", "--log-level", "WARNING"]


def _time_initialize(data_dir: Path) -> float:
    env = {**os.environ, "PAYMO_QB_DATA_DIR": str(data_dir), "PAYMO_QB_TOKEN_STORE": "file"}
    env.pop("PAYMO_QB_POLICY", None)
    started = time.perf_counter()
    process = subprocess.Popen(
        _server_command(),
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        env=env,
    )
    assert process.stdin is not None
    assert process.stdout is not None
    try:
        # Sent at once: the request waits in the pipe until the server reads it, as a client's does.
        process.stdin.write((json.dumps(INITIALIZE) + "\n").encode())
        process.stdin.flush()
        while True:
            line = process.stdout.readline()
            if not line:
                raise RuntimeError("the server closed stdout before answering initialize")
            message = json.loads(line)
            if message.get("id") == 1:
                elapsed = time.perf_counter() - started
                if "result" not in message:
                    raise RuntimeError(f"initialize failed: {message.get('error')}")
                return elapsed
    finally:
        process.stdin.close()
        try:
            process.wait(timeout=TIMEOUT_S)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def _time_bare_import() -> float:
    started = time.perf_counter()
    subprocess.run([sys.executable, "-c", "import mcp.server.mcpserver"], check=True, timeout=TIMEOUT_S)
    return time.perf_counter() - started


def measure_startup(runs: int) -> dict[str, Any]:
    """Median of `runs` cold starts of each (one unmeasured start first warms the OS file cache)."""
    data_dir = Path(tempfile.mkdtemp(prefix="paymo-qb-bench-startup-"))
    try:
        _time_bare_import()
        _time_initialize(data_dir)
        initialize = [_time_initialize(data_dir) for _ in range(runs)]
        bare = [_time_bare_import() for _ in range(runs)]
    finally:
        shutil.rmtree(data_dir, ignore_errors=True)
    initialize_median = statistics.median(initialize)
    bare_median = statistics.median(bare)
    return {
        "runs": runs,
        "command": " ".join(
            Path(part).name if index == 0 else part for index, part in enumerate(_server_command())
        ),
        "initialize_s": [round(value, 3) for value in initialize],
        "initialize_median_s": round(initialize_median, 3),
        "bare_mcp_import_s": [round(value, 3) for value in bare],
        "bare_mcp_import_median_s": round(bare_median, 3),
        "beyond_bare_import_s": round(initialize_median - bare_median, 3),
    }
