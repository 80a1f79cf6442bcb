"""The agent process: join, register, heartbeat, static pods, the pod sync loop and
the log server, wired together.

Start-up order matters on a master, where the API server is itself a static pod: the
static pods start first, from disk, without the API; joining, registration, mirror
pods and API pods follow as soon as an API server answers (retried with back-off).
"""

from __future__ import annotations

import logging
import signal
import threading
from types import FrameType

from control_plane.api import paths
from control_plane.client.apiclient import ApiClient
from control_plane.client.errors import ApiClientError
from control_plane.client.informer import Informer
from node_agent import join, staticpods
from node_agent.config import AgentConfig, ConfigError
from node_agent.heartbeat import NodeReporter
from node_agent.logauth import ApiAuthorizer, api_client_factory
from node_agent.logserver import LogServer
from node_agent.logsource import RuntimeLogSource
from node_agent.podspec import Backoff
from node_agent.podworker import PodWorker
from node_agent.runtime.process import ProcessRuntime

log = logging.getLogger(__name__)
PODS = paths.resource("pods")
STATIC_PERIOD = 2.0


class Agent:
    def __init__(self, cfg: AgentConfig, backoff: Backoff | None = None) -> None:
        self.cfg = cfg
        self.stop = threading.Event()
        self.runtime = ProcessRuntime(cfg.runtime_dir)
        self.api: ApiClient | None = None
        self.worker: PodWorker | None = None
        self.backoff = backoff or Backoff(cfg.backoff_seconds, cfg.max_backoff_seconds)

    def run(self) -> None:
        """Until SIGTERM/SIGINT: the containers keep running when the agent stops."""
        signal.signal(signal.SIGTERM, self._on_signal)
        signal.signal(signal.SIGINT, self._on_signal)
        # The credential comes later (joining needs an API server, which on a master is
        # one of the static pods started below).
        self.api = ApiClient(self.cfg.servers, "", self.cfg.ca_file, user_agent="skiff-agent", balance=True)
        worker = self.worker = PodWorker(
            self.api, self.runtime, self.cfg.node_name, self.cfg.address, self.backoff
        )
        informer = Informer(
            self.api, PODS, field=f"spec.nodeName={self.cfg.node_name}", handler=worker.on_api_pod
        )
        reporter = NodeReporter(self.api, self.cfg, self.runtime.capabilities())
        threads = [
            threading.Thread(target=self._static_loop, args=(worker,), daemon=True, name="static"),
            threading.Thread(target=self._join_register_heartbeat, args=(reporter, informer), daemon=True,
                             name="heartbeat"),
        ]
        for t in threads:
            t.start()
        server = self._log_server(worker)
        try:
            worker.run(self.stop, lambda: informer.synced.is_set() and worker.static_loaded.is_set())
        finally:
            informer.stop()
            if server is not None:
                server.stop()
            self.api.close()

    def _on_signal(self, signum: int, _: FrameType | None) -> None:
        log.info("signal %d: stopping the agent (containers keep running)", signum)
        self.stop.set()

    def _join(self) -> str | None:
        delay = 0.5
        while not self.stop.is_set():
            try:
                return join.credential(self.cfg)
            except ApiClientError as err:
                log.warning("joining: %s (retrying in %.1fs)", err.message, delay)
            except ConfigError as err:
                log.error("cannot join: %s", err)
                self.stop.set()
                return None
            self.stop.wait(delay)
            delay = min(delay * 2, 2.0)
        return None

    def _join_register_heartbeat(self, reporter: NodeReporter, informer: Informer) -> None:
        token = self._join()
        if token is None or self.api is None:
            return
        self.api.set_token(token)
        delay = 0.5
        while not self.stop.is_set():
            try:
                reporter.register()
                break
            except ApiClientError as err:
                log.warning("registering: %s (retrying in %.1fs)", err.message, delay)
                self.stop.wait(delay)
                delay = min(delay * 2, 2.0)
        informer.start()
        reporter.run(self.stop)

    def _static_loop(self, worker: PodWorker) -> None:
        """Read the manifests every few seconds; keep mirror pods in the API."""
        if self.cfg.manifests_dir is None:
            worker.set_static_pods([])
            return
        failing: dict[str, str] = {}  # pod -> the last error, so each new one is logged once
        while not self.stop.is_set():
            pods = staticpods.load(self.cfg.manifests_dir, self.cfg.node_name)
            worker.set_static_pods(pods)
            if self.api is not None:
                for pod in pods:
                    try:
                        if staticpods.ensure_mirror(self.api, pod, self.cfg.node_name):
                            worker.report_again(pod.uid)
                        failing.pop(pod.name, None)
                    except ApiClientError as err:
                        if failing.get(pod.name) != err.message:
                            log.warning("static pod %s has no mirror pod: %s", pod.name, err.message)
                        failing[pod.name] = err.message
            self.stop.wait(STATIC_PERIOD)

    def _log_server(self, worker: PodWorker) -> LogServer | None:
        """The agent's HTTPS port (pod logs for the API server's proxy), if it has a
        serving certificate; a port that cannot be bound is logged, the agent goes on."""
        if self.cfg.tls_cert_file is None or self.cfg.tls_key_file is None:
            log.warning("no tlsCertFile/tlsKeyFile: pod logs are not served")
            return None
        source = RuntimeLogSource(worker, self.runtime, self.cfg.node_name)
        authorizer = ApiAuthorizer(api_client_factory(self.cfg.servers, self.cfg.ca_file))
        server = LogServer(
            self.cfg.address, self.cfg.port, self.cfg.tls_cert_file, self.cfg.tls_key_file, source, authorizer
        )
        try:
            server.start()
        except OSError as err:
            log.error("cannot serve logs on %s:%d: %s", self.cfg.address, self.cfg.port, err)
            return None
        return server


def main(cfg: AgentConfig) -> None:
    try:
        Agent(cfg).run()
    except ConfigError as err:
        raise SystemExit(f"error: {err}") from None
