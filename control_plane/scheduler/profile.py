"""Scheduling profiles: which filters run, in which order, and which scores with what weight.

A `Profile` is Kubernetes' KubeSchedulerProfile in small: the framework runs exactly the
plugins it lists, so changing how the scheduler decides means passing another profile,
not editing module-global lists.  Profiles are immutable values and may be shared
between threads.

Order matters and is part of the contract: filters run in the order given and the first
that rejects a node is the one its diagnosis names (cheap, common rejections first);
weighted scores are summed in the order given.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple

from control_plane.scheduler import plugins
from control_plane.scheduler.plugins import FilterPlugin, ScorePlugin


class WeightedScore(NamedTuple):
    plugin: ScorePlugin
    weight: float


@dataclass(frozen=True)
class Profile:
    """A named set of plugins.  Raises ValueError on a repeated plugin name or a
    negative weight (a weight of 0 is allowed and switches the score off)."""

    name: str
    filters: tuple[FilterPlugin, ...]
    scores: tuple[WeightedScore, ...]

    def __post_init__(self) -> None:
        for kind, names in (("filter", [f.name for f in self.filters]),
                            ("score", [s.plugin.name for s in self.scores])):
            if len(set(names)) != len(names):
                raise ValueError(f"profile {self.name}: a {kind} plugin is listed twice: {names}")
        if any(s.weight < 0 for s in self.scores):
            raise ValueError(f"profile {self.name}: score weights must be >= 0")


FILTERS: tuple[FilterPlugin, ...] = (
    plugins.NODE_READY, plugins.NODE_UNSCHEDULABLE, plugins.TAINT_TOLERATION, plugins.NODE_AFFINITY,
    plugins.NODE_RESOURCES_FIT,
)

# Spread: the most room left wins; live load breaks ties between equally empty nodes.
DEFAULT_PROFILE = Profile("default-scheduler", FILTERS, (
    WeightedScore(plugins.LEAST_ALLOCATED, 1.0), WeightedScore(plugins.BALANCED_ALLOCATION, 1.0),
    WeightedScore(plugins.LOAD_AWARE, 1.0),
))

# Bin-packing (`skiff scheduler --bin-packing`): fill the fullest node that still fits;
# load counts half, so a busy machine is still avoided when requests tie.
BIN_PACKING_PROFILE = Profile("bin-packing", FILTERS, (
    WeightedScore(plugins.MOST_ALLOCATED, 1.0), WeightedScore(plugins.BALANCED_ALLOCATION, 1.0),
    WeightedScore(plugins.LOAD_AWARE, 0.5),
))
