"""A watch's HTTP body: newline-delimited `{"type", "object"}` events, and the driver that
streams a blocking generator from worker threads.

Contract of `events()`: the synthetic ADDED events first (if any), then the changes after
`after` until the watch's `timeoutSeconds` (at most MAX_WATCH); on a quiet watch a
BOOKMARK every WATCH_CHUNK seconds if the client allows them, else a `None` tick (nothing
is sent) so the driver can notice a client that went away.  A store or API failure
mid-stream is one ERROR event with its Status, then the end of the stream.
"""

from __future__ import annotations

import json
import time
from collections.abc import AsyncIterator, Generator, Mapping
from contextlib import closing
from typing import Any

import anyio
import anyio.to_thread

from control_plane.api.objects import Obj
from control_plane.api.resources import Resource
from control_plane.apiserver.errors import ApiError
from control_plane.apiserver.handlers import Handlers
from control_plane.apiserver.storage import WatchEvent

WATCH_CHUNK = 5.0  # seconds between bookmark opportunities on a quiet watch
MAX_WATCH = 1800.0
# Open watches wait in threads of their own pool: with the requests' pool (anyio's default,
# 40 threads) ~40 watches would hold every thread and stall every other request,
# authentication included.  Past WATCH_THREADS open watches a new one waits for a thread.
WATCH_THREADS = 2000
_WATCH_LIMITER = anyio.CapacityLimiter(WATCH_THREADS)
_END = object()


def line(obj: Obj) -> bytes:
    """One event (or object) as a line of compact JSON."""
    return json.dumps(obj, separators=(",", ":")).encode() + b"\n"


def _timeout(query: Mapping[str, str]) -> float:
    try:
        return min(float(query.get("timeoutSeconds") or MAX_WATCH), MAX_WATCH)
    except ValueError:
        return MAX_WATCH


def events(handlers: Handlers, res: Resource, ns: str | None, query: Mapping[str, str],
           added: list[WatchEvent], after: int) -> Generator[bytes | None, None, None]:
    """The watch's lines (see the module's contract)."""
    end = time.monotonic() + _timeout(query)
    bookmarks = query.get("allowWatchBookmarks") in ("true", "1")
    label, field = query.get("labelSelector"), query.get("fieldSelector")
    for ev in added:
        yield line({"type": ev.type, "object": ev.obj})
    try:
        while time.monotonic() < end:
            chunk_end = min(end, time.monotonic() + WATCH_CHUNK)
            # closing(): the store watch's HTTP stream is released here, by us, never by
            # the garbage collector (see drive_blocking).
            with closing(handlers.watch(res, ns, label, field, after, chunk_end)) as changes:
                for ev in changes:
                    after = ev.revision
                    yield line({"type": ev.type, "object": ev.obj})
            if bookmarks and time.monotonic() < end:
                yield line({"type": "BOOKMARK", "object": {
                    "kind": res.kind, "apiVersion": res.api_version,
                    "metadata": {"resourceVersion": str(after)}}})
            else:
                yield None
    except ApiError as err:
        # Mid-stream the response has begun: the failure can only be an event, not a code.
        yield line({"type": "ERROR", "object": err.status()})


async def drive_blocking(chunks: Generator[bytes | None, None, None]) -> AsyncIterator[bytes]:
    """Stream a blocking generator from worker threads; `None` items are skipped (they only
    give a cancelled stream a point to stop at).

    Contract: the generator is always closed here, in a worker thread, when the stream
    ends for any reason (finished, error, client gone).  Left to the garbage collector it
    would be closed on whatever thread happens to collect it, possibly one inside the same
    HTTP connection pool that its store watch uses: a self-deadlock on the pool's lock
    (seen: a DELETE hung for good after a `get --watch` client went away)."""
    try:
        while True:
            # A cancellation (the client disconnected) waits for this thread call to return,
            # which takes at most WATCH_CHUNK: the generator is never running when closed.
            item: Any = await anyio.to_thread.run_sync(next, chunks, _END, limiter=_WATCH_LIMITER)
            if item is _END:
                return
            if isinstance(item, bytes):
                yield item
    finally:
        with anyio.CancelScope(shield=True):
            await anyio.to_thread.run_sync(chunks.close, limiter=_WATCH_LIMITER)
