"""Prometheus metrics: every figure read from the running services when ``/metrics`` is scraped.

Nothing here sits on the frame path: counters the services already keep are turned into metric
families at scrape time (a custom collector), except the command confirmation latency, a
histogram fed by the entity service's command listener. Every label set is bounded: interfaces
by the configuration, DGNs by the RV-C specification (others are summed as ``unknown``), states
and queues by fixed lists. Every name starts with ``coachiq_``.
"""

from __future__ import annotations

import asyncio
import logging
import shutil
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any

from prometheus_client import CollectorRegistry, Histogram, ProcessCollector
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.exposition import choose_encoder
from prometheus_client.registry import Collector

from backend.integrations.can.manager import InterfaceState
from backend.services.feature_manager import FeatureManager, FeatureNotAvailableError

logger = logging.getLogger(__name__)

NAMESPACE = "coachiq"
# Seconds from a command's frame to the device's status showing it (the timeout is 2 s).
LATENCY_BUCKETS = (0.025, 0.05, 0.1, 0.25, 0.5, 0.75, 1.0, 1.5, 2.0, 3.0, 5.0)
INTERFACE_STATES = tuple(state.value for state in InterfaceState)
COMMAND_OUTCOMES = ("sent", "confirmed", "timed_out", "failed")
MQTT_STATES = ("stopped", "connecting", "connected", "backoff")
BUS_LOAD_WINDOW = "10s"


def _counter(name: str, doc: str, labels: Iterable[str] = ()) -> CounterMetricFamily:
    return CounterMetricFamily(f"{NAMESPACE}_{name}", doc, labels=list(labels))


def _gauge(name: str, doc: str, labels: Iterable[str] = ()) -> GaugeMetricFamily:
    return GaugeMetricFamily(f"{NAMESPACE}_{name}", doc, labels=list(labels))


def directory_bytes(path: Path) -> int:
    """Bytes of the regular files under ``path`` (0 when it does not exist)."""
    total = 0
    if not path.is_dir():
        return 0
    for item in path.rglob("*"):
        try:
            if item.is_file() and not item.is_symlink():
                total += item.stat().st_size
        except OSError:
            continue
    return total


class _Queues:
    """The two queue families: items held and bound, one sample pair per queue."""

    def __init__(self) -> None:
        self.items = _gauge("queue_items", "Items held by a bounded queue.", ["queue", "interface"])
        self.capacity = _gauge("queue_capacity", "Bound of the queue.", ["queue", "interface"])

    def add(self, queue: str, items: int, capacity: int | None, interface: str = "") -> None:
        self.items.add_metric([queue, interface], items)
        if capacity is not None:
            self.capacity.add_metric([queue, interface], capacity)


class ServiceCollector(Collector):
    """Reads the running features of one application and yields metric families."""

    def __init__(self, feature_manager: FeatureManager) -> None:
        self._features = feature_manager

    def _get(self, feature: str, attribute: str = "service") -> Any:
        try:
            return getattr(self._features.get_feature(feature), attribute)
        except (FeatureNotAvailableError, RuntimeError):
            return None

    def collect(self) -> Iterator[Metric]:
        """Yield every metric family (called by the registry on each scrape)."""
        queues = _Queues()
        yield from self._features_metrics()
        yield from self._can_metrics(self._get("can"), queues)
        yield from self._entity_metrics(self._get("entities", "entity_manager"), queues)
        yield from self._command_metrics(self._get("entities"))
        yield from self._websocket_metrics(self._get("websocket"), queues)
        yield from self._history_metrics(self._get("persistence"), queues)
        yield from self._mqtt_metrics(self._get("mqtt"), queues)
        yield from self._loop_metrics()
        yield queues.items
        yield queues.capacity

    # --- features --------------------------------------------------------------------------

    def _features_metrics(self) -> Iterator[Metric]:
        running = _gauge(
            "feature_running", "1 when the feature is running, 0 otherwise.", ["feature"]
        )
        for item in self._features.status():
            if item["enabled"]:
                running.add_metric([item["name"]], 1.0 if item["state"] == "running" else 0.0)
        yield running

    # --- CAN -------------------------------------------------------------------------------

    def _can_metrics(self, can: Any, queues: _Queues) -> Iterator[Metric]:
        if can is None:
            return
        received = _counter("can_frames_received", "Frames received.", ["interface"])
        sent = _counter("can_frames_sent", "Frames written to the bus.", ["interface"])
        dropped = _counter(
            "can_frames_dropped",
            "Frames lost: rx (receive queue full) or tx (queue full or too old).",
            ["interface", "direction"],
        )
        error_frames = _counter(
            "can_error_frames", "CAN error frames reported by the controller.", ["interface"]
        )
        bus_errors = _counter(
            "can_bus_errors", "Read/write/open errors of the interface (each one reconnects).",
            ["interface"],
        )  # fmt: skip
        reconnects = _counter("can_reconnects", "Reconnections of the interface.", ["interface"])
        state = _gauge(
            "can_interface_state", "1 for the interface's current state.", ["interface", "state"]
        )
        load = _gauge(
            "can_bus_load_percent",
            f"Share of the bitrate used by the frames of the last {BUS_LOAD_WINDOW}.",
            ["interface"],
        )
        rate = _gauge(
            "can_frames_per_second", f"Frames per second over {BUS_LOAD_WINDOW}.", ["interface"]
        )
        claim = _gauge(
            "can_address_claimed",
            "1 when CoachIQ holds a claimed source address on the interface.",
            ["interface"],
        )
        address = _gauge(
            "can_source_address", "Source address CoachIQ transmits from.", ["interface"]
        )
        for name, interface in can.interface_service.interfaces.items():
            c = interface.counters
            received.add_metric([name], c.rx)
            sent.add_metric([name], c.tx)
            dropped.add_metric([name, "rx"], c.rx_dropped)
            dropped.add_metric([name, "tx"], c.tx_dropped)
            error_frames.add_metric([name], getattr(c, "error_frames", 0))
            bus_errors.add_metric([name], c.errors)
            reconnects.add_metric([name], c.reconnects)
            for value in INTERFACE_STATES:
                state.add_metric([name, value], 1.0 if interface.state.value == value else 0.0)
            window = can.stats.interface_rates(name, interface.bitrate)[BUS_LOAD_WINDOW]
            load.add_metric([name], window["bus_load_percent"])
            rate.add_metric([name], window["frames_per_second"])
            node = can.nodes.get(name)
            if node is not None:
                claim.add_metric([name], 1.0 if node.state.value == "claimed" else 0.0)
                address.add_metric([name], node.transmit_address)
        yield from (received, sent, dropped, error_frames, bus_errors, reconnects, state)
        yield from (load, rate, claim, address)
        yield from self._dgn_metrics(can)
        decode = _counter("can_decode_errors", "Frames of a known DGN whose data did not decode.")
        decode.add_metric([], can.stats.decode_errors)
        unknown = _counter("can_unknown_frames", "Frames of DGNs the RV-C spec does not define.")
        unknown.add_metric([], can.stats.unknown_frames)
        listener = _counter("can_listener_errors", "Frame listeners that raised.")
        listener.add_metric([], can.listener_errors)
        yield from (decode, unknown, listener)
        self._can_queues(can, queues)

    def _dgn_metrics(self, can: Any) -> Iterator[Metric]:
        frames = _counter(
            "can_dgn_frames",
            "Frames per DGN of the RV-C spec; other DGNs are summed as dgn='unknown'.",
            ["dgn", "name", "direction"],
        )
        unknown = [0, 0]
        for dgn, (rx, tx, _seen, name) in list(can.stats.dgns.items()):
            if name is None:
                unknown[0] += rx
                unknown[1] += tx
                continue
            label = f"{dgn:05X}"
            if rx:
                frames.add_metric([label, name, "rx"], rx)
            if tx:
                frames.add_metric([label, name, "tx"], tx)
        frames.add_metric(["unknown", "", "rx"], unknown[0] + can.stats.dgn_overflow)
        frames.add_metric(["unknown", "", "tx"], unknown[1])
        yield frames

    def _can_queues(self, can: Any, queues: _Queues) -> None:
        settings = can.settings
        for name, interface in can.interface_service.interfaces.items():
            queues.add("can_rx", interface.rx_queue_length, settings.rx_queue_size, name)
            queues.add("can_tx", interface.tx_queue_length, settings.tx_queue_size, name)
        queues.add("sniffer", len(can.sniffer.frames), settings.sniffer_size)
        queues.add("command_groups", len(can.groups.groups), settings.group_size)
        queues.add("dgn_statistics", len(can.stats.dgns), can.stats.max_dgns)

    # --- entities and commands -------------------------------------------------------------

    def _entity_metrics(self, manager: Any, queues: _Queues) -> Iterator[Metric]:
        if manager is None:
            return
        entities = manager.get_all_entities()
        available = sum(1 for entity in entities if entity.available)
        gauge = _gauge("entities", "Entities of the coach mapping by availability.", ["state"])
        gauge.add_metric(["available"], available)
        gauge.add_metric(["unavailable"], len(entities) - available)
        yield gauge
        changes = _counter("entity_state_changes", "Entity state changes.")
        changes.add_metric([], manager.stats["changes"])
        yield changes
        queues.add("unmapped", manager.unmapped_count, manager.unmapped_limit)
        queues.add("unknown_dgns", len(manager.unknown_dgns()), manager.unknown_dgn_limit)

    def _command_metrics(self, service: Any) -> Iterator[Metric]:
        if service is None:
            return
        outcomes = _counter(
            "commands", "Entity commands: sent, then confirmed, timed_out or failed.", ["outcome"]
        )
        for outcome in COMMAND_OUTCOMES:
            outcomes.add_metric([outcome], service.stats.get(outcome, 0))
        yield outcomes

    # --- WebSocket -------------------------------------------------------------------------

    def _websocket_metrics(self, manager: Any, queues: _Queues) -> Iterator[Metric]:
        if manager is None:
            return
        stats = manager.stats()
        clients = _gauge("websocket_clients", "Connected WebSocket clients.", ["endpoint"])
        clients.add_metric(["entities"], stats["entity_clients"])
        clients.add_metric(["sniffer"], stats["sniffer_clients"])
        sent = _counter("websocket_messages_sent", "Messages written to WebSocket clients.")
        sent.add_metric([], stats["messages_sent"])
        dropped = _counter(
            "websocket_messages_dropped",
            "Messages clients lost (outbox overflow, rate limit, stalled clients dropped).",
        )
        dropped.add_metric([], stats["dropped"])
        rejected = _counter(
            "websocket_rejected", "Connections refused because max_clients were connected."
        )
        rejected.add_metric([], stats["rejected_full"])
        yield from (clients, sent, dropped, rejected)
        queued = [client["queued"] for client in stats["clients"]]
        # The fullest client's outbox against the per-client bound, and all outboxes together.
        queues.add("websocket_outbox_max", max(queued, default=0), manager.settings.queue_size)
        queues.add("websocket_outbox_total", sum(queued), None)

    # --- persistence -----------------------------------------------------------------------

    def _history_metrics(self, persistence: Any, queues: _Queues) -> Iterator[Metric]:
        if persistence is None:
            return
        stats = persistence.writer.stats()
        written = _counter("history_rows_written", "Entity history rows committed.")
        written.add_metric([], stats["written"])
        dropped = _counter("history_rows_dropped", "History rows dropped (queue full or failed).")
        dropped.add_metric([], stats["dropped"])
        failed = _counter("history_write_failures", "History batches that failed to commit.")
        failed.add_metric([], stats["failed_writes"])
        yield from (written, dropped, failed)
        queues.add("history", stats["queued"], stats["queue_size"])
        faults = persistence.fault_writer.stats()
        faults_dropped = _counter(
            "fault_history_dropped", "DM_RV fault changes dropped (queue full or failed)."
        )
        faults_dropped.add_metric([], faults["dropped"])
        yield faults_dropped
        queues.add("fault_history", faults["queued"], faults["queue_size"])
        data_dir = persistence.data_dir
        if data_dir is not None:
            size = _gauge("data_dir_bytes", "Bytes of the files in the data directory.")
            size.add_metric([], directory_bytes(Path(data_dir)))
            free = _gauge("data_dir_free_bytes", "Free bytes on the data directory's disk.")
            free.add_metric([], shutil.disk_usage(data_dir).free)
            yield from (size, free)

    # --- MQTT ------------------------------------------------------------------------------

    def _mqtt_metrics(self, bridge: Any, queues: _Queues) -> Iterator[Metric]:
        if bridge is None:
            return
        status = bridge.status()
        state = _gauge("mqtt_state", "1 for the MQTT bridge's current state.", ["state"])
        for value in MQTT_STATES:
            state.add_metric([value], 1.0 if status["state"] == value else 0.0)
        published = _counter("mqtt_messages_published", "Messages published to the broker.")
        published.add_metric([], status["published"])
        dropped = _counter(
            "mqtt_messages_dropped", "Messages lost: outgoing queue full, or incoming dropped.",
            ["direction"],
        )  # fmt: skip
        dropped.add_metric(["out"], status["dropped"])
        dropped.add_metric(["in"], status["incoming_dropped"])
        connects = _counter("mqtt_connects", "Connections made to the broker.")
        connects.add_metric([], status["connects"])
        commands = _counter(
            "mqtt_commands", "MQTT commands received, and of those rejected.", ["outcome"]
        )
        commands.add_metric(["received"], status["commands"])
        commands.add_metric(["rejected"], status["commands_rejected"])
        yield from (state, published, dropped, connects, commands)
        queues.add("mqtt_outbox", status["queue"], status["queue_size"])

    # --- the event loop -------------------------------------------------------------------

    def _loop_metrics(self) -> Iterator[Metric]:
        try:
            tasks = len(asyncio.all_tasks())
        except RuntimeError:  # scraped outside the event loop
            tasks = None
        if tasks is not None:
            gauge = _gauge("asyncio_tasks", "Tasks alive on the server's event loop.")
            gauge.add_metric([], tasks)
            yield gauge


class MetricsService:
    """One application's registry: the service collector, process figures and latencies."""

    def __init__(self, feature_manager: FeatureManager) -> None:
        self.registry = CollectorRegistry(auto_describe=False)
        self.collector = ServiceCollector(feature_manager)
        self.registry.register(self.collector)
        ProcessCollector(namespace=NAMESPACE, registry=self.registry)
        self.confirmation = Histogram(
            "command_confirmation_seconds",
            "Seconds from a command to the device's status confirming it.",
            namespace=NAMESPACE,
            buckets=LATENCY_BUCKETS,
            registry=self.registry,
        )
        self._unsubscribe: Callable[[], None] | None = None

    def watch_commands(self, entity_service: Any) -> None:
        """Observe the latency of every confirmed command of ``entity_service``."""
        self.close()
        self._unsubscribe = entity_service.add_command_listener(self._on_command)

    def _on_command(self, result: Any) -> None:
        if result.status == "confirmed":
            self.confirmation.observe(max(0.0, result.completed_at - result.requested_at))

    def render(self, accept: str = "") -> tuple[bytes, str]:
        """Every metric and its content type: Prometheus text 0.0.4, or OpenMetrics if asked."""
        encoder, content_type = choose_encoder(accept)
        return encoder(self.registry), content_type

    def close(self) -> None:
        """Stop observing commands. Safe to call twice."""
        unsubscribe, self._unsubscribe = self._unsubscribe, None
        if unsubscribe is not None:
            unsubscribe()
