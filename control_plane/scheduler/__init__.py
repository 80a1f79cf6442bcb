"""The scheduler (kube-scheduler): filter and score plugins over node views, a scheduling
queue and cache, then a compare-and-set binding.

May import: `control_plane.api`, `control_plane.client`.  Talks to the API server only.
"""
