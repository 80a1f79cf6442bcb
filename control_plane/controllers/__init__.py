"""The controller manager's controllers: node lifecycle, deployments, garbage collection."""
