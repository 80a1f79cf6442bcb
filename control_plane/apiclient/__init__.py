"""Talking to the API server: the one client every component and the CLI use."""
