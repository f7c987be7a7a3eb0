"""Traffic rates: over 10 s each status DGN is broadcast within the specification's gaps."""

from __future__ import annotations

import itertools
from collections import defaultdict

import pytest

from backend.services.simulator.engine import broadcast_gaps
from tests.simulator.conftest import Bench

LATENCY = 0.05  # scheduling and polling slack on a shared 2-core machine


@pytest.mark.slow
async def test_status_dgns_broadcast_within_spec_gaps(bench: Bench) -> None:
    heard = await bench.collect(10.0)
    times: dict[tuple[str, object, int], list[float]] = defaultdict(list)
    definitions = {}
    for stamp, message in heard:
        definition = message.definition
        if definition is None or definition.kind != "status":
            continue
        times[(definition.name, message.instance, message.source)].append(stamp)
        definitions[definition.name] = definition
    expected = {
        (e.definition.name, e.node.address) for n in bench.coach.nodes for e in n.broadcasts
    }
    assert {(name, source) for name, _, source in times} == expected
    problems = []
    for (name, instance, source), stamps in times.items():
        gap, min_gap = broadcast_gaps(definitions[name], bench.coach.options.default_gap)
        intervals = [b - a for a, b in itertools.pairwise(stamps)]
        assert len(stamps) >= int(9.0 / gap), (name, instance, len(stamps))
        if min(intervals) < min_gap - 0.005:
            problems.append(f"{name}/{instance}@{source}: {min(intervals):.3f} s < {min_gap}")
        if max(intervals) > gap + LATENCY:
            problems.append(f"{name}/{instance}@{source}: {max(intervals):.3f} s > {gap}")
        spec_max = definitions[name].broadcast.get("max_ms")
        if spec_max and max(intervals) > spec_max / 1000:
            problems.append(f"{name}/{instance}: {max(intervals):.3f} s > max {spec_max} ms")
    assert problems == []
