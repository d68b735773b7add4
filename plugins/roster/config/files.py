"""Reading a YAML config file into a strict model: one ``ConfigError`` naming the file and dotted key."""

from __future__ import annotations

import ast
import inspect
import sys
from functools import lru_cache
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError
from pydantic.fields import FieldInfo

from roster.errors import ConfigError


@lru_cache(maxsize=32)
def _attribute_docstrings(filename: str) -> dict[str, dict[str, str]]:
    """Class name -> field -> the docstring under it, for every top-level class of a module's source.

    The same reading as pydantic's ``use_attribute_docstrings`` (a string statement right after an
    annotated assignment, cleaned up by ``inspect.cleandoc``), but the module is parsed once: pydantic
    on Python 3.11 walks the import's frames and parses each class again, about 0.2 s for the config
    models when the dag-processor imports them (docs/PERFORMANCE.md, "Parsing the DAG folder").
    """
    tree = ast.parse(Path(filename).read_text(encoding="utf-8"))
    found: dict[str, dict[str, str]] = {}
    for node in tree.body:
        if not isinstance(node, ast.ClassDef):
            continue
        docs: dict[str, str] = {}
        for before, stmt in zip(node.body, node.body[1:], strict=False):
            if (
                isinstance(before, ast.AnnAssign)
                and isinstance(before.target, ast.Name)
                and isinstance(stmt, ast.Expr)
                and isinstance(stmt.value, ast.Constant)
                and isinstance(stmt.value.value, str)
            ):
                docs[before.target.id] = inspect.cleandoc(stmt.value.value)
        found[node.name] = docs
    return found


class Strict(BaseModel):
    """Unknown keys are errors and a loaded file never changes: the base of every config model.

    A field's docstring (the string under it) is its description: docs/DISTRICT_CONFIG.md and the JSON
    Schema editors read are generated from them (``make docs``). They are read here, once per module,
    before pydantic collects the fields (see ``_attribute_docstrings``); a field's own
    ``Field(description=...)`` wins, as with pydantic's ``use_attribute_docstrings``.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        module = sys.modules.get(cls.__module__)
        filename = getattr(module, "__file__", None)
        if not filename:
            return
        docs = _attribute_docstrings(filename).get(cls.__qualname__, {})
        for name in inspect.get_annotations(cls):
            if name not in docs:
                continue
            value = cls.__dict__.get(name, inspect.Parameter.empty)
            if isinstance(value, FieldInfo):
                if value.description is None:
                    setattr(cls, name, FieldInfo.merge_field_infos(value, description=docs[name]))
            elif value is inspect.Parameter.empty:
                setattr(cls, name, Field(description=docs[name]))
            else:
                setattr(cls, name, Field(default=value, description=docs[name]))


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
