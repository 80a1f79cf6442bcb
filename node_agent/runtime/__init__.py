"""Container runtimes: the small interface the agent uses, and the process runtime."""
