"""Container runtimes: the small interface the agent uses (`base`), and the process
runtime (commands as supervised host processes under a shim, with cgroups), plus the one
definition of a process's identity (`identity`).

May import: `control_plane.api`, `control_plane.client`.
"""
