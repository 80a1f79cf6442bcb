"""Skiff's control plane and everything around it, in layers (top may import below, never up;
enforced by the import-linter contracts in pyproject.toml, drawn in docs/architecture.md):

    cli         the `skiff` commands (kubectl, kubeadm, minikube verbs) and daemon entry points
    devtools    skiff up, lab hosts, chaos, hollow nodes, the store's local harness
    provision   kubeadm's part: PKI, per-host assets and bundles, wheelhouse, node join over SSH
    apiserver | scheduler | controllers    the master components   (node_agent sits here too)
    client      client-go's part: API client, informer, work queue, leader election, events, clock
    api         the object model: resources and paths, quantities, object helpers, defaults

Only `apiserver` (and the store's own tools: `cli.store`, `devtools`) imports `raftstore`.
"""
