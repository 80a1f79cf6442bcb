"""Skiff's API server: Kubernetes-shaped REST over the store (the only door to it)."""
