"""ACKNOWLEDGMENT (0E800, spec 3.2.4.4) codes and their meaning (table 7.5)."""

from __future__ import annotations

from typing import Any

ACKNOWLEDGMENT = 0x0E800
# code -> (label in config/rvc.json, meaning as the specification states it)
CODES: dict[int, tuple[str, str]] = {
    0: ("ack", "acknowledged"),
    1: ("nak", "not acknowledged"),
    2: ("command_is_not_acceptable_from_the_source", "command is not acceptable from the source"),
    3: ("conditions_do_not_allow_command_to_be_executed", "conditions do not allow"),
    4: ("command_is_not_formatted_properly", "command is not formatted properly"),
    5: ("command_parameters_are_out_of_range", "out of range"),
    6: ("command_requires_a_security_password", "command requires a security password"),
    7: ("command_requires_more_time_to_execute", "command requires more time"),
    8: ("command_overridden_by_user", "overridden by user"),
}
_BY_LABEL = {label: (code, text) for code, (label, text) in CODES.items()}


def nak_code(value: Any) -> tuple[int, str] | None:
    """(code, meaning) of a decoded acknowledgment code; None for an ACK (0) or nothing."""
    if isinstance(value, str):
        found = _BY_LABEL.get(value)
        if found is None:
            return None
        code, text = found
    elif isinstance(value, int):
        code = value
        if 128 <= code <= 250:
            text = "rejected (a code this command's DGN defines)"
        else:
            text = CODES.get(code, ("", "rejected"))[1]
    else:
        return None
    return None if code == 0 else (code, text)
