"""The `skiff` command line (typer): kubectl-like verbs, the daemons' entry points
(`skiff apiserver`, `scheduler`, `controller-manager`, `agent`, `store run`), kubeadm-like
provisioning and the developer tools.  Thin: each command parses flags, calls into its
component's own `run`/`serve`, and prints.

May import: every other layer; `raftstore` only from `store/` (the etcdctl-like verbs).
"""
