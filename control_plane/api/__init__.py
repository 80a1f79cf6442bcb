"""The object model every component shares (Kubernetes' API types and apimachinery, in
small): which resources exist and their URL paths, quantities (`500m`, `128Mi`), pure
readings of objects (Ready, terminal, tolerations, keys) and the cluster's defaults
(ports, paths, timings).

May import: nothing of Skiff (the bottom layer).  Pure and side-effect free.
"""
