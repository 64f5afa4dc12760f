"""The `serve` command: the MCP server over stdio (default) or streamable HTTP, live or on the sandbox."""

from __future__ import annotations

import argparse
import logging
import sys
from typing import Any, Literal

from paymo_qb_mcp.errors import PaymoQbError


def add_parser(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "serve",
        help="run the MCP server (stdio by default)",
        description="Run the MCP server. stdio is what Claude Desktop launches; --transport http serves "
        "streamable HTTP and requires PAYMO_QB_HTTP_TOKEN as a bearer token.",
    )
    parser.add_argument("--transport", choices=["stdio", "http"], default="stdio")
    parser.add_argument("--host", default="127.0.0.1", help="HTTP only (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=8000, help="HTTP only (default 8000)")
    parser.add_argument(
        "--sandbox",
        action="store_true",
        help="run against in-process emulators of Paymo and QuickBooks seeded with a demo agency",
    )
    parser.add_argument("--tax-model", choices=["global", "us"], default="global", help="sandbox only")
    parser.add_argument("--empty", action="store_true", help="sandbox only: start with no clients or records")
    parser.add_argument(
        "--log-level",
        default="INFO",
        type=str.upper,
        choices=["DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"],
        help="log level for stderr (default INFO)",
    )
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    # stdout belongs to the MCP protocol on stdio: every log line goes to stderr.
    logging.basicConfig(
        level=args.log_level.upper(),
        stream=sys.stderr,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    try:
        server, http = _build(args)
    except PaymoQbError as error:
        print(f"paymo-qb-mcp serve: {error.for_agent()}", file=sys.stderr)
        return 2
    if http:
        server.run("streamable-http", host=args.host, port=args.port)
    else:
        server.run()
    return 0


def _build(args: argparse.Namespace) -> tuple[Any, bool]:
    """The server, checked as far as is cheap (settings, HTTP token, policy, data directory): a
    misconfiguration of those fails here. Connecting (the credential store, the clients, the sandbox's
    emulators) waits for the first call that needs it, whose error it then is."""
    from paymo_qb_mcp.cli.connect import (
        SANDBOX_PAYMO_API_KEY,
        build_target,
        live_connection,
        runtime_factory,
        sandbox_connection,
    )
    from paymo_qb_mcp.config.settings import load_settings
    from paymo_qb_mcp.server.app import build_server
    from paymo_qb_mcp.server.runtime import Connection

    settings = load_settings()
    http = args.transport == "http"
    http_token = settings.require_http_token().get_secret_value() if http else None
    known_now: tuple[str, ...] = ()
    if args.sandbox:
        seed: Literal["demo", "empty"] = "empty" if args.empty else "demo"

        def connect() -> Connection:
            connection, _ = sandbox_connection(seed=seed, tax_model=args.tax_model)
            return connection

        known_now = (SANDBOX_PAYMO_API_KEY,)
    else:

        def connect() -> Connection:
            return live_connection(settings)

    target = build_target(settings, connect)

    masked: set[str] = set()

    def connected(connection: Connection) -> None:
        # What only the connection knows (a stored key, the Intuit client secret, stored tokens), masked
        # once however often an opening is tried.
        new = {connection.paymo_api_key, *connection.known_secrets} - masked - {""}
        if new:
            masked.update(new)
            _redact_logs(tuple(sorted(new)))

    server = build_server(
        runtime_factory(target, on_connect=connected),
        policy=target.policy,
        policy_path=target.policy_path,
        http_token=http_token,
        public_url=f"http://{args.host}:{args.port}",
        log_level=args.log_level,
    )
    # After the server is built: it may add a log handler of its own when none is configured yet.
    _redact_logs((*target.known_secrets, *known_now))
    return server, http


def _redact_logs(known_secrets: tuple[str, ...]) -> None:
    """Every line the server writes to stderr loses its secrets: the configured values wherever they
    appear (an agent may paste one into an argument that ends up in a URL), and any credential shape."""
    from paymo_qb_mcp.net.redact import RedactingFilter

    log_filter = RedactingFilter(known_secrets)
    for handler in logging.getLogger().handlers:
        handler.addFilter(log_filter)
    # The HTTP transport's uvicorn logs through handlers of its own, which the root's never see.
    for name in ("uvicorn.error", "uvicorn.access"):
        logging.getLogger(name).addFilter(log_filter)
