"""The bridge's topic layout: one place that names every topic it reads or writes."""

from __future__ import annotations

import re
from dataclasses import dataclass

_UNSAFE = re.compile(r"[^A-Za-z0-9_-]+")

STOP_ALL = "stop_all"  # the coach-wide Stop button's topic level (entity ids always hold a '.')


def slug(text: str) -> str:
    """The ``[A-Za-z0-9_-]`` form of an id or a host name: ``light.porch`` -> ``light_porch``."""
    return _UNSAFE.sub("_", text).strip("_") or "coach"


@dataclass(frozen=True, slots=True)
class Topics:
    """Topics of one coach: ``<prefix>/<coach_id>/...`` and ``<discovery_prefix>/...``."""

    prefix: str
    coach_id: str
    discovery_prefix: str = "homeassistant"

    @property
    def base(self) -> str:
        """``<prefix>/<coach_id>``."""
        return f"{self.prefix}/{self.coach_id}"

    @property
    def status(self) -> str:
        """The bridge's ``online``/``offline`` topic (retained; the last will)."""
        return f"{self.base}/status"

    @property
    def manifest(self) -> str:
        """What the bridge last announced (retained), to remove what the mapping lost."""
        return f"{self.base}/bridge/manifest"

    @property
    def sync(self) -> str:
        """A topic the bridge publishes to itself to know retained messages have arrived."""
        return f"{self.base}/bridge/sync"

    @property
    def safety(self) -> str:
        """The coach's motion-safety state: parked, lockouts, alert (retained)."""
        return f"{self.base}/safety/state"

    @property
    def birth(self) -> str:
        """Home Assistant's birth/will topic."""
        return f"{self.discovery_prefix}/status"

    @property
    def set_filter(self) -> str:
        """Subscription filter of every command topic."""
        return f"{self.base}/+/set"

    def state(self, entity_id: str) -> str:
        """An entity's retained state topic."""
        return f"{self.base}/{entity_id}/state"

    def set(self, entity_id: str) -> str:
        """An entity's command topic."""
        return f"{self.base}/{entity_id}/set"

    def result(self, entity_id: str) -> str:
        """An entity's command result topic."""
        return f"{self.base}/{entity_id}/result"

    def target_of(self, topic: str) -> str | None:
        """The entity id (or ``stop_all``) of a command topic, else None."""
        head = f"{self.base}/"
        if not topic.startswith(head) or not topic.endswith("/set"):
            return None
        target = topic[len(head) : -len("/set")]
        return target if target and "/" not in target else None

    def device_id(self, entity_id: str) -> str:
        """The Home Assistant device id of an entity: ``<coach_id>_<entity slug>``."""
        return f"{self.coach_id}_{slug(entity_id)}"

    @property
    def coach_device_id(self) -> str:
        """The Home Assistant device id of the coach itself (bridge status, Stop all)."""
        return f"{self.coach_id}_coach"

    def device_config(self, device_id: str) -> str:
        """A device's discovery config topic."""
        return f"{self.discovery_prefix}/device/{device_id}/config"
