"""A lean HTTP/1.1 keep-alive load driver on asyncio, so the benchmark measures the
servers and not the client library.  Used identically for Skiff and etcd.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

Json = dict[str, Any]


class Conn:
    """One keep-alive connection: `post(path, body)` -> (status, parsed JSON)."""

    def __init__(self, host: str, port: int) -> None:
        self.host, self.port = host, port
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    async def open(self) -> None:
        self.reader, self.writer = await asyncio.open_connection(self.host, self.port)

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
        self.reader = self.writer = None

    async def post(self, path: str, body: Json) -> tuple[int, Json]:
        if self.writer is None:
            await self.open()
        assert self.reader is not None and self.writer is not None
        data = json.dumps(body).encode()
        self.writer.write(f"POST {path} HTTP/1.1\r\nHost: {self.host}\r\nContent-Type: application/json\r\n"
                          f"Content-Length: {len(data)}\r\n\r\n".encode() + data)
        status_line = await self.reader.readline()
        if not status_line:
            raise ConnectionError("connection closed")
        status = int(status_line.split()[1])
        length, chunked = 0, False
        while (line := await self.reader.readline()) not in (b"\r\n", b""):
            name, _, value = line.decode().partition(":")
            if name.lower() == "content-length":
                length = int(value)
            elif name.lower() == "transfer-encoding" and "chunked" in value:
                chunked = True
        if chunked:
            payload = b""
            while (size := int((await self.reader.readline()).strip(), 16)) > 0:
                payload += await self.reader.readexactly(size)
                await self.reader.readline()
            await self.reader.readline()
        else:
            payload = await self.reader.readexactly(length)
        return status, json.loads(payload) if payload else {}


@dataclass
class Result:
    ops: int = 0
    errors: int = 0
    latencies: list[float] = field(default_factory=list)
    seconds: float = 0.0

    def summary(self) -> Json:
        lat = sorted(self.latencies)

        def pct(p: float) -> float:
            return round(lat[min(len(lat) - 1, int(p * len(lat)))] * 1000, 2) if lat else 0.0

        return {"ops": self.ops, "errors": self.errors, "seconds": round(self.seconds, 2),
                "ops_per_s": round(self.ops / self.seconds, 1) if self.seconds else 0.0,
                "p50_ms": pct(0.50), "p99_ms": pct(0.99)}


async def run_load(endpoints: list[str], concurrency: int, seconds: float,
                   make_request: Callable[[int, int], tuple[str, Json]]) -> Result:
    """`concurrency` connections spread over `endpoints`, each sending requests back to back."""
    result = Result()
    deadline = time.monotonic() + seconds

    async def worker(w: int) -> None:
        host, port = endpoints[w % len(endpoints)].rsplit(":", 1)
        conn = Conn(host, int(port))
        n = 0
        try:
            while time.monotonic() < deadline:
                path, body = make_request(w, n)
                n += 1
                t0 = time.monotonic()
                try:
                    status, _ = await asyncio.wait_for(conn.post(path, body), 10)
                except (OSError, asyncio.IncompleteReadError, TimeoutError, ValueError):
                    result.errors += 1
                    conn.close()
                    await asyncio.sleep(0.01)
                    continue
                if status == 200:
                    result.ops += 1
                    result.latencies.append(time.monotonic() - t0)
                else:
                    result.errors += 1
        finally:
            conn.close()

    start = time.monotonic()
    await asyncio.gather(*(worker(w) for w in range(concurrency)))
    result.seconds = time.monotonic() - start
    return result
