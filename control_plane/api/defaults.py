"""The cluster's well-known numbers and places, written once (the design's ports and paths).

Every component, the provisioning and the developer tools read their defaults from here;
a flag or a config file can still override each one.
"""

from __future__ import annotations

# Ports (Kubernetes' own where Kubernetes has one).
STORE_CLIENT_PORT = 2379
STORE_PEER_PORT = 2380
API_PORT = 6443
AGENT_PORT = 10250  # the kubelet's port: logs, health

# The three store members and API servers of a local cluster (`skiff up`, `make demo`).
LOCAL_MASTERS = ("127.0.1.1", "127.0.1.2", "127.0.1.3")
LOCAL_STORE_ENDPOINTS = ",".join(f"{h}:{STORE_CLIENT_PORT}" for h in LOCAL_MASTERS)
LOCAL_API_LISTEN = f"{LOCAL_MASTERS[0]}:{API_PORT}"

# Leader election of the scheduler and the controller manager (kube-scheduler's defaults).
LEASE_DURATION = 15.0
RENEW_DEADLINE = 10.0
RETRY_PERIOD = 2.0  # floats: typer shows them as the flags' defaults

# How often an agent renews its node Lease (the kubelet's 10 s); provisioned hosts use 5.
HEARTBEAT_SECONDS = 10
PROVISIONED_HEARTBEAT_SECONDS = 5

# Places on every host.
ETC_DIR = "/etc/skiff"
DATA_DIR = "/var/lib/skiff"
LOG_DIR = "/var/log/skiff"
RUN_DIR = "/run/skiff"
INSTALL_DIR = "/opt/skiff"
AGENT_CONFIG = f"{ETC_DIR}/agent.yaml"
AGENT_PIDFILE = f"{RUN_DIR}/agent.pid"
