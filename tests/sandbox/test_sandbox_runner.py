"""The runner's sockets: connections the served emulators accept send at once (TCP_NODELAY), no Nagle wait."""

from __future__ import annotations

import socket

import anyio
import httpx
import uvicorn

from paymo_qb_mcp.sandbox import Sandbox
from paymo_qb_mcp.sandbox.runner import bind, origin


def test_the_listening_socket_is_tcp_with_nagle_off() -> None:
    listener = bind("127.0.0.1", 0)
    try:
        # asyncio turns Nagle off on the sockets it accepts only when their protocol says TCP.
        assert listener.proto == socket.IPPROTO_TCP
        assert listener.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY) != 0
    finally:
        listener.close()


async def test_connections_uvicorn_accepts_on_it_have_nagle_off() -> None:
    sandbox = Sandbox.create()
    listener = bind("127.0.0.1", 0)
    server = uvicorn.Server(uvicorn.Config(sandbox.qbo.app, log_level="warning", lifespan="off"))
    realm = sandbox.qbo.realm_id
    headers = {"Authorization": f"Bearer {sandbox.qbo.access_token}", "Accept": "application/json"}
    with anyio.fail_after(20):
        async with anyio.create_task_group() as group:
            # No need to wait for uvicorn: the socket already listens, the kernel queues the connection.
            group.start_soon(server.serve, [listener])
            async with httpx.AsyncClient(base_url=origin(listener), headers=headers) as client:
                for _ in range(3):  # one kept-alive connection, several answers on it
                    response = await client.get(f"/v3/company/{realm}/customer/1")
                    assert response.status_code == 200
                accepted = [
                    connection.transport.get_extra_info("socket")
                    for connection in server.server_state.connections
                ]
                assert len(accepted) == 1
                assert accepted[0].getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY) != 0
            server.should_exit = True
