"""What a leader-elected control-plane process (scheduler, controller manager) shares:
logging, signals, the API client from the config, leader election, clean shutdown.

Contract: `run()` returns after SIGTERM/SIGINT; it stops the work, releases the lease
(so a successor takes over at once) and flushes events.  The work function runs on
the main thread's helper and must return when `stop` is set.  If the work dies (raises,
or returns before `stop`), `run()` releases the lease too and raises `WorkDied`, so the
process exits non-zero and its supervisor restarts it: a process must never hold the
lease while doing nothing.
"""

from __future__ import annotations

import faulthandler
import logging
import os
import signal
import socket
import threading
import uuid
from collections.abc import Callable
from types import FrameType

from control_plane.client.interface import Api
from control_plane.client.leaderelection import ElectionConfig, LeaderElector

log = logging.getLogger(__name__)
Work = Callable[[threading.Event, Callable[[], bool]], None]


class WorkDied(RuntimeError):
    """The component's work thread ended before it was asked to stop."""


def default_identity() -> str:
    """Like Kubernetes: the host name plus a unique suffix (two on one host differ)."""
    return f"{socket.gethostname()}_{os.getpid()}_{uuid.uuid4().hex[:8]}"


def setup_logging() -> None:
    """INFO logs on stderr; SIGUSR1 writes every thread's stack there (for a process that
    seems stuck: `kill -USR1 $(cat PIDFILE)`, like a Go program's SIGQUIT dump)."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.getLogger("httpx").setLevel(logging.WARNING)
    faulthandler.register(signal.SIGUSR1, all_threads=True)


def run(client: Api, lock_name: str, identity: str, election: ElectionConfig | None,
        work: Work) -> None:
    """Run `work(stop, leading)` until a signal; with `election`, `leading()` follows the
    Lease `kube-system/<lock_name>`; without, this process always leads."""
    stop = threading.Event()

    def on_signal(signum: int, _: FrameType | None) -> None:
        log.info("signal %d: shutting down", signum)
        stop.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    elector = LeaderElector(client, lock_name, identity, election) if election else None
    died: list[str] = []

    def guarded(stop: threading.Event, leading: Callable[[], bool]) -> None:
        try:
            work(stop, leading)
            if not stop.is_set():
                died.append("the work returned before it was asked to stop")
        except BaseException as err:
            log.exception("the work thread died")
            died.append(f"{type(err).__name__}: {err}")
        finally:
            stop.set()  # wakes the elector's stopper: the lease is released

    worker = threading.Thread(target=guarded, args=(stop, (lambda: elector.leading) if elector else
                                                    (lambda: True)), name="work", daemon=True)
    worker.start()
    if elector is None:
        stop.wait()
    else:
        def stop_elector() -> None:
            stop.wait()
            elector.stop()

        threading.Thread(target=stop_elector, daemon=True).start()
        elector.run(lambda leading: log.info("%s: %s", identity, "leading" if leading else "standing by"))
    worker.join(timeout=10)
    if died:
        raise WorkDied(f"{lock_name} {identity}: {died[0]}; the lease was released")
