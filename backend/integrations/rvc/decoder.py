"""Frame decoding: per-DGN decoders compiled at load time, and the decoded message record.

Each DGN's fields are turned, once, into a small generated Python function (the technique the
standard library's ``dataclasses`` uses for ``__init__``): fields of up to 8 bits become a lookup
in a precomputed tuple of all their decoded values (label, scaled number or ``None``), wider fields
one shift, one mask, one comparison against the special values and one exact conversion. Decoding
a frame is then a dict lookup on the CAN id and one call. Flags (error / out of range / reserved)
are derived from the data when asked for (``DecodedMessage.flags``), off the hot path.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from dataclasses import fields as dataclass_fields
from types import MappingProxyType
from typing import Any

from backend.integrations.rvc.fields import Field
from backend.integrations.rvc.frame_id import CAN_ID_MASK, PDU2_THRESHOLD
from backend.integrations.rvc.spec import PROPRIETARY, DgnDefinition, RVCSpec
from backend.integrations.rvc.special import EXTRAS

FrameDecoder = Callable[[int, Any], "DecodedMessage"]
Flags = dict[str, str]

_EMPTY_UNITS: MappingProxyType[str, str] = MappingProxyType({})
_ID_CACHE_MAX = 8192


def is_proprietary(dgn: int) -> bool:
    """True for the proprietary DGN ranges (EF00 / 1EF00 with any destination, 0FF00-0FFFF)."""
    return (dgn & 0xFF00) == 0xEF00 or (dgn >> 8) == 0x0FF


@dataclass(slots=True)
class DecodedMessage:
    """One decoded RV-C message.

    ``values`` holds every decoded value (a label, a number in the spec's unit, or None) in the
    order of ``definition.signal_names`` (None for an unknown DGN); ``signals`` is the same as a
    name -> value dict, built on first access, plus any variant or special-handling signals
    (DM_RV ``dtcs``, PRODUCT_ID ``make`` ...).

    ``priority``, ``source``, ``destination``, ``name``, ``units``, ``instance`` and ``flags``
    are derived on access from the id, the data and the definition, so decoding allocates only
    the values.
    """

    can_id: int
    dgn: int
    data: bytes
    values: tuple[Any, ...] | None
    definition: DgnDefinition | None = None
    error: Flags | None = None
    _signals: dict[str, Any] | None = field(default=None, repr=False, compare=False)

    @property
    def signals(self) -> dict[str, Any]:
        """Signal name -> value (label, number in the spec's unit, or None)."""
        signals = self._signals
        if signals is None:
            definition = self.definition
            if self.values is None or definition is None or definition.build_signals is None:
                signals = {}
            else:
                signals = definition.build_signals(self.values, self.data)
            self._signals = signals
        return signals

    @property
    def flags(self) -> Flags | None:
        """Signal name -> special condition (``out_of_range``, ``reserved``, ``error``) of the
        signals that decoded to None for a reason other than "not available"; None if none."""
        if self.error is not None:
            return self.error
        if self.definition is None:
            return None
        return message_flags(self.definition, self.data)

    @property
    def priority(self) -> int:
        """Priority 0 (highest) to 7."""
        return self.can_id >> 26

    @property
    def source(self) -> int:
        """Source address."""
        return self.can_id & 0xFF

    @property
    def destination(self) -> int | None:
        """Destination address of a PDU1 (destination-specific) DGN, else None."""
        if ((self.can_id >> 16) & 0xFF) < PDU2_THRESHOLD:
            return (self.can_id >> 8) & 0xFF
        return None

    @property
    def name(self) -> str | None:
        """The DGN's name, ``PROPRIETARY`` for an unknown proprietary DGN, else None."""
        if self.definition is not None:
            return self.definition.name
        return PROPRIETARY if is_proprietary(self.dgn) else None

    @property
    def units(self) -> MappingProxyType[str, str]:
        """Signal name -> unit, for the signals of this DGN that have one."""
        return self.definition.units if self.definition is not None else _EMPTY_UNITS

    @property
    def instance(self) -> int | None:
        """The instance number (raw, even where the spec labels it), or None.

        None for single-instance and unknown DGNs, and when the instance is "not available".
        """
        if self.definition is None or self.definition.instance is None:
            return None
        f = self.definition.by_name.get(self.definition.instance)
        if f is None or not f.is_int or f.end_byte > len(self.data):
            return None
        raw = (int.from_bytes(self.data, "little") >> f.start) & f.mask
        return None if raw == f.na else raw

    def to_record(self) -> dict[str, Any]:
        """The JSON-ready record ``coachiq decode`` prints (without timestamp and interface)."""
        units = self.units
        record: dict[str, Any] = {
            "can_id": f"{self.can_id:08X}",
            "priority": self.priority,
            "dgn": f"{self.dgn:05X}",
            "name": self.name,
            "source": self.source,
            "destination": self.destination,
            "data": self.data.hex().upper(),
            "signals": dict(self.signals),
            "units": {k: u for k, u in units.items() if k in self.signals},
        }
        flags = self.flags
        if flags:
            record["flags"] = dict(flags)
        return record


# --- generic (reference) decoding ---------------------------------------------------------------


def _decode_fields(fields: tuple[Field, ...], data: bytes, v: int, signals: dict[str, Any]) -> None:
    """Decode ``fields`` into ``signals``; fields beyond the data become None."""
    n = len(data)
    for f in fields:
        if f.end_byte > n:
            signals[f.name] = None
        elif f.is_int:
            signals[f.name] = f.value((v >> f.start) & f.mask)
        else:
            signals[f.name] = f.bytes_value(data)


def _case(definition: DgnDefinition, data: bytes, v: int) -> tuple[Field, ...]:
    """The variant fields selected by the selector's value (empty when none apply)."""
    variants = definition.variants
    if variants is None or variants.selector.end_byte > len(data):
        return ()
    sel = variants.selector
    return variants.cases.get((v >> sel.start) & sel.mask, ())


def decode_generic(definition: DgnDefinition, data: bytes) -> dict[str, Any]:
    """Decode any length of data field by field (short frames, multi-packet, variants)."""
    v = int.from_bytes(data, "little")
    signals: dict[str, Any] = {}
    _decode_fields(definition.fields, data, v, signals)
    case = _case(definition, data, v)
    if case:
        _decode_fields(case, data, v, signals)
    extra = EXTRAS.get(definition.dgn)
    if extra is not None:
        extra(data, signals)
    return signals


def message_flags(definition: DgnDefinition, data: bytes) -> Flags | None:
    """Signal name -> special condition for the fields of ``data`` holding one; None if none."""
    v = int.from_bytes(data, "little")
    n = len(data)
    flags: Flags = {}
    for fields in (definition.fields, _case(definition, data, v)):
        for f in fields:
            if f.flagged and f.end_byte <= n:
                cond = f.flagged.get((v >> f.start) & f.mask)
                if cond is not None:
                    flags[f.name] = cond
    return flags or None


# Fields of DecodedMessage the generated decoders do not compute, with their defaults.
_MESSAGE_DEFAULTS: dict[str, Any] = {
    f.name: f.default
    for f in dataclass_fields(DecodedMessage)
    if f.name not in ("can_id", "dgn", "data", "values", "definition")
}
assert all(v is None for v in _MESSAGE_DEFAULTS.values())  # repr() of the default is source


# --- generated fast decoders --------------------------------------------------------------------


def _general_decoder(dgn: int, definition: DgnDefinition) -> FrameDecoder:
    """The frame decoder for data the generated decoder does not take (short, not bytes)."""
    names = definition.signal_names

    def decode(arbitration_id: int, data: Any) -> DecodedMessage:
        can_id = arbitration_id & CAN_ID_MASK
        if type(data) is not bytes:
            try:
                data = coerce_data(data)
            except (TypeError, ValueError):
                return DecodedMessage(can_id, dgn, b"", None, definition, {"data": "invalid"})
        signals = decode_generic(definition, data)
        values = tuple([signals[name] for name in names])
        return DecodedMessage(can_id, dgn, data, values, definition, None, signals)

    return decode


def _unknown_decoder(dgn: int) -> FrameDecoder:
    """The frame decoder of a DGN the specification does not define."""

    def decode(arbitration_id: int, data: Any) -> DecodedMessage:
        can_id = arbitration_id & CAN_ID_MASK
        if type(data) is not bytes:
            try:
                data = coerce_data(data)
            except (TypeError, ValueError):
                return DecodedMessage(can_id, dgn, b"", None, None, {"data": "invalid"})
        return DecodedMessage(can_id, dgn, data, None)

    return decode


def build_signals_builder(
    definition: DgnDefinition,
) -> Callable[[tuple[Any, ...], bytes], dict[str, Any]]:
    """Generate ``(values, data) -> signals dict`` for the fields of ``definition``.

    A dict display with constant keys is built presized, several times faster than
    ``dict(zip(names, values))``; DGNs with special handling (DM_RV) add their extra signals.
    """
    names = definition.signal_names
    local = [f"_{i}" for i in range(len(names))]
    body = ", ".join(f"{name!r}: {var}" for name, var in zip(names, local, strict=True))
    lines = [
        "def _signals(v, d):",
        f"    {', '.join(local)}, = v",
        f"    s = {{{body}}}",
    ]
    env: dict[str, Any] = {}
    extra = EXTRAS.get(definition.dgn)
    if extra is not None:
        env["_extra"] = extra
        lines.append("    _extra(d, s)")
    lines.append("    return s")
    namespace: dict[str, Any] = {}
    exec(compile("\n".join(lines), f"<rvc signals {definition.key}>", "exec"), env, namespace)
    return namespace["_signals"]


def build_frame_decoder(definition: DgnDefinition, dgn: int | None = None) -> FrameDecoder:
    """Generate the frame decoder of ``definition``: ``(arbitration_id, data) -> message``.

    Complete frames (``bytes`` holding every field) take the generated path; anything else, and
    DGNs with variants, open-ended text or special handling, take :func:`decode_generic`.
    """
    dgn = definition.dgn if dgn is None else dgn
    general = _general_decoder(dgn, definition)
    fields = definition.fields
    if definition.variants is not None or any(f.width is None for f in fields) or not fields:
        return general
    definition.build_signals = build_signals_builder(definition)
    min_len = max(f.end_byte for f in fields)
    env: dict[str, Any] = {
        "_from_bytes": int.from_bytes,
        "_bytes": bytes,
        "_general": general,
        "_message": DecodedMessage,
        "_new": object.__new__,
        "_definition": definition,
    }
    entries: list[str] = []
    needs_v = False
    uses: dict[int, int] = {}
    for f in fields:
        if f.single_byte:
            uses[f.byte] = uses.get(f.byte, 0) + 1
    shared = sorted(b for b, n in uses.items() if n > 1)  # bytes read once into a local
    for i, f in enumerate(fields):
        if not f.is_int:
            env[f"B{i}"] = f.bytes_value
            entries.append(f"B{i}(d)")
            continue
        if f.single_byte:
            mask = f.mask
            byte = f"b{f.byte}" if f.byte in shared else f"d[{f.byte}]"
            if f.bit == 0:
                index = byte if mask == 0xFF else f"{byte} & {mask}"
            else:
                index = f"{byte} >> {f.bit} & {mask}"
            env[f"T{i}"] = f.table()
            entries.append(f"T{i}[{index}]")
            continue
        if f.bit == 0 and f.width == 16:
            raw = f"(d[{f.byte}] | d[{f.byte + 1}] << 8)"
        else:
            needs_v = True
            raw = f"(v >> {f.start} & {f.mask})" if f.start else f"(v & {f.mask})"
        if f.labels:
            env[f"F{i}"] = f.value
            entries.append(f"F{i}{raw}")
        elif f.na is not None:
            limit = min([f.na, *f.flagged])
            entries.append(f"({f.conversion.expr('r')} if (r := {raw}) < {limit} else None)")
        else:
            entries.append(f.conversion.expr(raw))
    # A frame shorter than the fields need raises IndexError on d[...]: the generic decoder then
    # gives None for what is missing. int.from_bytes and slices never raise: check the length.
    needs_len = needs_v or any(not f.is_int for f in fields)
    lines = [
        "def _decode(can_id, d):",
        "    if type(d) is not _bytes" + (f" or len(d) < {min_len}:" if needs_len else ":"),
        "        return _general(can_id, d)",
        "    try:",
    ]
    if needs_v:
        lines.append("        v = _from_bytes(d, 'little')")
    for byte in shared:
        lines.append(f"        b{byte} = d[{byte}]")
    values = "(" + ", ".join(entries) + ("," if len(entries) == 1 else "") + ")"
    lines.append(
        f"        return _message(can_id & {CAN_ID_MASK}, {dgn}, d, {values}, _definition)"
    )
    lines.append("    except IndexError:")
    lines.append("        return _general(can_id, d)")
    source = "\n".join(lines)
    namespace: dict[str, Any] = {}
    filename = f"<rvc decoder {definition.key} {definition.name}>"
    exec(compile(source, filename, "exec"), env, namespace)
    fn = namespace["_decode"]
    fn.__source__ = source  # kept for debugging and tests
    return fn


def coerce_data(data: bytes | bytearray | memoryview | str) -> bytes:
    """Data as bytes: bytes-like objects are copied, a str is read as hex (spaces allowed).

    Raises:
        ValueError: ``data`` is a str that is not hex.
        TypeError: ``data`` is of another type.
    """
    if isinstance(data, bytes):
        return data
    if isinstance(data, bytearray | memoryview):
        return bytes(data)
    if isinstance(data, str):
        return bytes.fromhex(data.replace(":", " ").replace(".", " "))
    raise TypeError(f"frame data must be bytes, bytearray or a hex str, not {type(data).__name__}")


class Decoder:
    """Decodes frames with the frame decoders compiled from one specification."""

    __slots__ = ("_decoders", "_ids", "spec")

    def __init__(self, spec: RVCSpec) -> None:
        self.spec = spec
        self._decoders: dict[int, FrameDecoder] = {
            dgn: build_frame_decoder(d) for dgn, d in spec.by_dgn.items()
        }
        # arbitration id -> frame decoder; bounded (cleared when full).
        self._ids: dict[int, FrameDecoder] = {}

    def frame_decoder(self, dgn: int) -> FrameDecoder | None:
        """The compiled frame decoder of ``dgn`` (None for a DGN not in the specification)."""
        return self._decoders.get(dgn)

    def _resolve(self, arbitration_id: int) -> FrameDecoder:
        can_id = arbitration_id & CAN_ID_MASK
        dgn = (can_id >> 8) & 0x1FFFF
        if ((dgn >> 8) & 0xFF) < PDU2_THRESHOLD:
            dgn &= 0x1FF00
        decoder = self._decoders.get(dgn) or _unknown_decoder(dgn)
        if len(self._ids) >= _ID_CACHE_MAX:
            self._ids.clear()
        self._ids[arbitration_id] = decoder
        return decoder

    def decode(
        self, arbitration_id: int, data: bytes | bytearray | memoryview | str
    ) -> DecodedMessage:
        """Decode one frame; never raises.

        Args:
            arbitration_id: the 29-bit extended CAN id (higher bits are ignored).
            data: the data field (0 to 8 bytes for a frame; any length for a reassembled
                multi-packet message), as bytes, bytearray or a hex str.

        Returns:
            The decoded message. An unknown DGN gives ``name`` None (or ``PROPRIETARY``) and no
            signals; a field beyond a short frame's data decodes to None; data that is not
            bytes or hex gives empty data and the flag ``{"data": "invalid"}``.
        """
        try:
            decoder = self._ids.get(arbitration_id)
            if decoder is None:
                decoder = self._resolve(arbitration_id)
            return decoder(arbitration_id, data)
        except Exception as exc:  # the decoder's contract: a frame never raises
            return _failed(arbitration_id, data, exc)


def _failed(arbitration_id: object, data: object, exc: Exception) -> DecodedMessage:
    """The record of a frame that could not be decoded at all."""
    can_id = arbitration_id & CAN_ID_MASK if isinstance(arbitration_id, int) else 0
    raw = data if isinstance(data, bytes) else b""
    dgn = (can_id >> 8) & 0x1FFFF
    return DecodedMessage(can_id, dgn, raw, None, None, {"decode": type(exc).__name__})
