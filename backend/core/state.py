"""AppState: runtime facts about one running application (start time, counters)."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

from backend.core.config import Settings


@dataclass(slots=True)
class AppState:
    """Runtime state shared by the features of one application instance."""

    settings: Settings
    started_monotonic: float = field(default_factory=time.monotonic)
    started_at: float = field(default_factory=time.time)
    security: Any = None  # the SecurityService create_app builds (the MQTT bridge audits with it)

    @property
    def uptime_seconds(self) -> float:
        """Seconds since the application was created."""
        return time.monotonic() - self.started_monotonic
