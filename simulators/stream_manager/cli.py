"""``edgeferry sim stream-manager``: serve Stream Manager's protocol until interrupted."""

from __future__ import annotations

import argparse
import asyncio
import signal
from pathlib import Path
from typing import TYPE_CHECKING

from edge_agent.errors import EdgeferryError

if TYPE_CHECKING:
    from simulators.stream_manager.server import StreamManagerServer


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--store", type=Path, required=True, metavar="DIR",
                        help="folder of the File streams (Stream Manager's STREAM_MANAGER_STORE_ROOT_DIR)")
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=8088,
                        help="TCP port (default 8088, Stream Manager's STREAM_MANAGER_SERVER_PORT)")
    parser.add_argument("--auth-token-file", type=Path, default=None, metavar="FILE",
                        help="accept only clients whose AWS_CONTAINER_AUTHORIZATION_TOKEN is a line of FILE "
                             "(default: accept every client)")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from simulators.stream_manager.server import StreamManagerServer

    tokens = None
    if args.auth_token_file is not None:
        try:
            lines = args.auth_token_file.read_text().splitlines()
        except OSError as exc:
            raise EdgeferryError(f"cannot read --auth-token-file: {exc}") from None
        tokens = frozenset(line.strip() for line in lines if line.strip())
    server = StreamManagerServer(args.store, host=args.host, port=args.port, auth_tokens=tokens)
    try:
        asyncio.run(_serve(server))
    except OSError as exc:
        raise EdgeferryError(f"cannot serve Stream Manager on {args.host}:{args.port}: {exc}") from None
    return 0


async def _serve(server: StreamManagerServer) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    async with server:
        print(f"serving stream manager on {server.host}:{server.port}, store {server.store_path}", flush=True)
        await stop.wait()
