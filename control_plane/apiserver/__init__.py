"""The API server (kube-apiserver): Kubernetes-shaped REST over the store, the only door
to it.  `serve` starts it; `app` assembles the routers of `routes/` over one
`context.ApiContext` (authn, authz, metrics, store-error translation); `handlers` holds
the verbs, `storage` and `keys` the objects in the store, `watchstream` the watch body.

May import: `control_plane.api`, `control_plane.client`, `raftstore`.
"""
