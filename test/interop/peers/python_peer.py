#!/usr/bin/python3
"""python_peer: a python-websockets peer for Duplex's interop suite, scripted over stdio.

Run by Debian's /usr/bin/python3 (python3-websockets, asyncio API of websockets 10.x and later).

    python_peer.py client URL [--subprotocol P]... [--cafile PEM] [--deflate default|off|small]
    python_peer.py server [--host H] [--port N] [--subprotocol P]... [--certfile PEM --keyfile PEM]
                          [--deflate default|off|small]

--deflate: "default" is websockets' own permessage-deflate setting (on), "off" switches it off,
"small" negotiates no context takeover both ways and 10-bit windows both ways.

It reports what happens as JSON lines on stdout, one object per line:
    {"event": "listening", "port": N}                              server only, once
    {"event": "open", "conn": C, "subprotocol": P|null, "offered": [...], "path": "/...",
     "extensions": SEC_WEBSOCKET_EXTENSIONS_OF_THE_RESPONSE|null}
    {"event": "message", "conn": C, "type": "text"|"binary", "length": BYTES, "sha256": HEX,
     "data": TEXT (text) | "b64": BASE64 (binary)}                  data/b64 only up to 64 KiB
    {"event": "pong", "conn": C, "b64": BASE64}                    the answer to our ping arrived
    {"event": "close", "conn": C, "rcvd": {"code", "reason"}|null, "sent": {...}|null}
    {"event": "done", "conn": C, "seq": N}                         command N was carried out
    {"event": "error", "conn": C|null, "message": TEXT}

and takes commands as JSON lines on stdin (each with "seq", acknowledged by "done"):
    {"op": "send", "conn": C, "type": "text", "data": TEXT}
    {"op": "send", "conn": C, "type": "binary", "b64": BASE64}
    {"op": "ping", "conn": C, "b64": BASE64}
    {"op": "close", "conn": C, "code": N, "reason": TEXT}
    {"op": "quit"}
The client has one connection, numbered 1; the server numbers its connections 1, 2, ...
"""

import argparse
import asyncio
import base64
import hashlib
import json
import ssl
import sys

import websockets
from websockets.extensions.permessage_deflate import (
    ClientPerMessageDeflateFactory,
    ServerPerMessageDeflateFactory,
)

INLINE_LIMIT = 64 * 1024
MAX_SIZE = 16 * 1024 * 1024


def emit(obj):
    sys.stdout.write(json.dumps(obj) + "\n")
    sys.stdout.flush()


def deflate_options(mode, factory):
    """The compression/extensions keyword arguments of connect() or serve() for --deflate."""
    if mode == "off":
        return {"compression": None}
    if mode == "small":
        return {"compression": None, "extensions": [factory(
            server_no_context_takeover=True, client_no_context_takeover=True,
            server_max_window_bits=10, client_max_window_bits=10)]}
    return {}


def close_info(frame):
    if frame is None:
        return None
    return {"code": frame.code, "reason": frame.reason}


class Peer:
    def __init__(self):
        self.conns = {}
        self.next_id = 1
        self.tasks = set()

    def spawn(self, coro):
        task = asyncio.ensure_future(coro)
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)
        return task

    async def run_connection(self, ws, offered):
        conn = self.next_id
        self.next_id += 1
        self.conns[conn] = ws
        emit({
            "event": "open",
            "conn": conn,
            "subprotocol": ws.subprotocol,
            "offered": offered,
            "path": getattr(ws, "path", None),
            "extensions": ws.response_headers.get("Sec-WebSocket-Extensions"),
        })
        try:
            while True:
                message = await ws.recv()
                if isinstance(message, str):
                    raw = message.encode("utf-8")
                    report = {"type": "text", "data": message}
                else:
                    raw = bytes(message)
                    report = {"type": "binary", "b64": base64.b64encode(raw).decode("ascii")}
                if len(raw) > INLINE_LIMIT:
                    report.pop("data", None)
                    report.pop("b64", None)
                report.update(event="message", conn=conn, length=len(raw),
                              sha256=hashlib.sha256(raw).hexdigest())
                emit(report)
        except websockets.exceptions.ConnectionClosed as exc:
            # Wait for the closing handshake and TCP teardown to finish, as close() does.
            await ws.wait_closed()
            emit({"event": "close", "conn": conn, "rcvd": close_info(exc.rcvd),
                  "sent": close_info(exc.sent)})

    async def ping(self, conn, ws, data):
        waiter = await ws.ping(data)
        await waiter
        emit({"event": "pong", "conn": conn, "b64": base64.b64encode(data).decode("ascii")})

    async def command(self, cmd):
        op = cmd.get("op")
        if op == "quit":
            return False
        conn = cmd.get("conn", 1)
        ws = self.conns.get(conn)
        if ws is None:
            raise ValueError(f"no connection {conn}")
        if op == "send":
            if cmd["type"] == "text":
                await ws.send(cmd["data"])
            else:
                await ws.send(base64.b64decode(cmd["b64"]))
        elif op == "ping":
            data = base64.b64decode(cmd.get("b64", ""))
            # Wait until the ping is written, then report its pong from a task.
            self.spawn(self.ping(conn, ws, data))
        elif op == "close":
            # close() waits for the closing handshake; the reader reports the outcome.
            self.spawn(ws.close(cmd.get("code", 1000), cmd.get("reason", "")))
        else:
            raise ValueError(f"unknown op {op!r}")
        return True

    async def read_commands(self):
        loop = asyncio.get_running_loop()
        reader = asyncio.StreamReader(limit=4 * MAX_SIZE)
        await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
        while True:
            line = await reader.readline()
            if not line:
                return  # stdin closed: the test is gone
            if not line.strip():
                continue
            cmd = json.loads(line)
            try:
                if not await self.command(cmd):
                    return
                emit({"event": "done", "conn": cmd.get("conn", 1), "seq": cmd.get("seq")})
            except Exception as exc:  # report, keep serving
                emit({"event": "error", "conn": cmd.get("conn"), "seq": cmd.get("seq"),
                      "message": f"{type(exc).__name__}: {exc}"})


async def run_client(args):
    peer = Peer()
    ctx = None
    if args.url.startswith("wss:"):
        ctx = ssl.create_default_context(cafile=args.cafile)
    try:
        ws = await websockets.connect(args.url, subprotocols=args.subprotocol or None,
                                      max_size=MAX_SIZE, ssl=ctx, open_timeout=10,
                                      **deflate_options(args.deflate, ClientPerMessageDeflateFactory))
    except Exception as exc:
        emit({"event": "error", "conn": None, "message": f"connect: {type(exc).__name__}: {exc}"})
        return 1
    reader = peer.spawn(peer.run_connection(ws, args.subprotocol))
    await peer.read_commands()
    if not reader.done():
        ws.transport.abort()
    return 0


async def run_server(args):
    peer = Peer()
    ctx = None
    if args.certfile:
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(args.certfile, args.keyfile)

    async def handler(ws, *_path):
        offered = []
        for value in ws.request_headers.get_all("Sec-WebSocket-Protocol"):
            offered.extend(p.strip() for p in value.split(",") if p.strip())
        await peer.run_connection(ws, offered)

    server = await websockets.serve(handler, args.host, args.port, subprotocols=args.subprotocol or None,
                                    max_size=MAX_SIZE, ssl=ctx,
                                    **deflate_options(args.deflate, ServerPerMessageDeflateFactory))
    emit({"event": "listening", "port": server.sockets[0].getsockname()[1]})
    await peer.read_commands()
    server.close()
    for ws in list(peer.conns.values()):
        ws.transport.abort()
    return 0


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="mode", required=True)
    client = sub.add_parser("client")
    client.add_argument("url")
    client.add_argument("--subprotocol", action="append", default=[])
    client.add_argument("--cafile")
    client.add_argument("--deflate", choices=["default", "off", "small"], default="default")
    server = sub.add_parser("server")
    server.add_argument("--host", default="127.0.0.1")
    server.add_argument("--port", type=int, default=0)
    server.add_argument("--subprotocol", action="append", default=[])
    server.add_argument("--certfile")
    server.add_argument("--keyfile")
    server.add_argument("--deflate", choices=["default", "off", "small"], default="default")
    args = parser.parse_args()
    emit({"event": "version", "websockets": websockets.__version__, "python": sys.version.split()[0]})
    run = run_client if args.mode == "client" else run_server
    sys.exit(asyncio.run(run(args)))


if __name__ == "__main__":
    main()
