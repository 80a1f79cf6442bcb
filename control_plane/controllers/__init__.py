"""The controller manager (kube-controller-manager): node lifecycle, deployments, garbage
collection; level-triggered loops over informers and a work queue.

May import: `control_plane.api`, `control_plane.client`.  Talks to the API server only.
"""
