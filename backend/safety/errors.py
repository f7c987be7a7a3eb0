"""Named refusals of motion safety; edges translate them like the other entity errors."""

from __future__ import annotations

from backend.core.entity_errors import EntityError


class MotionRefusedError(EntityError):
    """A motion command refused by the interlock or a device's lockout (HTTP 409)."""

    status_code = 409
    code = "motion_refused"


class RateLimitedError(EntityError):
    """A client sent commands faster than ``COACHIQ_SAFETY__COMMAND_RATE`` (HTTP 429)."""

    status_code = 429
    code = "rate_limited"
