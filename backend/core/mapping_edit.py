"""Edits of a coach mapping's YAML text that keep it a file a person can still edit.

ruamel.yaml's round trip keeps comments, key order, anchors and merge keys (``<<: *light``);
an edit appends or replaces items and leaves every other line as the owner wrote it. The result
is text: the loader (:func:`backend.core.coach_mapping.load_mapping`) is what checks it.
"""

from __future__ import annotations

import difflib
import io
import re
from collections.abc import Mapping
from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq
from ruamel.yaml.error import YAMLError

ENTITY_KEY_ORDER = (
    "entity_id",
    "name",
    "type",
    "control",
    "area",
    "instance",
    "instances",
    "capabilities",
    "hidden",
)
_SLUG = re.compile(r"[^a-z0-9]+")


class MappingEditError(Exception):
    """The text cannot be edited (not YAML, or not shaped like a mapping); one line."""


def _yaml() -> YAML:
    yaml = YAML(typ="rt")
    yaml.preserve_quotes = True
    yaml.width = 4096  # never re-wrap the owner's lines
    yaml.indent(mapping=2, sequence=4, offset=2)
    yaml.representer.add_representer(type(None), _represent_none)
    return yaml


def _represent_none(representer: Any, _data: None) -> Any:
    """Write ``null`` as ``null`` (ruamel writes nothing), as the owner did."""
    return representer.represent_scalar("tag:yaml.org,2002:null", "null")


def _load(text: str) -> CommentedMap:
    try:
        data = _yaml().load(text)
    except YAMLError as exc:
        raise MappingEditError(f"not valid YAML: {exc}") from None
    if not isinstance(data, CommentedMap):
        raise MappingEditError("the mapping must be a YAML mapping with 'entities'")
    return data


def _dump(data: CommentedMap) -> str:
    out = io.StringIO()
    _yaml().dump(data, out)
    return out.getvalue()


def slug(text: str) -> str:
    """``Porch light`` -> ``porch_light`` (the part of an entity id after the type)."""
    return _SLUG.sub("_", text.lower()).strip("_")


def _flow(items: Mapping[str, Any]) -> CommentedMap:
    node = CommentedMap(items)
    node.fa.set_flow_style()
    return node


def _entity_node(entity: Mapping[str, Any]) -> CommentedMap:
    node = CommentedMap()
    for key in ENTITY_KEY_ORDER:
        if key in entity and entity[key] is not None:
            value = entity[key]
            if isinstance(value, dict):
                value = _flow(value)
            elif isinstance(value, list | tuple):
                value = CommentedSeq(value)
                value.fa.set_flow_style()
            node[key] = value
    for key, value in entity.items():
        if key not in node and value is not None:
            node[key] = value
    return node


def add_entity(
    text: str, entity: Mapping[str, Any], new_area: tuple[str, str] | None = None
) -> str:
    """``text`` with ``entity`` appended to ``entities`` (replacing one of the same id) and
    ``new_area`` (id, name) appended to ``areas`` when not there yet."""
    data = _load(text)
    if new_area is not None:
        areas = data.get("areas")
        if areas is None:
            areas = CommentedSeq()
            data["areas"] = areas
        if not any(isinstance(a, Mapping) and a.get("id") == new_area[0] for a in areas):
            if not areas:
                areas.fa.set_block_style()
            areas.append(_flow({"id": new_area[0], "name": new_area[1]}))
    entities = data.get("entities")
    if entities is None:
        entities = CommentedSeq()
        data["entities"] = entities
    if not entities:
        entities.fa.set_block_style()
    node = _entity_node(entity)
    for i, item in enumerate(entities):
        if isinstance(item, Mapping) and item.get("entity_id") == entity.get("entity_id"):
            entities[i] = node
            break
    else:
        entities.append(node)
    return _dump(data)


def remove_entity(text: str, entity_id: str) -> str:
    """``text`` without the entity ``entity_id``.

    Raises:
        MappingEditError: no entity has that id.
    """
    data = _load(text)
    entities = data.get("entities") or []
    for i, item in enumerate(entities):
        if isinstance(item, Mapping) and item.get("entity_id") == entity_id:
            del entities[i]
            return _dump(data)
    raise MappingEditError(f"no entity '{entity_id}' in the mapping")


def unified_diff(before: str, after: str, before_name: str, after_name: str) -> str:
    """A unified diff of two mapping texts (empty when equal)."""
    return "".join(
        difflib.unified_diff(
            before.splitlines(keepends=True),
            after.splitlines(keepends=True),
            fromfile=before_name,
            tofile=after_name,
        )
    )
