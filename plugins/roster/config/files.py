"""Reading a YAML config file into a strict model: one ``ConfigError`` naming the file and dotted key."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, ValidationError

from roster.errors import ConfigError


class Strict(BaseModel):
    """Unknown keys are errors and a loaded file never changes: the base of every config model.

    A field's docstring (the string under it) is its description: docs/DISTRICT_CONFIG.md and the JSON
    Schema editors read are generated from them (``make docs``).
    """

    model_config = ConfigDict(extra="forbid", frozen=True, use_attribute_docstrings=True)


class KeyValueError(ValueError):
    """A model's check that faults one of its keys (``key``, dotted below the model): the error names
    ``source.sheet``, not just ``source``, when a check across keys of ``source`` refuses ``sheet``."""

    def __init__(self, key: str, message: str) -> None:
        super().__init__(message)
        self.key = key


def resolve(root: Path, path: str) -> Path:
    """A path from a district file: relative to the include root unless absolute."""
    p = Path(path)
    return p if p.is_absolute() else root / p


def format_error(path: Path, err: ValidationError) -> str:
    errors = err.errors()
    # An unknown key first: a typo'd key (max_reject_rat) is also a missing one, and the typo is the news.
    first = next((e for e in errors if e["type"] == "extra_forbidden"), errors[0])
    loc = list(first["loc"])
    error = first.get("ctx", {}).get("error")
    if isinstance(error, KeyValueError):
        loc += error.key.split(".")
    key = ".".join(str(part) for part in loc) or "(top level)"
    if first["type"] == "extra_forbidden":
        return f"{path}: unknown key '{key}'"
    if first["type"] == "missing":
        return f"{path}: missing key '{key}'"
    message = first["msg"].removeprefix("Value error, ")
    return f"{path}: key '{key}': {message}"


#: LibYAML's safe loader when PyYAML was built with it, else the pure-Python one: the scheduler parses every
#: district file each time it re-reads the DAG folder (docs/DECISIONS.md). Same documents, same errors.
_SAFE_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def read_yaml(path: Path) -> dict[str, Any]:
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(f"{path}: file not found") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: cannot be read ({exc})") from None
    try:
        data = yaml.load(text, Loader=_SAFE_LOADER)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" line {mark.line + 1}" if mark else ""
        raise ConfigError(f"{path}:{where} is not valid YAML ({getattr(exc, 'problem', exc)})") from None
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: expected a mapping of keys at the top level")
    return data
