"""Frame decoding: per-DGN decoders compiled at load time, and the decoded message record.

Each DGN's fields are turned, once, into a small generated Python function (the technique the
standard library's ``dataclasses`` uses for ``__init__``): fields of up to 8 bits become a lookup
in a precomputed tuple of all their decoded values (label, scaled number or ``None``; one lookup
for all the fields sharing a byte), wider fields one shift, one mask, one comparison against the
special values and one exact conversion, all written into one dict display. Decoding a frame is
then a dict lookup on the CAN id and one call. Flags (error / out of range / reserved) are
derived from the data when asked for (``DecodedMessage.flags``), off the hot path.
"""

from __future__ import annotations

from collections.abc import Callable
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


class DecodedMessage:
    """One decoded RV-C message.

    ``signals`` maps every signal name to its decoded value (a label, a number in the spec's
    unit, or None), in the order of ``definition.signal_names``, plus any variant or
    special-handling signals (DM_RV ``dtcs``, PRODUCT_ID ``make`` ...); it is empty for an
    unknown DGN. The generated decoders build it directly, as a dict display.

    ``values``, ``priority``, ``source``, ``destination``, ``name``, ``units``, ``instance`` and
    ``flags`` are derived on access from the id, the data and the definition, so decoding
    allocates only the message and its signals dict.

    The class has no Python ``__init__`` (an instance with one costs about twice as much to
    create on CPython 3.12): the generated decoders make a blank instance and set its slots;
    other code uses :meth:`create`.
    """

    __slots__ = ("can_id", "data", "definition", "dgn", "error", "signals")

    can_id: int
    dgn: int
    data: bytes
    signals: dict[str, Any]
    definition: DgnDefinition | None
    error: Flags | None

    @classmethod
    def create(
        cls,
        can_id: int,
        dgn: int,
        data: bytes,
        signals: dict[str, Any],
        definition: DgnDefinition | None = None,
        error: Flags | None = None,
    ) -> DecodedMessage:
        """A message from its parts (the generated decoders set the slots themselves)."""
        message = cls()
        message.can_id = can_id
        message.dgn = dgn
        message.data = data
        message.signals = signals
        message.definition = definition
        message.error = error
        return message

    def __repr__(self) -> str:
        return (
            f"DecodedMessage(can_id=0x{self.can_id:08X}, dgn=0x{self.dgn:05X}, name={self.name!r},"
            f" data={self.data!r}, signals={self.signals!r}, error={self.error!r})"
        )

    def __eq__(self, other: object) -> bool:
        if type(other) is not DecodedMessage:
            return NotImplemented
        return (
            self.can_id == other.can_id
            and self.dgn == other.dgn
            and self.data == other.data
            and self.signals == other.signals
            and self.definition is other.definition
            and self.error == other.error
        )

    __hash__ = None  # type: ignore[assignment]  # mutable, compared by value

    @property
    def values(self) -> tuple[Any, ...] | None:
        """The decoded values in the order of ``definition.signal_names``.

        None for an unknown DGN and for data that could not be read at all.
        """
        definition = self.definition
        if definition is None or (self.error is not None and not self.signals):
            return None
        signals = self.signals
        return tuple([signals.get(name) for name in definition.signal_names])

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
    def labels(self) -> dict[str, str]:
        """Signal name -> the spec's name of its value, for numeric signals whose value the spec
        names (``{"instance": "fresh_water"}``, ``{"delay_duration": "5_min"}``); derived from
        the data when asked for."""
        if self.definition is None or self.error is not None:
            return {}
        return message_labels(self.definition, self.data)

    @property
    def raw(self) -> dict[str, int]:
        """Enumeration signal name -> its raw integer (``{"operating_mode": 1}``), for every
        enumeration the data holds, whether named, special or undefined."""
        if self.definition is None or self.error is not None:
            return {}
        return message_raw(self.definition, self.data)

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
        definition = self.definition
        if definition is None:
            return None
        at = definition.instance_at
        if at is None:
            return None
        byte, start, mask, end_byte, na, single_byte = at
        data = self.data
        if end_byte > len(data):
            return None
        if single_byte:
            raw = (data[byte] >> (start - 8 * byte)) & mask
        else:
            raw = (int.from_bytes(data, "little") >> start) & mask
        return None if raw == na else raw

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
            "labels": self.labels,
            "raw": self.raw,
            "units": {k: u for k, u in units.items() if k in self.signals},
        }
        flags = self.flags
        if flags:
            record["flags"] = dict(flags)
        return record


_create = DecodedMessage.create


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
    """Signal name -> special condition for the fields of ``data`` holding one; None if none.

    The conditions: ``out_of_range``, ``reserved``, ``error`` (the data type's special values)
    and ``undefined`` (an enumeration's raw value that the spec does not name).
    """
    v = int.from_bytes(data, "little")
    n = len(data)
    flags: Flags = {}
    for fields in (definition.fields, _case(definition, data, v)):
        for f in fields:
            if (f.flagged or f.json_type == "string") and f.is_int and f.end_byte <= n:
                cond = f.flag((v >> f.start) & f.mask)
                if cond is not None:
                    flags[f.name] = cond
    return flags or None


def message_labels(definition: DgnDefinition, data: bytes) -> dict[str, str]:
    """Numeric signal name -> the spec's name of its value, for the named values in ``data``."""
    v = int.from_bytes(data, "little")
    n = len(data)
    labels: dict[str, str] = {}
    for fields in (definition.named_fields, _case(definition, data, v)):
        for f in fields:
            if f.labels and f.json_type != "string" and f.end_byte <= n:
                label = f.labels.get((v >> f.start) & f.mask)
                if label is not None:
                    labels[f.name] = label
    return labels


def message_raw(definition: DgnDefinition, data: bytes) -> dict[str, int]:
    """Enumeration signal name -> raw integer, for every enumeration ``data`` holds."""
    v = int.from_bytes(data, "little")
    n = len(data)
    raw: dict[str, int] = {}
    for fields in (definition.enum_fields, _case(definition, data, v)):
        for f in fields:
            if f.json_type == "string" and f.is_int and f.end_byte <= n:
                raw[f.name] = (v >> f.start) & f.mask
    return raw


# --- generated fast decoders --------------------------------------------------------------------


def _general_decoder(dgn: int, definition: DgnDefinition) -> FrameDecoder:
    """The frame decoder for data the generated decoder does not take (short, not bytes)."""

    def decode(arbitration_id: int, data: Any) -> DecodedMessage:
        can_id = arbitration_id & CAN_ID_MASK
        if type(data) is not bytes:
            try:
                data = coerce_data(data)
            except (TypeError, ValueError):
                return _create(can_id, dgn, b"", {}, definition, {"data": "invalid"})
        return _create(can_id, dgn, data, decode_generic(definition, data), definition)

    return decode


def _unknown_decoder(dgn: int) -> FrameDecoder:
    """The frame decoder of a DGN the specification does not define."""

    def decode(arbitration_id: int, data: Any) -> DecodedMessage:
        can_id = arbitration_id & CAN_ID_MASK
        if type(data) is not bytes:
            try:
                data = coerce_data(data)
            except (TypeError, ValueError):
                return _create(can_id, dgn, b"", {}, None, {"data": "invalid"})
        return _create(can_id, dgn, data, {})

    return decode


def _combined_table(fields: list[Field], lo: int) -> tuple[tuple[Any, ...], ...]:
    """Every value of the bits ``lo`` and up of one byte -> the decoded values of ``fields``."""
    top = max(f.bit + f.mask.bit_length() for f in fields)
    tables = [(f.bit, f.mask, f.table()) for f in fields]
    return tuple(
        tuple(table[(x << lo) >> bit & mask] for bit, mask, table in tables)
        for x in range(1 << (top - lo))
    )


def build_frame_decoder(
    definition: DgnDefinition,
    dgn: int | None = None,
    tables: dict[Any, tuple[tuple[Any, ...], ...]] | None = None,
) -> FrameDecoder:
    """Generate the frame decoder of ``definition``: ``(arbitration_id, data) -> message``.

    Complete frames (``bytes`` holding every field) take the generated path, which builds the
    signals dict as one dict display with constant keys (presized, several times faster than
    ``dict(zip(names, values))``) and fills a blank message's slots; anything else, and DGNs
    with variants or open-ended text, take :func:`decode_generic`.

    A byte that holds several fields (four 2-bit states, say) is decoded by one lookup in a
    table of tuples, unpacked into locals. ``tables`` shares identical tables between DGNs.
    """
    dgn = definition.dgn if dgn is None else dgn
    general = _general_decoder(dgn, definition)
    fields = definition.fields
    if definition.variants is not None or any(f.width is None for f in fields) or not fields:
        return general
    if tables is None:
        tables = {}
    min_len = max(f.end_byte for f in fields)
    env: dict[str, Any] = {
        "_from_bytes": int.from_bytes,
        "_bytes": bytes,
        "_general": general,
        "_message": DecodedMessage,
        "_definition": definition,
    }
    by_byte: dict[int, list[Field]] = {}
    for f in fields:
        if f.single_byte:
            by_byte.setdefault(f.byte, []).append(f)
    prelude: list[str] = []  # one lookup per byte holding several fields, unpacked into locals
    local: dict[int, str] = {}  # id(field) -> its local
    for byte, group in sorted(by_byte.items()):
        if len(group) < 2:
            continue
        lo = min(f.bit for f in group)
        key = (lo, tuple((f.bit, f.mask, f.table()) for f in group))
        table = tables.get(key)
        if table is None:
            table = tables[key] = _combined_table(group, lo)
        env[f"C{byte}"] = table
        names = [f"x{byte}_{k}" for k in range(len(group))]
        local.update((id(f), name) for f, name in zip(group, names, strict=True))
        index = f"d[{byte}] >> {lo}" if lo else f"d[{byte}]"
        if len(table) < 256 >> lo:
            index = f"{index} & {len(table) - 1}"
        prelude.append(f"        {', '.join(names)} = C{byte}[{index}]")
    entries: list[str] = []
    needs_v = False
    for i, f in enumerate(fields):
        if not f.is_int:
            env[f"B{i}"] = f.bytes_value
            entries.append(f"B{i}(d)")
            continue
        if id(f) in local:
            entries.append(local[id(f)])
            continue
        if f.single_byte:
            mask = f.mask
            byte = f"d[{f.byte}]"
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
    lines += prelude
    items = ", ".join(
        f"{name!r}: {entry}" for name, entry in zip(definition.signal_names, entries, strict=True)
    )
    lines.append(f"        s = {{{items}}}")
    lines.append("    except IndexError:")
    lines.append("        return _general(can_id, d)")
    extra = EXTRAS.get(definition.dgn)
    if extra is not None:
        env["_extra"] = extra
        lines.append("    _extra(d, s)")
    lines += [
        "    m = _message()",
        f"    m.can_id = can_id & {CAN_ID_MASK}",
        f"    m.dgn = {dgn}",
        "    m.data = d",
        "    m.signals = s",
        "    m.definition = _definition",
        "    m.error = None",
        "    return m",
    ]
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
        tables: dict[Any, tuple[tuple[Any, ...], ...]] = {}  # shared between DGNs
        self._decoders: dict[int, FrameDecoder] = {
            dgn: build_frame_decoder(d, tables=tables) for dgn, d in spec.by_dgn.items()
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
            try:
                decoder = self._ids[arbitration_id]  # a dict subscript: cheaper than .get()
            except KeyError:
                decoder = self._resolve(arbitration_id)
            return decoder(arbitration_id, data)
        except Exception as exc:  # the decoder's contract: a frame never raises
            return _failed(arbitration_id, data, exc)


def _failed(arbitration_id: object, data: object, exc: Exception) -> DecodedMessage:
    """The record of a frame that could not be decoded at all."""
    can_id = arbitration_id & CAN_ID_MASK if isinstance(arbitration_id, int) else 0
    raw = data if isinstance(data, bytes) else b""
    dgn = (can_id >> 8) & 0x1FFFF
    return _create(can_id, dgn, raw, {}, None, {"decode": type(exc).__name__})
