"""The desk's counts and state in Prometheus' text exposition format: what GET /metrics answers.

Built at each scrape from a copy of the counts (deskpi/daemon/metrics.py) and the desk's state, in a
registry of its own (never prometheus_client's global one), with the process' CPU, memory and file
descriptors beside them. prometheus_client is imported here only, and only when metrics are on.
"""
from __future__ import annotations

import math
import platform
from collections.abc import Iterator
from typing import Any

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily, Metric
from prometheus_client.process_collector import ProcessCollector

from deskpi import __version__
from deskpi.core.faults import FaultKind

#: The format every Prometheus since 2.0 reads (prometheus_client's newest name for it varies by version).
CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"


def render(counts: Any, live: dict[str, Any]) -> tuple[bytes, str]:
    """`counts`: a Counts of deskpi/daemon/metrics.py (which imports this module, so not the other way);
    `live`: the desk now, as its `live` reads it."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(_Desk(counts, live))
    ProcessCollector(registry=registry)
    return generate_latest(registry), CONTENT_TYPE


class _Desk:
    """A collector of one scrape's families (prometheus_client calls collect())."""

    def __init__(self, counts: Any, live: dict[str, Any]) -> None:
        self.counts, self.live = counts, live

    def collect(self) -> Iterator[Metric]:
        c, live = self.counts, self.live
        yield _gauge("deskpi_up", "1 while the desk's control loop runs, 0 once it has stopped or crashed",
                     1.0 if live.get("up") else 0.0)
        info = GaugeMetricFamily("deskpi_build_info", "The deskpi version this desk runs (always 1)",
                                 labels=["version", "python"])
        info.add_metric([__version__, platform.python_version()], 1.0)
        yield info
        height = live.get("height_mm")
        yield _gauge("deskpi_height_mm", "The desk's height now, mm (NaN without a fresh reading)",
                     math.nan if height is None else float(height))
        yield _gauge("deskpi_moving", "1 while the motor runs", 1.0 if live.get("moving") else 0.0)
        active = GaugeMetricFamily("deskpi_fault_active", "1 for the kind of the fault the desk has now "
                                   "(it will not move until the fault is cleared)", labels=["kind"])
        for kind in FaultKind:
            active.add_metric([kind.value], 1.0 if live.get("fault") == kind.value else 0.0)
        yield active
        yield _counter("deskpi_moves", "Moves and holds the desk accepted, by who asked (button, web, cli, "
                       "schedule, mqtt)", "source", c.moves)
        yield _counter("deskpi_faults", "Faults the desk latched, by kind", "kind", c.faults)
        yield _counter("deskpi_motor_seconds", "Seconds the motor ran, by direction", "direction", c.motor_s)
        yield _counter("deskpi_sensor_readings", "Height sensor pings, by what came back (ok, lost: no echo, "
                       "silent: no answer at all)", "status", c.readings)
        yield _counter("deskpi_reminders", "Sit-stand reminders shown, and their outcomes, for the desk as a "
                       "whole", "outcome", c.reminders)
        yield _counter("deskpi_web_requests", "Web requests answered, by HTTP status code", "code", c.web)
        yield CounterMetricFamily("deskpi_posture_changes", "Sit-stand changes of the desk (below 850 mm to "
                                  "above 950 mm or back)", value=c.posture_changes)
        yield CounterMetricFamily("deskpi_standing_seconds", "Seconds the desk stood at a standing height "
                                  "(above 950 mm), whoever used it", value=c.standing_s)
        yield _histogram("deskpi_stop_latency_seconds", "From a stop reaching the control loop (a button, the "
                         "web, the command line, a shutdown) to the motor pins written off", c.stop_latency)
        yield _histogram("deskpi_control_loop_lag_seconds", "How late the control loop woke for a cut or a "
                         "check it had asked to be woken for", c.loop_lag)


def _gauge(name: str, doc: str, value: float) -> GaugeMetricFamily:
    return GaugeMetricFamily(name, doc, value=value)


def _counter(name: str, doc: str, label: str, values: dict[str, Any]) -> CounterMetricFamily:
    family = CounterMetricFamily(name, doc, labels=[label])
    for key, value in sorted(values.items()):
        family.add_metric([key], float(value))
    return family


def _histogram(name: str, doc: str, h: Any) -> HistogramMetricFamily:
    return HistogramMetricFamily(name, doc, buckets=[(le, float(n)) for le, n in h.cumulative()],
                                 sum_value=h.total)
