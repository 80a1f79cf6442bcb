"""The agent's HTTPS log endpoint (the kubelet's `/containerLogs`), which the API server
proxies `GET pods/NAME/log` to (see `control_plane/apiserver/logproxy.py`).

Endpoints:
- `GET /healthz` -> `ok` (no authentication).
- `GET /containerLogs/{namespace}/{pod}/{container}` -> the container's log as
  `text/plain`, chunked.  Query: `tailLines=N` (the last N lines, counted across the
  rotated files too), `follow=true` (keep streaming lines as they are written, across
  rotation, until the container stops running and its file is drained, the client goes
  away or the server stops), `previous=true` (the previous run's files; a follow of them
  ends once they are read), `timestamps=true` (see below), `sinceSeconds=N` (accepted and
  validated, but ignored: log files carry no write times).  Booleans are `true`,
  `false`, `1` or `0`.
- Errors are Kubernetes `Status` JSON: 400 bad query or name, 401 no or unknown token,
  403 token not allowed to read the pod, 404 unknown path or container, 405 a method
  other than GET, 503 the authorizer could not decide.

`timestamps=true`: a line that already starts with an RFC 3339 timestamp and a space is
sent as it is; any other line is prefixed with the time the agent *read* it (UTC, RFC
3339 with microseconds).  For lines read while following, that is within a poll interval
of their writing; for older lines it is the time of the request, not of the writing.

Lines and rotation are as `node_agent/logfiles.py` reads them: a line is sent once its
newline is in the file; a trailing partial line is held back while following and sent
when the stream ends (or when its file is rotated away).  A line longer than
`logfiles.MAX_LINE` is sent in pieces.

Rotation while following: the current file is polled every `poll_interval` seconds and
followed across rename-and-create and copy-truncate rotation (see `logfiles`); lines
written to a renamed file after the switch are not seen.

Threads: one per connection (`ThreadingHTTPServer`); the TLS handshake happens in that
thread, so a slow client cannot hold the accept loop.  `stop()` ends follow streams
within a poll interval, cuts connections still busy after `STOP_GRACE` seconds, closes
the listening socket and returns when every connection thread has finished.
"""

from __future__ import annotations

import contextlib
import datetime
import ipaddress
import logging
import re
import select
import socket
import ssl
import threading
import time
from collections.abc import Callable, Iterable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import urlsplit

from control_plane.client.clock import Clock, SystemClock
from node_agent.logauth import Authorizer, AuthorizerUnavailable
from node_agent.logfiles import BLOCK, Follower, open_readers
from node_agent.logquery import HttpError, LogQuery, parse_query, parse_target

log = logging.getLogger(__name__)

IO_TIMEOUT = 30.0  # seconds a read or write on a client connection may block
HANDSHAKE_TIMEOUT = 10.0
STOP_GRACE = 1.0  # seconds `stop()` lets streams end cleanly before cutting them
STAMPED = re.compile(rb"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2}) ")


class LogSource(Protocol):
    """Where a container's log files are (the runtime knows).  Must be thread-safe."""

    def log_files(self, namespace: str, pod: str, container: str, previous: bool) -> list[Path] | None:
        """The container's log files, oldest first (`x.log.2`, `x.log.1`, `x.log`); the
        last is the current file, which need not exist yet.  None if there is no such
        container (or, with `previous`, no previous run)."""

    def is_running(self, namespace: str, pod: str, container: str) -> bool:
        """Is the container running now (so its current file may still grow)?"""


# ---- the HTTP side ----------------------------------------------------------------------

class ChunkWriter:
    """Writes lines as HTTP/1.1 chunks, batched up to BLOCK bytes; with `stamp`, prefixes
    lines that carry no timestamp (see the module docstring)."""

    def __init__(self, wfile: Any, stamp: Callable[[], bytes] | None) -> None:
        self.wfile = wfile
        self.stamp = stamp

    def write(self, lines: Iterable[bytes]) -> None:
        batch: list[bytes] = []
        size = 0
        prefix = self.stamp() if self.stamp else b""
        for line in lines:
            if not line:
                continue
            if prefix and not STAMPED.match(line):
                line = prefix + line
            batch.append(line)
            size += len(line)
            if size >= BLOCK:
                self._chunk(b"".join(batch))
                batch, size = [], 0
        if batch:
            self._chunk(b"".join(batch))

    def finish(self) -> None:
        self.wfile.write(b"0\r\n\r\n")

    def _chunk(self, data: bytes) -> None:
        self.wfile.write(b"%x\r\n%s\r\n" % (len(data), data))


def peer_gone(conn: socket.socket) -> bool:
    """Has the client closed its side?  (A follow that has nothing to write would not
    notice otherwise.)  Anything the client sends after its request is discarded."""
    readable, _, _ = select.select([conn], [], [], 0)
    if not readable:
        return False
    timeout = conn.gettimeout()
    conn.settimeout(0.05)
    try:
        return conn.recv(1) == b""
    except (TimeoutError, ssl.SSLWantReadError):  # a TLS record that carried no data
        return False
    except OSError:
        return True
    finally:
        conn.settimeout(timeout)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "skiff-agent"
    sys_version = ""
    timeout = IO_TIMEOUT
    server: _Server

    def do_GET(self) -> None:
        url = urlsplit(self.path)
        try:
            if url.path == "/healthz":
                self._send(200, "text/plain; charset=utf-8", b"ok")
                return
            self._container_logs(url.path, url.query)
        except HttpError as err:
            self._send(err.code, "application/json", err.body())

    def _refuse_method(self) -> None:
        err = HttpError(405, f"method {self.command} is not allowed: the agent's endpoints are read-only")
        self._send(405, "application/json", err.body())

    do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = _refuse_method

    def _container_logs(self, path: str, query: str) -> None:
        namespace, pod, container = parse_target(path)
        self._authorize(namespace, pod)
        options = parse_query(query)
        source = self.server.source
        files = source.log_files(namespace, pod, container, options.previous)
        if files is None:
            what = "previous terminated container" if options.previous else "container"
            raise HttpError(404, f'{what} "{container}" in pod "{namespace}/{pod}" not found')

        def running() -> bool:
            return not options.previous and source.is_running(namespace, pod, container)

        self._stream(files, options, running)

    def _authorize(self, namespace: str, pod: str) -> None:
        try:
            verdict = self.server.authorizer.allowed(self.headers.get("Authorization"), namespace, pod)
        except AuthorizerUnavailable as err:
            raise HttpError(503, f"cannot check the caller's permission now: {err}") from None
        if verdict is None:
            raise HttpError(401, "Unauthorized: a valid bearer token is required")
        if not verdict:
            raise HttpError(403, f'Forbidden: the caller may not read the logs of pod "{namespace}/{pod}"')

    def _stream(self, files: list[Path], options: LogQuery, running: Callable[[], bool]) -> None:
        with contextlib.ExitStack() as stack:
            try:
                readers = open_readers(files, options.tail_lines, stack)
            except OSError as err:  # e.g. permissions: the agent's problem, said so
                raise HttpError(500, f"cannot read the container's log files: {err}") from None
            self._begin_chunked()
            out = ChunkWriter(self.wfile, self.server.stamp if options.timestamps else None)
            for reader, end in readers[:-1]:
                out.write(reader.lines(end))
                out.write([reader.flush()])
            if readers:
                current, end = readers[-1]
                out.write(current.lines(end))
                if options.follow:
                    follower = Follower(files[-1], current)
                    stack.callback(follower.close)
                    self._follow(follower, running, out)
                    current = follower.reader  # it may have moved on to a newer file
                out.write([current.flush()])
            out.finish()

    def _follow(self, follower: Follower, running: Callable[[], bool], out: ChunkWriter) -> None:
        """Stream new lines until the container stopped and its file is drained, the
        client left, or the server stops.  `running` is asked before the file is read,
        so the last lines a process writes before it exits are never lost."""
        stopping = self.server.stopping
        while not stopping.is_set():
            alive = running()
            lines = follower.poll()
            if lines:
                out.write(lines)
            elif not alive or peer_gone(self.connection):
                return
            if alive:
                stopping.wait(self.server.poll_interval)

    def _begin_chunked(self) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "text/plain; charset=utf-8")
        self.send_header("Transfer-Encoding", "chunked")
        self.send_header("Cache-Control", "no-cache")
        self.send_header("X-Content-Type-Options", "nosniff")
        self.send_header("Connection", "close")
        self.end_headers()

    def _send(self, code: int, content_type: str, body: bytes) -> None:
        self.send_response(code)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Connection", "close")
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        log.debug("%s %s", self.address_string(), format % args)


class _Server(ThreadingHTTPServer):
    """A threading HTTP server whose connections are TLS, handshaken in their own thread,
    and tracked so that `stop()` can end them."""

    daemon_threads = False  # joined by server_close()
    block_on_close = True

    def __init__(self, address: tuple[str, int], tls: ssl.SSLContext, source: LogSource,
                 authorizer: Authorizer, poll_interval: float, clock: Clock) -> None:
        self.address_family = socket.AF_INET6 if ":" in address[0] else socket.AF_INET
        super().__init__(address, _Handler)
        self.tls = tls
        self.source = source
        self.authorizer = authorizer
        self.poll_interval = poll_interval
        self.clock = clock
        self.stopping = threading.Event()
        self._conns: set[ssl.SSLSocket] = set()
        self._idle = threading.Condition()

    def stamp(self) -> bytes:
        now = datetime.datetime.fromtimestamp(self.clock.time(), datetime.UTC)
        return now.strftime("%Y-%m-%dT%H:%M:%S.%fZ ").encode()

    def finish_request(self, request: Any, client_address: Any) -> None:
        conn = self.tls.wrap_socket(request, server_side=True, do_handshake_on_connect=False)
        with self._idle:
            self._conns.add(conn)
        try:
            conn.settimeout(HANDSHAKE_TIMEOUT)
            conn.do_handshake()
            _Handler(conn, client_address, self)
        except OSError as err:  # TLS refused, client gone, connection cut by stop()
            log.debug("log connection from %s ended: %s", client_address, err)
        finally:
            with contextlib.suppress(OSError):
                conn.close()
            with self._idle:
                self._conns.discard(conn)
                self._idle.notify_all()

    @property
    def connections(self) -> int:
        with self._idle:
            return len(self._conns)

    def handle_error(self, request: Any, client_address: Any) -> None:
        log.exception("log request from %s failed", client_address)

    def end_connections(self, grace: float) -> None:
        """Wait up to `grace` s for connections to finish, then cut the rest (their
        threads see an error at their next read or write)."""
        deadline = time.monotonic() + grace
        with self._idle:
            while self._conns and (left := deadline - time.monotonic()) > 0:
                self._idle.wait(left)
            for conn in self._conns:
                with contextlib.suppress(OSError):
                    socket.socket.shutdown(conn, socket.SHUT_RDWR)  # the TCP socket, not the TLS layer


class LogServer:
    """The log endpoint on `host:port` (port 0: any free one; see `port`), TLS with
    `cert_file`/`key_file`.  `host` must be one address: the wildcard is refused.
    `start()` returns once the socket listens; `stop()` is idempotent."""

    def __init__(self, host: str, port: int, cert_file: Path, key_file: Path, source: LogSource,
                 authorizer: Authorizer, poll_interval: float = 0.2,
                 clock: Clock | None = None) -> None:
        if not host or _is_wildcard(host):
            raise ValueError(f"the log server binds to one address, not {host!r}")
        self.host, self._port = host, port
        self.cert_file, self.key_file = cert_file, key_file
        self.source, self.authorizer = source, authorizer
        self.poll_interval = poll_interval
        self.clock: Clock = clock or SystemClock()
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None

    @property
    def port(self) -> int:
        """The port it listens on (the one picked when started with port 0)."""
        return int(self._server.server_address[1]) if self._server else self._port

    @property
    def connections(self) -> int:
        """Connections being served now (follow streams included)."""
        return self._server.connections if self._server else 0

    def start(self) -> None:
        if self._server is not None:
            return
        tls = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        tls.minimum_version = ssl.TLSVersion.TLSv1_2
        tls.load_cert_chain(str(self.cert_file), str(self.key_file))
        self._server = _Server((self.host, self._port), tls, self.source, self.authorizer,
                               self.poll_interval, self.clock)
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.1},
                                        name=f"logserver-{self.host}:{self.port}", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        server, thread = self._server, self._thread
        if server is None or thread is None:
            return
        server.stopping.set()
        server.shutdown()
        server.end_connections(STOP_GRACE)
        server.server_close()
        thread.join()
        self._server = self._thread = None

    def __enter__(self) -> LogServer:
        self.start()
        return self

    def __exit__(self, *_: object) -> None:
        self.stop()


def _is_wildcard(host: str) -> bool:
    try:
        return ipaddress.ip_address(host).is_unspecified
    except ValueError:
        return False
