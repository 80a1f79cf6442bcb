"""The member's Prometheus figures (Raft term, leadership, revision, journal syncs),
read at scrape time."""

from __future__ import annotations

from collections.abc import Callable, Iterator

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric

from raftstore.service import MemberService


class MemberCollector:
    """Exports the member's Raft and journal figures at scrape time."""

    def __init__(self, service: Callable[[], MemberService | None]) -> None:
        self.service = service  # None until the member has started

    def collect(self) -> Iterator[Metric]:
        svc = self.service()
        if svc is None:
            return
        raft = svc.member.raft_status()
        yield GaugeMetricFamily("skiff_store_revision", "Current revision",
                                value=svc.member.read(lambda s: s.kv.revision))
        yield GaugeMetricFamily("skiff_store_raft_term", "Raft term", value=raft["term"])
        yield GaugeMetricFamily("skiff_store_is_leader", "1 if this member leads",
                                value=int(raft["is_leader"]))
        yield CounterMetricFamily("skiff_store_journal_fsyncs", "Journal group commits (fdatasync calls)",
                                  value=raft["journal_syncs"])
        yield CounterMetricFamily("skiff_store_journal_fsync_seconds", "Time spent in journal fdatasync",
                                  value=raft["journal_sync_seconds"])
        yield CounterMetricFamily("skiff_store_journal_appended_entries", "Raft entries appended",
                                  value=raft["journal_appended"])
