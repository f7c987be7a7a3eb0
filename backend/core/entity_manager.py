"""EntityManager: the live coach model. Decoded messages in, entity state changes out.

One dict lookup on (DGN, instance) finds the entities a message reports; a reader turns its
signals into state keys; only a real change is stored, kept in the entity's bounded history and
handed to the change listeners (synchronously, on the event loop: they must not block). Entities
become unavailable when no status has arrived within the spec's maximum broadcast gap.
Known DGNs no entity claims ("unmapped") and DGNs not in the specification ("unknown") are
tracked in bounded tables so users can write their mapping.
"""

from __future__ import annotations

import contextlib
import logging
import time
from collections import OrderedDict, deque
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from typing import Any

from backend.core.coach_mapping import CoachMapping
from backend.core.entity_model import Binding, Entity, State
from backend.integrations.rvc.decoder import DecodedMessage

logger = logging.getLogger(__name__)

MAX_SOURCES = 16  # sources remembered per unmapped instance / unknown DGN


@dataclass(slots=True)
class EntityChange:
    """A change of an entity's state or availability, as listeners receive it.

    Read-only by convention (not frozen: one is made per change on the receive path, and a
    frozen dataclass costs about 1 µs more to build on CPython 3.12).
    """

    entity_id: str
    entity_type: str
    area: str | None
    state: dict[str, Any]
    available: bool
    last_updated: float
    restored: bool = False


@dataclass(frozen=True, slots=True)
class EntityRemoved:
    """An entity a reloaded mapping no longer has: it is gone from the API and the streams."""

    entity_id: str
    entity_type: str
    area: str | None


@dataclass(frozen=True, slots=True)
class MappingChange:
    """A mapping replaced in place: which entity ids came, went and stayed (with their state)."""

    path: str
    added: tuple[str, ...]
    removed: tuple[str, ...]
    kept: tuple[str, ...]

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return {
            "path": self.path,
            "added": list(self.added),
            "removed": list(self.removed),
            "kept": list(self.kept),
        }


ChangeListener = Callable[[EntityChange], None]
StatusListener = Callable[[Entity, Binding, DecodedMessage], None]
RemovalListener = Callable[[EntityRemoved], None]
MappingListener = Callable[[MappingChange], None]


def _unmapped_view(record: dict[str, Any]) -> dict[str, Any]:
    """A copy of an unmapped record, the last changed frame's labels and raw values worked out."""
    view = dict(record, sources=list(record["sources"]))
    message = view.pop("message", None)
    if message is not None:
        view["labels"] = message.labels
        view["raw"] = message.raw
    return view


class EntityManager:
    """Registers the mapping's entities and keeps their state from decoded messages."""

    def __init__(
        self,
        mapping: CoachMapping | None = None,
        *,
        history_count: int = 200,
        history_max_age: float = 86400.0,
        unmapped_limit: int = 500,
        unknown_dgn_limit: int = 200,
        consumed_dgns: Iterable[int] = (),
        clock: Callable[[], float] = time.monotonic,
        wall_clock: Callable[[], float] = time.time,
    ) -> None:
        self.mapping = mapping
        self.areas: dict[str, str] = dict(mapping.areas) if mapping else {}
        self.coach: dict[str, Any] = dict(mapping.coach) if mapping else {}
        self.chassis: dict[str, Any] = dict(mapping.chassis) if mapping else {}
        self.history_count = history_count
        self.history_max_age = history_max_age
        self.unmapped_limit = unmapped_limit
        self.unknown_dgn_limit = unknown_dgn_limit
        # DGNs the server reads itself (the safety interlock's chassis status): never "unmapped".
        self.consumed_dgns = frozenset(consumed_dgns)
        self._clock = clock
        self._wall = wall_clock
        self._entities: dict[str, Entity] = {}
        self._index: dict[tuple[int, int | None], list[tuple[Binding, Entity]]] = {}
        self._change_listeners: list[ChangeListener] = []
        self._status_listeners: list[StatusListener] = []
        self._removal_listeners: list[RemovalListener] = []
        self._mapping_listeners: list[MappingListener] = []
        self._override_listeners: list[Callable[[Entity], None]] = []
        # Overrides applied so far ({entity_id: {name/area/hidden: value}}), kept over a reload.
        self._overrides: dict[str, dict[str, Any]] = {}
        self._unmapped: OrderedDict[tuple[int, int | None], dict[str, Any]] = OrderedDict()
        self._unknown: OrderedDict[int, dict[str, Any]] = OrderedDict()
        # Hooks the persistence feature sets (None without persistence):
        # history_provider(entity_id, since, until, limit) -> awaitable [(ts, state, available)]
        # override_store(entity_id, name, area, hidden) -> awaitable
        self.history_provider: Callable[..., Awaitable[list[tuple[float, State, bool]]]] | None = (
            None
        )
        self.override_store: Callable[..., Awaitable[None]] | None = None
        self.stats = {
            "messages": 0,
            "changes": 0,
            "unmapped_dropped": 0,
            "unknown_dropped": 0,
            "listener_errors": 0,
        }
        for entity in mapping.entities if mapping else ():
            self.register(entity)

    # --- registry -------------------------------------------------------------------------------

    def register(self, entity: Entity) -> None:
        """Add an entity and index its (DGN, instance) claims."""
        if entity.entity_id in self._entities:
            raise ValueError(f"entity '{entity.entity_id}' is already registered")
        entity.history = deque(maxlen=self.history_count)
        self._entities[entity.entity_id] = entity
        for binding in entity.bindings:
            self._index.setdefault((binding.dgn, binding.instance), []).append((binding, entity))

    def get_entity(self, entity_id: str) -> Entity | None:
        """The entity ``entity_id``, or None."""
        return self._entities.get(entity_id)

    def get_all_entities(self) -> list[Entity]:
        """Every entity, in mapping order."""
        return list(self._entities.values())

    def lookup(self, dgn: int, instance: int | None) -> Entity | None:
        """The (first) entity claiming (DGN, instance), in O(1); None when unclaimed."""
        claims = self._index.get((dgn, instance))
        return claims[0][1] if claims else None

    # --- subscriptions --------------------------------------------------------------------------

    def add_change_listener(self, callback: ChangeListener) -> Callable[[], None]:
        """Call ``callback(EntityChange)`` on every change; returns the unsubscribe function."""
        self._change_listeners.append(callback)
        return lambda: _remove(self._change_listeners, callback)

    def add_status_listener(self, callback: StatusListener) -> Callable[[], None]:
        """Call ``callback(entity, binding, message)`` on every status an entity receives, changed
        or not (command confirmation uses it); returns the unsubscribe function."""
        self._status_listeners.append(callback)
        return lambda: _remove(self._status_listeners, callback)

    def add_removal_listener(self, callback: RemovalListener) -> Callable[[], None]:
        """Call ``callback(EntityRemoved)`` for each entity a reloaded mapping drops (the MQTT
        bridge removes its discovery topics, the WebSocket tells clients); returns the
        unsubscribe function."""
        self._removal_listeners.append(callback)
        return lambda: _remove(self._removal_listeners, callback)

    def add_mapping_listener(self, callback: MappingListener) -> Callable[[], None]:
        """Call ``callback(MappingChange)`` after the mapping is replaced in place (after the
        removal events); returns the unsubscribe function."""
        self._mapping_listeners.append(callback)
        return lambda: _remove(self._mapping_listeners, callback)

    def add_override_listener(self, callback: Callable[[Entity], None]) -> Callable[[], None]:
        """Call ``callback(entity)`` after a user renames, moves or hides an entity."""
        self._override_listeners.append(callback)
        return lambda: _remove(self._override_listeners, callback)

    def _notify(self, listeners: list[Any], event: Any) -> None:
        for callback in tuple(listeners):
            try:
                callback(event)
            except Exception:
                self.stats["listener_errors"] += 1
                logger.exception("Entity listener %r failed", callback)

    # --- reload in place ------------------------------------------------------------------------

    def replace_mapping(self, mapping: CoachMapping) -> MappingChange:
        """Swap in a new (already validated) mapping without a restart.

        Entities whose id and type are unchanged keep their state, availability, history and
        overrides; new ones start from the last values of the instances they claim (tracked as
        unmapped until now); removed ones are dropped and announced to the removal listeners.
        """
        old = self._entities
        entities: dict[str, Entity] = {}
        index: dict[tuple[int, int | None], list[tuple[Binding, Entity]]] = {}
        kept: list[str] = []
        added: list[Entity] = []
        for entity in mapping.entities:
            previous = old.get(entity.entity_id)
            if previous is not None and previous.entity_type == entity.entity_type:
                entity.state = previous.state
                entity.available = previous.available
                entity.restored = previous.restored
                entity.last_updated = previous.last_updated
                entity.last_seen = previous.last_seen
                entity.deadline = previous.deadline
                entity.history = previous.history
                kept.append(entity.entity_id)
            else:
                entity.history = deque(maxlen=self.history_count)
                added.append(entity)
            entities[entity.entity_id] = entity
            for binding in entity.bindings:
                index.setdefault((binding.dgn, binding.instance), []).append((binding, entity))
        removed = [e for entity_id, e in old.items() if entity_id not in entities]
        self.mapping = mapping
        self.coach = dict(mapping.coach)
        self.areas = dict(mapping.areas)
        self._entities = entities
        self._index = index
        for entity_id, fields in list(self._overrides.items()):
            if entity_id in entities:
                self._override(entities[entity_id], **fields)
        for entity in added:
            self._seed_from_unmapped(entity)
        for key in [k for k in self._unmapped if k in index]:
            del self._unmapped[key]
        for entity in removed:
            self._notify(
                self._removal_listeners,
                EntityRemoved(entity.entity_id, entity.entity_type, entity.area),
            )
        change = MappingChange(
            str(mapping.path),
            tuple(e.entity_id for e in added),
            tuple(e.entity_id for e in removed),
            tuple(kept),
        )
        self._notify(self._mapping_listeners, change)
        for entity in added:
            if entity.available:
                self._emit(entity)
        return change

    def _seed_from_unmapped(self, entity: Entity) -> None:
        """Give a newly mapped entity the last values its instances showed while unmapped."""
        now_wall = self._wall()
        for binding in entity.bindings:
            record = self._unmapped.get((binding.dgn, binding.instance))
            if record is None or not binding.matches(record["signals"]):
                continue
            fragment = binding.reader(record["signals"], binding.role)
            entity.state.update(fragment)
            age = max(0.0, now_wall - record["last_seen"])
            if age < binding.timeout:
                entity.deadline = max(entity.deadline, self._clock() + binding.timeout - age)
                entity.available = True
            entity.last_seen = max(entity.last_seen, record["last_seen"])
        derive = entity.control.derive
        if entity.state and derive is not None:
            entity.state.update(derive(entity.state))
        if entity.available:
            entity.last_updated = now_wall
            self._record(entity)

    def _emit(self, entity: Entity) -> None:
        self.stats["changes"] += 1
        if not self._change_listeners:
            return
        change = EntityChange(
            entity.entity_id,
            entity.entity_type,
            entity.area,
            dict(entity.state),
            entity.available,
            entity.last_updated,
            entity.restored,
        )
        for callback in tuple(self._change_listeners):
            try:
                callback(change)
            except Exception:
                self.stats["listener_errors"] += 1
                logger.exception("Entity change listener %r failed", callback)

    # --- the hot path ---------------------------------------------------------------------------

    def ingest(self, message: DecodedMessage, timestamp: float | None = None) -> None:
        """Apply one decoded message (received from the bus) to the entities that claim it."""
        self.stats["messages"] += 1
        definition = message.definition
        ts = self._wall() if timestamp is None else timestamp
        if definition is None:
            self._track_unknown(message, ts)
            return
        claims = self._index.get((message.dgn, message.instance))
        if claims is None:
            if definition.kind != "network" and message.dgn not in self.consumed_dgns:
                self._track_unmapped(message, ts)
            return
        signals = message.signals
        for binding, entity in claims:
            if binding.match and not binding.matches(signals):
                continue
            self._apply(entity, binding, binding.reader(signals, binding.role, message), ts)
            for listener in self._status_listeners:
                try:
                    listener(entity, binding, message)
                except Exception:
                    self.stats["listener_errors"] += 1
                    logger.exception("Entity status listener %r failed", listener)

    def _apply(self, entity: Entity, binding: Binding, fragment: State, ts: float) -> None:
        entity.deadline = max(entity.deadline, self._clock() + binding.timeout)
        entity.last_seen = ts
        state = entity.state
        changed = False
        for key, value in fragment.items():
            if key not in state or state[key] != value:
                state[key] = value
                changed = True
        derive = entity.control.derive
        if changed and derive is not None:
            for key, value in derive(state).items():
                if state.get(key) != value:
                    state[key] = value
        if changed or not entity.available:
            entity.available = True
            entity.restored = False
            entity.last_updated = ts
            self._record(entity)
            self._emit(entity)

    def _record(self, entity: Entity) -> None:
        history = entity.history
        history.append((entity.last_updated, dict(entity.state), entity.available))
        horizon = entity.last_updated - self.history_max_age
        while history and history[0][0] < horizon:
            history.popleft()

    # --- availability ---------------------------------------------------------------------------

    def check_availability(self, now: float | None = None) -> list[str]:
        """Mark entities whose status is overdue unavailable; returns their ids."""
        now = self._clock() if now is None else now
        gone = []
        for entity in self._entities.values():
            if entity.available and now > entity.deadline:
                entity.available = False
                entity.last_updated = self._wall()  # a change; ``last_seen`` keeps the status
                self._record(entity)
                self._emit(entity)
                gone.append(entity.entity_id)
        return gone

    # --- history, unmapped, unknown -------------------------------------------------------------

    def history(
        self, entity_id: str, since: float | None = None, limit: int | None = None
    ) -> list[dict[str, Any]]:
        """Changes of one entity, oldest first, within the age limit (newest ``limit``).

        Raises:
            KeyError: no such entity.
        """
        entity = self._entities[entity_id]
        horizon = self._wall() - self.history_max_age
        if since is not None:
            horizon = max(horizon, since)
        rows = [
            {"timestamp": ts, "state": state, "available": available}
            for ts, state, available in entity.history
            if ts >= horizon
        ]
        if limit is not None:
            rows = rows[-limit:] if limit > 0 else []
        return rows

    def _track_unmapped(self, message: DecodedMessage, ts: float) -> None:
        key = (message.dgn, message.instance)
        record = self._unmapped.get(key)
        if record is None:
            if len(self._unmapped) >= self.unmapped_limit:
                self._unmapped.popitem(last=False)
                self.stats["unmapped_dropped"] += 1
            record = {
                "dgn": f"{message.dgn:05X}",
                "name": message.name,
                "instance": message.instance,
                "sources": [],
                "count": 0,
                "first_seen": ts,
            }
            self._unmapped[key] = record
        else:
            self._unmapped.move_to_end(key)
        record["count"] += 1
        record["last_seen"] = ts
        record["source"] = message.source
        _add_source(record["sources"], message.source)
        if record.get("signals") != message.signals:
            record["changed_at"] = ts  # the wizard highlights the instance a switch changes
            record["signals"] = message.signals
            record["message"] = message  # labels and raw are derived when the record is read

    def _track_unknown(self, message: DecodedMessage, ts: float) -> None:
        record = self._unknown.get(message.dgn)
        if record is None:
            if len(self._unknown) >= self.unknown_dgn_limit:
                self._unknown.popitem(last=False)
                self.stats["unknown_dropped"] += 1
            record = {
                "dgn": f"{message.dgn:05X}",
                "name": message.name,
                "sources": [],
                "count": 0,
                "first_seen": ts,
            }
            self._unknown[message.dgn] = record
        else:
            self._unknown.move_to_end(message.dgn)
        record["count"] += 1
        record["last_seen"] = ts
        record["last_data"] = message.data.hex().upper()
        _add_source(record["sources"], message.source)

    def unmapped(self) -> list[dict[str, Any]]:
        """(DGN, instance) pairs of known DGNs that no entity claims, most recent last, with the
        ``signals``, ``labels`` and ``raw`` of the last frame that changed them."""
        return [_unmapped_view(r) for r in self._unmapped.values()]

    @property
    def unmapped_count(self) -> int:
        """How many (DGN, instance) pairs :meth:`unmapped` lists."""
        return len(self._unmapped)

    def unknown_dgns(self) -> list[dict[str, Any]]:
        """DGNs seen that the specification does not define, most recent last."""
        return [dict(r, sources=list(r["sources"])) for r in self._unknown.values()]

    # --- persistence and user overrides ---------------------------------------------------------

    def restore_state(self, entity_id: str, state: dict[str, Any], last_updated: float) -> bool:
        """Show a saved state until the bus speaks: marked ``restored``, not available.

        Ignored (returns False) for unknown entities and entities that already have live state.
        """
        entity = self._entities.get(entity_id)
        if entity is None or entity.available:
            return False
        entity.state = dict(state)
        entity.restored = True
        entity.last_updated = last_updated
        self._emit(entity)
        return True

    def apply_override(
        self,
        entity_id: str,
        name: str | None = None,
        area: str | None = None,
        hidden: bool | None = None,
    ) -> Entity:
        """Apply a user's name, area or hidden flag over the mapping.

        Raises:
            KeyError: no such entity.
        """
        entity = self._entities[entity_id]
        fields: dict[str, Any] = {
            k: v for k, v in (("name", name), ("area", area), ("hidden", hidden)) if v is not None
        }
        self._overrides.setdefault(entity_id, {}).update(fields)
        self._override(entity, **fields)
        self._notify(self._override_listeners, entity)
        return entity

    def _override(
        self,
        entity: Entity,
        name: str | None = None,
        area: str | None = None,
        hidden: bool | None = None,
    ) -> None:
        if name is not None:
            entity.name = name
        if area is not None:
            entity.area = area
            self.areas.setdefault(area, area.replace("_", " ").title())
        if hidden is not None:
            entity.hidden = hidden

    def filter(
        self,
        entity_type: str | None = None,
        area: str | None = None,
        query: str | None = None,
        changed_since: float | None = None,
        include_hidden: bool = False,
    ) -> Iterable[Entity]:
        """Entities matching every filter given (``query``: in id or name, case-insensitive)."""
        q = query.lower() if query else None
        for entity in self._entities.values():
            if entity.hidden and not include_hidden:
                continue
            if entity_type and entity.entity_type != entity_type:
                continue
            if area and entity.area != area:
                continue
            if q and q not in entity.entity_id.lower() and q not in entity.name.lower():
                continue
            if changed_since is not None and entity.last_updated <= changed_since:
                continue
            yield entity


def _add_source(sources: list[int], source: int) -> None:
    if source not in sources and len(sources) < MAX_SOURCES:
        sources.append(source)


def _remove(items: list[Any], item: Any) -> None:
    with contextlib.suppress(ValueError):
        items.remove(item)
