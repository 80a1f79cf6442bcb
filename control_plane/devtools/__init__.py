"""Developer and operator tools around a cluster (minikube, kubemark, chaos): `skiff up`
(`localcluster`), lab hosts as network namespaces (`lab/`), `skiff chaos` (`chaos/`),
hollow nodes, the store's local harness with the etcd anchor (`storecluster`) and the
pidfiles of the processes they start (`procs`).

May import: `provision`, the components, `node_agent`, `client`, `api`, and `raftstore`
(the chaos workload and the harness drive the store directly, like `skiff store`).
"""
