"""The district file's reference, generated from the config models: ``make docs``.

``python -m roster.config.reference`` writes docs/DISTRICT_CONFIG.md (every key of a district file and
of a layout file: type, required or not, default, description, example) and
include/districts/district.schema.json (the JSON Schema editors validate district files with). With
``--check`` it writes nothing and exits 1 when either file is out of step with the models.

The descriptions are the fields' docstrings; the examples come from the sample district file and the
vendor layout, their commented-out keys included (``uncomment``), so nothing is written twice.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import yaml

from roster.config.district import District
from roster.config.layout import Layout
from roster.config.schema import DURATION_PATTERN, Key, has_default, json_schema, keys, one_line

REPO = Path(__file__).resolve().parents[3]
REFERENCE = Path("docs/DISTRICT_CONFIG.md")
SCHEMA = Path("include/districts/district.schema.json")
SAMPLE_DISTRICT = Path("include/districts/sample_isd.yaml")
SAMPLE_LAYOUT = Path("include/layouts/rethink_ed.yaml")

#: A commented-out YAML line: ``# key: value`` or ``# - item``, the key lowercase. Prose comments start
#: otherwise (a capital, a word without a colon), so they stay comments.
_COMMENTED_KEY = re.compile(r"^(\s*)# ((?:\s*)(?:[a-z_][a-z0-9_]*:(?:\s.*)?|- .*))$")


def uncomment(text: str) -> str:
    """The YAML with its commented-out keys restored: what the file says when every option is taken."""
    return "\n".join(_COMMENTED_KEY.sub(r"\1\2", line) for line in text.splitlines()) + "\n"


def example_document(path: Path) -> dict[str, Any]:
    """The file with its commented-out keys restored, or as it is when that is not YAML."""
    text = path.read_text(encoding="utf-8")
    for candidate in (uncomment(text), text):
        try:
            data = yaml.safe_load(candidate)
        except yaml.YAMLError:
            continue
        if isinstance(data, dict):
            return data
    return {}


def value_at(document: Any, path: str) -> Any:
    """The value at a dotted path (``blackout[].start`` reads the first item); ``None`` when absent."""
    node = document
    for part in path.split("."):
        is_list = part.endswith("[]")
        name = part.removesuffix("[]")
        if not isinstance(node, dict) or name not in node:
            return None
        node = node[name]
        if is_list:
            if not isinstance(node, list) or not node:
                return None
            node = node[0]
    return node


def document_paths(document: Any, prefix: str = "") -> set[str]:
    """Every dotted path a YAML document sets, in the notation of ``schema.keys``."""
    paths: set[str] = set()
    if not isinstance(document, dict):
        return paths
    for name, value in document.items():
        path = f"{prefix}{name}"
        paths.add(path)
        if isinstance(value, dict):
            paths |= document_paths(value, f"{path}.")
        elif isinstance(value, list) and value and all(isinstance(v, dict) for v in value):
            for item in value:
                paths |= document_paths(item, f"{path}[].")
    return paths


def inline_yaml(value: Any) -> str:
    text = yaml.safe_dump(value, default_flow_style=True, sort_keys=False, allow_unicode=True, width=10_000).strip()
    return text.removesuffix("...").strip()


def code(value: str) -> str:
    return "`" + value.replace("|", "\\|") + "`"


def type_words(schema: dict[str, Any]) -> str:
    """A key's type and constraints in plain words: ``number from 0 to 1``, ``one of `qa`, `live```."""
    if "enum" in schema:
        return "one of " + ", ".join(code(str(v)) for v in schema["enum"])
    kind = schema.get("type")
    if kind == "array":
        return _list_words(schema)
    if kind == "object":
        return _mapping_words(schema)
    if kind == "string":
        return _string_words(schema)
    if kind in ("number", "integer"):
        return _number_words(schema, "number" if kind == "number" else "whole number")
    return "any"


def _list_words(schema: dict[str, Any]) -> str:
    items = schema.get("items", {})
    item = "mappings (keys below)" if "$ref" in items else type_words(items)
    least = schema.get("minItems")
    return f"list of {item}" + (f", at least {least}" if least else "")


def _mapping_words(schema: dict[str, Any]) -> str:
    names = schema.get("propertyNames", {}).get("enum")
    if names and isinstance(schema.get("additionalProperties"), dict):
        values = type_words(schema["additionalProperties"])
        return "mapping of " + " or ".join(code(n) for n in names) + f" to {values}"
    return "mapping (keys below)"


def _string_words(schema: dict[str, Any]) -> str:
    if schema.get("format") == "date":
        return "date, `YYYY-MM-DD`"
    if schema.get("pattern") == DURATION_PATTERN:
        return "duration: `30s`, `15m`, `3h`, `2d`"
    words = "text"
    low, high = schema.get("minLength"), schema.get("maxLength")
    if low == high == 1:
        words = "one character"
    elif low:
        words = "text, not empty"
    if "pattern" in schema:
        words += f", matching {code(schema['pattern'])}"
    return words


def _number_words(schema: dict[str, Any], words: str) -> str:
    low, high = schema.get("minimum"), schema.get("maximum")
    if low is not None and high is not None:
        return f"{words} from {low:g} to {high:g}"
    if low is not None:
        return f"{words}, {low:g} or more"
    return words


def required_words(key: Key) -> str:
    if not key.required:
        return "no"
    return f"yes, within `{key.within}`" if key.within else "yes"


def default_words(key: Key) -> str:
    if not has_default(key):
        return ""
    if key.default is None:
        return "none"
    if key.is_mapping:
        return "as below"
    return code(inline_yaml(key.default))


def example_words(key: Key, example: dict[str, Any]) -> str:
    if key.is_mapping or "$ref" in key.schema.get("items", {}):
        return ""  # its keys show theirs
    value = value_at(example, key.path)
    return "" if value is None else code(inline_yaml(value))


def description(key: Key) -> str:
    return one_line(key.schema.get("description", "")).replace("``", "`").replace("|", "\\|")


def table(rows: Iterable[Key], example: dict[str, Any]) -> list[str]:
    lines = ["| key | description | type | required | default | example |", "|---|---|---|---|---|---|"]
    for key in rows:
        cells = (
            code(key.path),
            description(key),
            type_words(key.schema),
            required_words(key),
            default_words(key),
            example_words(key, example),
        )
        lines.append("| " + " | ".join(cells) + " |")
    return lines


def _parent(path: str) -> str:
    return path.rsplit(".", 1)[0].removesuffix("[]") if "." in path else ""


def section(title: str, schema: dict[str, Any], example: dict[str, Any]) -> list[str]:
    """One file's keys: the top-level keys in one table, then a table per mapping, in field order."""
    all_keys = keys(schema)
    groups: dict[str, list[Key]] = {}
    for key in all_keys:
        groups.setdefault(_parent(key.path), []).append(key)
    lines = [f"## {title}", "", one_line(schema.get("description", "")).replace("``", "`"), ""]
    lines += table(groups.pop(""), example)
    by_path = {k.path: k for k in all_keys}
    for parent, rows in groups.items():
        if not rows:
            continue
        owner = by_path[parent]
        lines += ["", f"### `{parent}`", ""]
        if description(owner):
            lines += [description(owner), ""]
        lines += table(rows, example)
    return lines


_PREAMBLE = """\
# District file reference

<!-- Generated by `make docs` (python -m roster.config.reference) from the models in plugins/roster/config/.
     Edit the fields' docstrings there and rerun `make docs`; a test fails when this file is out of step. -->

A district is one YAML file, `include/districts/<district_id>.yaml`; its vendor file's shape is a layout,
`include/layouts/<name>.yaml`. Unknown keys are errors, and `roster check-config` names the file and the
dotted key of any mistake. [include/districts/sample_isd.yaml](../include/districts/sample_isd.yaml) sets
or lists (commented out, with its default) every key below; the examples are its values.

Editors with the YAML language server (VS Code's YAML extension, and others) validate a district file and
complete its keys from [include/districts/district.schema.json](../include/districts/district.schema.json)
when the file's first line is `# yaml-language-server: $schema=district.schema.json`, as the sample's is.

Keys are dotted paths: `source.columns.grade` is `grade:` under `columns:` under `source:`;
`blackout[].start` is `start:` in each item of the list `blackout:`. Durations are text such as `30s`,
`15m`, `3h` or `2d`; dates are `YYYY-MM-DD`; `{date:%Y%m%d}` in a path or file name becomes the roster
date in that strftime format. "Required: yes, within `x`" means required when `x` is given.
"""


def reference_markdown(root: Path = REPO) -> str:
    district = json_schema(District, "Roster district file")
    layout = json_schema(Layout, "Roster layout file")
    lines = [_PREAMBLE]
    lines += section(
        "District file: `include/districts/<district_id>.yaml`", district, example_document(root / SAMPLE_DISTRICT)
    )
    lines += [""]
    lines += section("Layout file: `include/layouts/<name>.yaml`", layout, example_document(root / SAMPLE_LAYOUT))
    return "\n".join(lines).rstrip() + "\n"


def schema_text() -> str:
    return json.dumps(json_schema(District, "Roster district file"), indent=2, ensure_ascii=False) + "\n"


def outputs(root: Path = REPO) -> dict[Path, str]:
    return {root / REFERENCE: reference_markdown(root), root / SCHEMA: schema_text()}


def stale(root: Path = REPO) -> list[Path]:
    """The generated files whose text differs from what the models give now."""
    return [
        path for path, text in outputs(root).items() if not path.is_file() or path.read_text(encoding="utf-8") != text
    ]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m roster.config.reference", description=__doc__.splitlines()[0])
    parser.add_argument("--root", type=Path, default=REPO, help="the repository (default: this checkout)")
    parser.add_argument("--check", action="store_true", help="write nothing; exit 1 when a file is out of step")
    args = parser.parse_args(argv)
    if args.check:
        behind = stale(args.root)
        for path in behind:
            print(f"{path} is out of step with the config models: run `make docs`", file=sys.stderr)
        return 1 if behind else 0
    for path, text in outputs(args.root).items():
        path.write_text(text, encoding="utf-8")
        print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
