"""Provisioning (kubeadm's part): the cluster PKI, each host's rendered assets and
`/etc/skiff` bundle, the static pod manifests of masters, the offline wheelhouse, and
joining a node over SSH (paramiko).

May import: `control_plane.apiserver` (token format), `node_agent`, `client`, `api`.
"""
