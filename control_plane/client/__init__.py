"""What client-go is, for Skiff: the API client with failover (`apiclient`, `errors`,
`config`), the informer (list + watch into a cache), the work queue, Lease leader
election, the event recorder, the injected `Clock`, the leader-elected component runner
and atomic file writes.

May import: `control_plane.api` only.  Never the store, never a server.
"""
