"""A minimal HTTP/1.1 server for simulated network devices (cameras, recorders).

Each simulated device listens on its own port, bound when the object is built (so its URL
is known before anything runs), like a real device on its own address.  ``answering``
False is a device that went dark: its connections are cut and new ones refused, exactly
what a driver sees when a real device loses power.

Deliberately small (asyncio streams, one request per connection): these are test devices,
not a web framework.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket

log = logging.getLogger(__name__)

MAX_REQUEST_BYTES = 64 * 1024


def bind_local(host: str = "127.0.0.1", port: int = 0) -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    sock.listen(16)
    sock.setblocking(False)
    return sock


class Request:
    def __init__(self, method: str, path: str, query: str, body: bytes,
                 headers: dict[str, str] | None = None) -> None:
        self.method, self.path, self.query, self.body = method, path, query, body
        self.headers = headers or {}  # names in lower case


class LocalHttpServer:
    """Subclasses implement :meth:`handle`; ``async with`` serves until exit."""

    def __init__(self, host: str = "127.0.0.1") -> None:
        self.host = host
        self._sock: socket.socket | None = bind_local(host)
        self.port: int = self._sock.getsockname()[1]
        self._server: asyncio.Server | None = None
        self._clients: set[asyncio.StreamWriter] = set()
        self.answering = True

    async def __aenter__(self) -> LocalHttpServer:
        await self._listen()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self._close()

    async def set_answering(self, answering: bool) -> None:
        """False: cut every connection and refuse new ones; True: listen again (same port)."""
        if answering == self.answering:
            return
        self.answering = answering
        if answering:
            await self._listen()
        else:
            await self._close()

    async def _listen(self) -> None:
        if self._sock is None:
            self._sock = bind_local(self.host, self.port)
        self._server = await asyncio.start_server(self._client, sock=self._sock)

    async def _close(self) -> None:
        server, self._server = self._server, None
        if server is not None:
            server.close()
            for writer in list(self._clients):
                writer.transport.abort()
            self._clients.clear()
            with contextlib.suppress(Exception):
                await server.wait_closed()
        if self._sock is not None:
            self._sock.close()
            self._sock = None

    async def handle(self, request: Request, writer: asyncio.StreamWriter) -> None:
        raise NotImplementedError

    @staticmethod
    async def respond(writer: asyncio.StreamWriter, status: str, body: bytes,
                      content_type: str = "application/json") -> None:
        writer.write(f"HTTP/1.1 {status}\r\nContent-Type: {content_type}\r\n"
                     f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n".encode()
                     + body)
        await writer.drain()

    async def _client(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._clients.add(writer)
        try:
            head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 10)
            lines = head.decode("latin-1").split("\r\n")
            parts = lines[0].split()
            if len(parts) < 2:
                await self.respond(writer, "400 Bad Request", b"")
                return
            headers = {}
            for line in lines[1:]:
                name, _, value = line.partition(":")
                if name.strip():
                    headers[name.strip().lower()] = value.strip()
            length = headers.get("content-length", "")
            size = min(int(length), MAX_REQUEST_BYTES) if length.isdigit() else 0
            body = await reader.readexactly(size) if size else b""
            path, _, query = parts[1].partition("?")
            await self.handle(Request(parts[0].upper(), path, query, body, headers), writer)
        except (ConnectionError, asyncio.IncompleteReadError, asyncio.LimitOverrunError,
                TimeoutError):
            pass
        except asyncio.CancelledError:
            # The loop is shutting down: end quietly (asyncio's start_server callback
            # would report a cancelled handler as an error).
            pass
        finally:
            self._clients.discard(writer)
            writer.close()
