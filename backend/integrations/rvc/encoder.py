"""Encoding: engineering values or labels -> (arbitration id, data), the decoder's inverse."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from backend.integrations.rvc.errors import (
    EncodeError,
    SignalValueError,
    UnknownDGNError,
    UnknownSignalError,
)
from backend.integrations.rvc.fields import Field
from backend.integrations.rvc.frame_id import build_can_id
from backend.integrations.rvc.spec import DgnDefinition, RVCSpec
from backend.integrations.rvc.special import TABLE_ALLOWED, TABLE_DGNS, tank_geometry_entries

FRAME_BYTES = 8
MAX_MESSAGE_BYTES = 1785


class Encoder:
    """Builds frames from a specification; every field not given is sent as all ones."""

    __slots__ = ("spec",)

    def __init__(self, spec: RVCSpec) -> None:
        self.spec = spec

    def definition(self, dgn_or_name: int | str) -> DgnDefinition:
        """The definition of a DGN given by number, name or hex string.

        Raises:
            UnknownDGNError: no such DGN.
        """
        definition = self.spec.get(dgn_or_name)
        if definition is None:
            raise UnknownDGNError(dgn_or_name, sorted(self.spec.by_name))
        return definition

    def encode(
        self,
        dgn_or_name: int | str,
        signals: Mapping[str, Any] | None = None,
        *,
        instance: int | None,
        source_address: int,
        priority: int | None = None,
        destination: int | None = None,
    ) -> tuple[int, bytes]:
        """Encode one message.

        Args:
            dgn_or_name: DGN number (``0x1FEDB``), name (``"DC_DIMMER_COMMAND_2"``) or hex str.
            signals: signal name -> value in the spec's unit, a label, or None (not available).
            instance: the instance for a multi-instance DGN (None for single-instance DGNs).
            source_address: the sender's address.
            priority: 0-7; the DGN's default priority when None.
            destination: for destination-specific (PDU1) DGNs; the spec's fixed destination or
                255 (global) when None.

        Returns:
            ``(arbitration_id, data)``: 8 bytes, or more for a multi-packet DGN whose values do
            not fit a frame (send those with ``transport.packetize``).

        Raises:
            UnknownDGNError, UnknownSignalError, SignalValueError, AddressError: the arguments
                name what does not exist or is out of range; the message lists what is allowed.
        """
        definition = self.definition(dgn_or_name)
        data = self.encode_data(definition, signals, instance=instance)
        if destination is None:
            destination = definition.destination
        can_id = build_can_id(
            definition.priority if priority is None else priority,
            definition.dgn,
            source_address,
            destination,
        )
        return can_id, data

    def encode_data(
        self,
        definition: DgnDefinition,
        signals: Mapping[str, Any] | None,
        *,
        instance: int | None = None,
    ) -> bytes:
        """The data field of ``definition`` with ``signals`` set and all other bits ones."""
        values = dict(signals or {})
        name = definition.name
        if definition.instance is not None:
            if instance is not None:
                field = definition.by_name[definition.instance]
                given = values.get(definition.instance, instance)
                if field.to_raw(given) != field.to_raw(instance):
                    raise SignalValueError(
                        name, definition.instance, given, f"the instance argument ({instance})"
                    )
                values[definition.instance] = instance
        elif instance is not None:
            raise EncodeError(f"{name} is single-instance; instance must be None")

        entries: bytes | None = None
        if definition.dgn in TABLE_DGNS and "table" in values:
            # TANK_GEOMETRY_*: every point of the table (6.28.4b), as ``signals.table`` decodes
            entries = tank_geometry_entries(values.pop("table"))
            if entries is None:
                raise SignalValueError(name, "table", "the value given", TABLE_ALLOWED)
            given = sorted(k for k in values if k.startswith("point_"))
            if given:
                raise EncodeError(f"{name}: give the points in table or as {given[0]}, not both")
            values.setdefault("number_of_entries", len(entries) // 4)
        fields = self._fields_in_play(definition, values)
        by_name = {f.name: f for f in fields}
        for key in values:
            if key not in by_name:
                raise UnknownSignalError(name, key, [f.name for f in fields])

        length = max([FRAME_BYTES, *(f.end_byte for f in fields if f.width is not None)])
        if entries is not None:
            length = max(FRAME_BYTES, 2 + len(entries))
        tail: bytes = b""
        for f in fields:
            if f.width is None and f.name in values:
                tail = _text_bytes(name, f, values[f.name])
                length = max(length, f.byte + len(tail))
        if length > MAX_MESSAGE_BYTES:
            raise EncodeError(f"{name}: {length} bytes exceeds the {MAX_MESSAGE_BYTES}-byte limit")

        v = (1 << (8 * length)) - 1
        for key, value in values.items():
            f = by_name[key]
            if f.is_int:
                raw = f.to_raw(value)
                if raw is None:
                    raise SignalValueError(name, key, value, f.allowed())
                v = (v & ~(f.mask << f.start)) | (raw << f.start)
        data = bytearray(v.to_bytes(length, "little"))
        for key, value in values.items():
            f = by_name[key]
            if not f.is_int:
                chunk = tail if f.width is None else _text_bytes(name, f, value)
                data[f.byte : f.byte + len(chunk)] = chunk
        if entries is not None:
            data[2 : 2 + len(entries)] = entries
        return bytes(data)

    @staticmethod
    def _fields_in_play(definition: DgnDefinition, values: Mapping[str, Any]) -> tuple[Field, ...]:
        """Base fields plus the variant case chosen by the selector value, if any."""
        variants = definition.variants
        if variants is None:
            return definition.fields
        sel = variants.selector
        if sel.name not in values:
            return definition.fields
        raw = sel.to_raw(values[sel.name])
        if raw is None:
            raise SignalValueError(definition.name, sel.name, values[sel.name], sel.allowed())
        return definition.fields + variants.cases.get(raw, ())


def _text_bytes(dgn_name: str, f: Field, value: Any) -> bytes:
    """Bytes of an ascii (str, ISO 8859-1) or bytes (bytes or hex str) field, padded with FF."""
    try:
        if f.type == "ascii":
            if not isinstance(value, str):
                raise TypeError
            chunk = value.encode("latin-1")
        elif isinstance(value, bytes | bytearray):
            chunk = bytes(value)
        elif isinstance(value, str):
            chunk = bytes.fromhex(value)
        else:
            raise TypeError
    except (TypeError, ValueError, UnicodeEncodeError):
        raise SignalValueError(dgn_name, f.name, value, f.allowed()) from None
    if f.width is not None:
        size = f.width // 8
        if len(chunk) > size:
            raise SignalValueError(dgn_name, f.name, value, f.allowed())
        chunk = chunk + b"\xff" * (size - len(chunk))
    return chunk
