"""The store client's per-thread HTTP clients are freed with their threads (the API
server's worker threads come and go; holding every client leaked memory and sockets)."""

from __future__ import annotations

import gc
import threading
import weakref

from raftstore.client import StoreClient


def test_a_finished_threads_client_is_closed_and_freed() -> None:
    c = StoreClient("127.0.9.9:2379")

    def use() -> None:
        assert c._http is c._http  # one client per thread, reused

    threads = [threading.Thread(target=use) for _ in range(50)]
    for t in threads:
        t.start()
        t.join()
    closed = []
    for client in c._clients:  # see each one closed as its thread's object goes
        weakref.finalize(client, closed.append, 1)
    del threads, client
    gc.collect()
    assert len(c._clients) <= 1, len(c._clients)  # was 50: one per thread, for ever
    assert len(closed) >= 49
    use()
    c.close()
    assert len(c._clients) == 0
