"""The config models as a JSON Schema editors validate with, and as the flat list of keys the reference shows.

The schema describes the YAML as written, not Python's types: a duration is the text ``3h`` that
``parse_duration`` reads (the same regular expression), a date is ``2026-08-01``. Everything else,
descriptions included (the fields' docstrings), comes from pydantic's own ``model_json_schema``.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel
from pydantic.json_schema import GenerateJsonSchema, JsonSchemaValue
from pydantic_core import core_schema

from roster.config.district import _DURATION

JSON_SCHEMA_DIALECT = "https://json-schema.org/draft/2020-12/schema"
#: What ``parse_duration`` accepts, as a JSON Schema pattern.
DURATION_PATTERN = _DURATION.pattern
_UNITS = (("d", 86400), ("h", 3600), ("m", 60), ("s", 1))


def format_duration(value: dt.timedelta) -> str:
    """A timedelta as a district file writes it: the largest unit that divides it (``3h``, ``90m``)."""
    seconds = int(value.total_seconds())
    unit, size = next((u, s) for u, s in _UNITS if seconds % s == 0)
    return f"{seconds // size}{unit}"


class _YamlSchema(GenerateJsonSchema):
    """pydantic's schema, with durations as the text the loader reads and no per-property titles."""

    def timedelta_schema(self, schema: core_schema.TimedeltaSchema) -> JsonSchemaValue:  # noqa: ARG002 - pydantic's hook
        return {"type": "string", "pattern": DURATION_PATTERN}

    def encode_default(self, dft: Any) -> Any:
        if isinstance(dft, dt.timedelta):
            return format_duration(dft)
        return super().encode_default(dft)

    def field_title_should_be_set(self, schema: Any) -> bool:  # noqa: ARG002 - pydantic's hook
        return False


def one_line(text: str) -> str:
    return " ".join(text.split())


def json_schema(model: type[BaseModel], title: str) -> dict[str, Any]:
    body = _one_line_descriptions(model.model_json_schema(schema_generator=_YamlSchema))
    body.pop("title", None)
    return {"$schema": JSON_SCHEMA_DIALECT, "title": title, **body}


def _one_line_descriptions(node: Any) -> Any:
    """Docstrings wrap at the source's width; an editor's hover text wraps at its own."""
    if isinstance(node, dict):
        return {
            k: one_line(v) if k == "description" and isinstance(v, str) else _one_line_descriptions(v)
            for k, v in node.items()
        }
    if isinstance(node, list):
        return [_one_line_descriptions(v) for v in node]
    return node


@dataclass(frozen=True)
class Key:
    """One key of a config file: its dotted path (``blackout[].start``) and its schema."""

    path: str
    schema: dict[str, Any]
    required: bool
    #: The nearest optional mapping above the key, when there is one (``go_live``).
    within: str | None

    @property
    def is_mapping(self) -> bool:
        return "properties" in self.schema

    @property
    def default(self) -> Any:
        return self.schema.get("default", _NO_DEFAULT)


_NO_DEFAULT = object()


def has_default(key: Key) -> bool:
    return key.default is not _NO_DEFAULT


def keys(schema: dict[str, Any]) -> list[Key]:
    """Every key of the schema, depth first in field order; a list of mappings contributes ``name[].key``."""
    return list(_walk(schema, schema, "", None))


def _walk(root: dict[str, Any], node: dict[str, Any], prefix: str, within: str | None) -> Iterator[Key]:
    node = resolve(root, node)
    wanted = set(node.get("required", ()))
    for name, prop in node.get("properties", {}).items():
        path = f"{prefix}{name}"
        described = {**resolve(root, prop), **{k: v for k, v in prop.items() if k != "$ref"}}
        described.pop("anyOf", None)
        key = Key(path, described, name in wanted, within)
        yield key
        inner_within = within if (key.required or within) else path
        target = resolve(root, prop)
        if "properties" in target:
            yield from _walk(root, target, f"{path}.", inner_within)
        elif target.get("type") == "array" and "properties" in resolve(root, target.get("items", {})):
            yield from _walk(root, target["items"], f"{path}[].", inner_within)


def resolve(root: dict[str, Any], node: dict[str, Any]) -> dict[str, Any]:
    """``node`` with a ``$ref`` followed, and an optional value's ``anyOf [X, null]`` as ``X``."""
    if "anyOf" in node:
        others = [n for n in node["anyOf"] if n.get("type") != "null"]
        if len(others) == 1:
            node = {**{k: v for k, v in node.items() if k != "anyOf"}, **others[0], "nullable": True}
    if "$ref" in node:
        name = node["$ref"].removeprefix("#/$defs/")
        node = {**root["$defs"][name], **{k: v for k, v in node.items() if k != "$ref"}}
    return node
