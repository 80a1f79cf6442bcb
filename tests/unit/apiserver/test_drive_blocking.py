"""`drive_blocking`: a blocking generator streamed from worker threads is always closed by
the driver (never left to the garbage collector), however the stream ends."""

from __future__ import annotations

import threading
from collections.abc import Generator

import anyio

from control_plane.apiserver.watchstream import drive_blocking


class Source:
    """A blocking generator that records whether it was closed and on which thread."""

    def __init__(self, items: list[bytes | None]) -> None:
        self.items = items
        self.closed_on: str | None = None
        self.finished = False

    def run(self) -> Generator[bytes | None, None, None]:
        try:
            yield from self.items
            self.finished = True
        finally:
            self.closed_on = threading.current_thread().name


def collect(source: Source, limit: int | None = None) -> list[bytes]:
    async def main() -> list[bytes]:
        got: list[bytes] = []
        stream = drive_blocking(source.run())
        try:
            async for item in stream:
                got.append(item)
                if limit is not None and len(got) >= limit:
                    break
        finally:
            await stream.aclose()  # what Starlette does when the client goes away
        return got

    return anyio.run(main)


def test_ticks_are_skipped_and_the_generator_finishes() -> None:
    source = Source([b"a", None, b"b", None])
    assert collect(source) == [b"a", b"b"]
    assert source.finished and source.closed_on is not None


def test_a_consumer_that_stops_early_closes_the_generator_in_a_worker_thread() -> None:
    source = Source([b"a", b"b", b"c"])
    assert collect(source, limit=1) == [b"a"]
    assert not source.finished
    assert source.closed_on is not None and source.closed_on != threading.main_thread().name


def test_a_cancelled_stream_closes_the_generator() -> None:
    started = threading.Event()

    def slow() -> Generator[bytes | None, None, None]:
        yield b"first"
        started.set()
        while True:
            threading.Event().wait(0.05)  # a quiet watch chunk
            yield None

    gen = slow()

    async def main() -> None:
        with anyio.move_on_after(0.5):
            async for _ in drive_blocking(gen):
                pass

    anyio.run(main)
    assert started.is_set()
    assert gen.gi_frame is None  # closed: a closed generator drops its frame
