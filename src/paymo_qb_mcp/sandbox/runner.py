"""Serving the sandbox on this machine: both emulators under uvicorn, facts first on stdout, clean stop."""

from __future__ import annotations

import contextlib
import json
import signal
import socket
import sys
from collections.abc import Iterator
from typing import TextIO

import anyio
import uvicorn
from starlette.types import ASGIApp

from paymo_qb_mcp.sandbox.core import Sandbox

GRACEFUL_SHUTDOWN_S = 2


class _Server(uvicorn.Server):
    """A uvicorn server that leaves signals to the runner: two servers in one process must stop together,
    and uvicorn's own handling would re-raise the signal after the first one stops."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


def bind(host: str, port: int) -> socket.socket:
    """A listening TCP socket whose accepted connections send without Nagle's delay; port 0 asks the
    system for a free one."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    # asyncio turns Nagle off on an accepted socket only when its protocol reads IPPROTO_TCP, and an
    # accepted socket inherits the listener's; with proto 0 every answer on a kept-alive connection
    # waited for the client's delayed ACK (~40 ms). The listener's own flag is inherited by accepted
    # sockets on Linux, for event loops that do not set it themselves.
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    try:
        sock.bind((host, port))
    except OSError:
        sock.close()
        raise
    sock.listen(128)
    sock.setblocking(False)
    return sock


def origin(sock: socket.socket) -> str:
    host, port = sock.getsockname()[:2]
    shown = f"[{host}]" if ":" in host else host
    return f"http://{shown}:{port}"


def _server(app: ASGIApp) -> _Server:
    config = uvicorn.Config(
        app,
        log_level="warning",
        access_log=False,
        lifespan="off",
        timeout_graceful_shutdown=GRACEFUL_SHUTDOWN_S,
    )
    return _Server(config)


def describe(facts: dict[str, object]) -> list[str]:
    """The human-readable lines printed after the facts line."""
    control = [
        f"Fault control: {facts[key]}/faults (GET, PUT, DELETE; docs/sandbox.md)"
        for key in ("paymo_admin_url", "qbo_admin_url")
        if key in facts
    ]
    return [
        f"Paymo emulator:      {facts['paymo_base_url']}  (API key {facts['paymo_api_key']}, any password)",
        f"QuickBooks emulator: {facts['qbo_base_url']}  (realm {facts['realm_id']})",
        f"Seed: {facts['seed']}, tax model: {facts['tax_model']}. Point the MCP server at it with:",
        f"  export PAYMO_BASE_URL={facts['paymo_base_url']} PAYMO_API_KEY={facts['paymo_api_key']}",
        f"  export QBO_BASE_URL={facts['qbo_base_url']} QBO_REALM_ID={facts['realm_id']}"
        f" QBO_ACCESS_TOKEN={facts['qbo_access_token']} QBO_ENVIRONMENT=sandbox",
        *control,
        "Press Ctrl-C to stop.",
    ]


async def serve(
    sandbox: Sandbox,
    *,
    host: str = "127.0.0.1",
    paymo_port: int = 0,
    qbo_port: int = 0,
    out: TextIO = sys.stdout,
) -> None:
    """Serve until SIGINT or SIGTERM. The first stdout line is the facts JSON, flushed before serving, so a
    parent process can read it and connect at once (the sockets already listen)."""
    paymo_socket = bind(host, paymo_port)
    try:
        qbo_socket = bind(host, qbo_port)
    except OSError:
        paymo_socket.close()
        raise
    paymo_origin, qbo_origin = origin(paymo_socket), origin(qbo_socket)
    # Location headers and permalinks point at where the emulator is really served.
    sandbox.paymo.public_host = paymo_origin
    facts = sandbox.facts(paymo_base_url=f"{paymo_origin}/api", qbo_base_url=qbo_origin)
    print(json.dumps(facts), file=out, flush=True)
    for line in describe(facts):
        print(line, file=out)
    out.flush()
    servers = [_server(sandbox.paymo.app), _server(sandbox.qbo.app)]
    async with anyio.create_task_group() as group:

        async def run_servers() -> None:
            async with anyio.create_task_group() as inner:
                inner.start_soon(servers[0].serve, [paymo_socket])
                inner.start_soon(servers[1].serve, [qbo_socket])
            group.cancel_scope.cancel()

        group.start_soon(run_servers)
        with anyio.open_signal_receiver(signal.SIGINT, signal.SIGTERM) as signals:
            async for _ in signals:
                for server in servers:
                    server.should_exit = True
                break
    print("Sandbox stopped.", file=out, flush=True)
