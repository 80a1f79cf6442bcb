"""The node agent (kubelet): joins with a bootstrap token, registers and heartbeats its
Node, runs its pods and static pods through a runtime (`runtime/`), probes them, and
serves their logs.  A host process on every host, masters included (never a pod).

May import: `control_plane.api`, `control_plane.client`.  Never `raftstore`: it reaches
the cluster through the API server only.
"""
