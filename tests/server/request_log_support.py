"""What the server sent to the sandbox: every request either emulator received (service, method, path, sizes),
and a fingerprint of both emulators' data, so a test can say that a call wrote nothing and carried nothing
it should not have."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Awaitable, Callable, MutableMapping
from dataclasses import dataclass
from typing import Any

from server_support import ServerEnv

__all__ = ["SeenRequest", "books_fingerprint", "record_requests"]

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
App = Callable[[Scope, Receive, Send], Awaitable[None]]


@dataclass
class SeenRequest:
    """One request an emulator received."""

    service: str
    method: str
    path: str
    query_bytes: int
    body_bytes: int = 0

    @property
    def writes(self) -> bool:
        """Whether it can change the books: anything but a read (QBO's POST /query is a read)."""
        return self.method != "GET" and not (self.service == "qbo" and self.path.endswith("/query"))

    @property
    def size(self) -> int:
        return len(self.path) + self.query_bytes + self.body_bytes


class _Recorder:
    """A pure ASGI middleware appending each request to ``log`` (counting its body as it is read)."""

    def __init__(self, app: App, *, service: str, log: list[SeenRequest]) -> None:
        self.app = app
        self.service = service
        self.log = log

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        seen = SeenRequest(self.service, scope["method"], scope["path"], len(scope.get("query_string", b"")))
        self.log.append(seen)

        async def counted() -> Message:
            message = await receive()
            seen.body_bytes += len(message.get("body", b""))
            return message

        await self.app(scope, counted, send)


def record_requests(env: ServerEnv) -> list[SeenRequest]:
    """From now on, every request either emulator of ``env`` receives (call before the first request: a
    Starlette app takes middleware only until it has served one)."""
    log: list[SeenRequest] = []
    env.sandbox.paymo.app.add_middleware(_Recorder, service="paymo", log=log)
    env.sandbox.qbo.app.add_middleware(_Recorder, service="qbo", log=log)
    return log


def books_fingerprint(env: ServerEnv) -> str:
    """A hash of every record both emulators hold: equal before and after means nothing was written."""
    state = {"paymo": env.sandbox.paymo.state.tables, "qbo": env.sandbox.qbo.state.tables}
    text = json.dumps(state, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()
