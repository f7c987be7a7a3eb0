"""Property tests: every DGN round-trips through encode/decode; no frame makes decode raise."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from backend.integrations.rvc import DgnDefinition, load_config_data
from backend.integrations.rvc.fields import Field

CONFIG = load_config_data()  # one object for the whole module (other tests clear the cache)
SPEC = CONFIG.spec
DEFINITIONS = sorted(SPEC.by_dgn.values(), key=lambda d: d.dgn)
TEXT = (
    st.text(
        alphabet=st.characters(min_codepoint=0x20, max_codepoint=0x7E, exclude_characters="*"),
        min_size=1,
        max_size=40,
    )
    .map(str.strip)
    .filter(bool)
)


def _value(draw: st.DrawFn, f: Field) -> Any:
    """A value the field can carry, as the encoder takes it (label, number or None)."""
    if f.type == "ascii":
        size = f.width // 8 if f.width else 40
        return draw(TEXT.map(lambda t: t[:size]).filter(bool))
    if f.type == "bytes":
        assert f.width is not None
        return draw(st.binary(min_size=f.width // 8, max_size=f.width // 8)).hex().upper()
    if f.is_enum:  # an enumeration carries its labels only
        return f.labels[draw(st.sampled_from(sorted(f.labels)))]
    raws = st.integers(0, f.max_valid)
    if f.labels:
        raws = st.one_of(raws, st.sampled_from(sorted(f.labels)))
    raw = draw(raws)
    value = f.value(raw)
    # A named value that is not a quantity ("continuous_duration") is sent by its label.
    return f.labels[raw] if value is None and raw in f.labels else value


def _decoded(f: Field, value: Any) -> Any:
    """What the decoder gives for a value the encoder took."""
    if isinstance(value, str) and f.is_int and not f.is_enum:
        return f.value(f.label_to_raw[value])
    return value


@st.composite
def values_for(draw: st.DrawFn, definition: DgnDefinition) -> dict[str, Any]:
    fields = list(definition.fields)
    variants = definition.variants
    if variants is not None:
        case = draw(st.sampled_from(sorted(variants.cases)))
        fields += variants.cases[case]
    chosen = draw(st.lists(st.sampled_from(fields), unique_by=lambda f: f.name))
    values = {f.name: _value(draw, f) for f in chosen}
    if variants is not None:
        values[variants.selector.name] = variants.selector.value(case)
    return values


@pytest.mark.parametrize("definition", DEFINITIONS, ids=lambda d: f"{d.key}-{d.name}")
@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_round_trip_every_dgn(definition: DgnDefinition, data: st.DataObject) -> None:
    rvc = CONFIG
    values = data.draw(values_for(definition))
    instance = None
    if definition.instance is not None:
        inst = definition.by_name[definition.instance]
        raw = inst.to_raw(values.get(definition.instance, 1))
        instance = raw if raw is not None and raw <= inst.max_valid else 1
        values[definition.instance] = inst.value(instance)
    can_id, payload = rvc.encoder.encode(
        definition.dgn, values, instance=instance, source_address=0x80
    )
    decoded = rvc.decode(can_id, payload)
    assert decoded.definition is definition
    for name, sent in values.items():
        got = decoded.signals[name]
        value = _decoded(definition.by_name[name], sent)
        if isinstance(value, float):
            assert got == pytest.approx(value, rel=1e-9, abs=1e-9), name
        else:
            assert got == value, name
    assert decoded.flags is None


@settings(max_examples=3000, deadline=None)
@given(
    can_id=st.integers(min_value=-(2**40), max_value=2**40),
    data=st.one_of(
        st.binary(max_size=8),
        st.binary(max_size=64),
        st.text(max_size=20),
        st.builds(bytearray, st.binary(max_size=8)),
    ),
)
def test_no_frame_makes_decode_raise(can_id: int, data: Any) -> None:
    message = CONFIG.decode(can_id, data)
    record = message.to_record()
    assert len(record["can_id"]) == 8
    _ = message.flags, message.instance, message.signals


@settings(max_examples=2000, deadline=None)
@given(
    definition=st.sampled_from(DEFINITIONS),
    data=st.binary(max_size=8),
    priority=st.integers(0, 7),
    source=st.integers(0, 255),
)
def test_known_dgns_with_any_bytes(
    definition: DgnDefinition, data: bytes, priority: int, source: int
) -> None:
    dgn = definition.dgn | (0xFF if definition.pdu1 else 0)
    can_id = (priority << 26) | (dgn << 8) | source
    message = CONFIG.decode(can_id, data)
    assert message.name == definition.name
    assert message.priority == priority
    assert message.source == source
    assert set(definition.signal_names) <= set(message.signals)
    message.to_record()
