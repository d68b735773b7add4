"""Switching a district file to ``mode: live`` (``roster go-live``): a minimal edit of its text.

The district file is a document people maintain, with comments that explain its choices; a YAML
round trip would drop them and reformat the rest. So the edit is textual: the value of the one
top-level ``mode:`` line becomes ``live`` (its spacing, quotes and trailing comment kept), and with
an approval a top-level ``go_live:`` block is appended (or an existing one replaced). Every other
line stays byte for byte, line endings included.

The edited text is loaded through ``load_district`` before it replaces the file: a text the edit
could not make valid is refused and the file is left as it was. The file is replaced atomically (a
temporary file in the same folder, then a rename) and keeps its permissions.
"""

from __future__ import annotations

import json
import os
import re
import tempfile
from pathlib import Path

from roster.config import District, load_district
from roster.config.district import GoLive
from roster.errors import ConfigError

_MODE_KEY = re.compile(r"^mode\s*:")
_MODE_QA = re.compile(r"^(?P<head>mode\s*:\s*)(?P<quote>['\"]?)qa(?P=quote)(?P<tail>\s*(?:#.*)?)$")
_GO_LIVE_KEY = re.compile(r"^go_live\s*:")
_GO_LIVE_COMMENT = "# Written by roster go-live --approved-by: who accepted going live, and what was missing then."


def _lines(text: str) -> list[str]:
    return text.splitlines(keepends=True)


def _eol(line: str) -> str:
    return line[len(line.rstrip("\r\n")) :]


def set_live(text: str, path: Path) -> str:
    """``text`` with its top-level ``mode: qa`` line saying ``live``; a ``ConfigError`` when there is none."""
    lines = _lines(text)
    found = [i for i, line in enumerate(lines) if _MODE_KEY.match(line)]
    if len(found) != 1:
        raise ConfigError(
            f"{path}: key 'mode': expected one top-level 'mode:' line, found {len(found)}; "
            "set mode: live by hand (nothing changed)"
        )
    i = found[0]
    body, eol = lines[i].rstrip("\r\n"), _eol(lines[i])
    match = _MODE_QA.match(body)
    if match is None:
        raise ConfigError(
            f"{path}: line {i + 1}: key 'mode': not a plain 'mode: qa' line; set mode: live by hand (nothing changed)"
        )
    quote = match["quote"]
    lines[i] = f"{match['head']}{quote}live{quote}{match['tail']}{eol}"
    return "".join(lines)


def go_live_block(approval: GoLive, eol: str = "\n") -> list[str]:
    """The ``go_live:`` block's lines (strings as JSON, which YAML reads as double-quoted scalars)."""
    lines = [
        "go_live:",
        f"  approved_by: {json.dumps(approval.approved_by, ensure_ascii=False)}",
        f"  approved_on: {approval.approved_on.isoformat()}",
    ]
    if approval.missing:
        lines += ["  missing:", *(f"    - {json.dumps(m, ensure_ascii=False)}" for m in approval.missing)]
    else:
        lines.append("  missing: []")
    return [line + eol for line in lines]


def set_go_live(text: str, approval: GoLive) -> str:
    """``text`` with ``approval`` as its top-level ``go_live:`` block: replacing one there, else appended."""
    lines = _lines(text)
    eol = "\r\n" if "\r\n" in text else "\n"
    start = next((i for i, line in enumerate(lines) if _GO_LIVE_KEY.match(line)), None)
    block = go_live_block(approval, eol)
    if start is None:
        if lines and not _eol(lines[-1]):
            lines[-1] += eol
        return "".join([*lines, _GO_LIVE_COMMENT + eol, *block])
    end = start + 1
    while end < len(lines) and (lines[end][:1] in (" ", "\t") or not lines[end].strip()):
        end += 1
    while end > start + 1 and not lines[end - 1].strip():  # blank lines after the block belong to the next key
        end -= 1
    return "".join([*lines[:start], *block, *lines[end:]])


def _validated(text: str, path: Path, approval: GoLive | None) -> District:
    """``text`` loaded as ``path`` would be; a ``ConfigError`` naming ``path`` when it does not validate."""
    with tempfile.TemporaryDirectory(prefix="roster-go-live-") as scratch:
        trial = Path(scratch) / path.name
        trial.write_text(text, encoding="utf-8", newline="")
        try:
            district = load_district(trial)
        except ConfigError as exc:
            message = str(exc).replace(str(trial), str(path))
            raise ConfigError(f"switching to live would make the file invalid (nothing changed): {message}") from None
    if district.mode != "live" or (approval is not None and district.go_live != approval):
        raise ConfigError(f"{path}: the edit did not read back as mode: live; set it by hand (nothing changed)")
    return district


def _replace(path: Path, data: bytes) -> None:
    mode = path.stat().st_mode & 0o7777
    fd, temp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(temp, mode)
        os.replace(temp, path)
    except BaseException:
        Path(temp).unlink(missing_ok=True)
        raise


def switch_to_live(path: Path, approval: GoLive | None = None) -> District:
    """Edit the district file at ``path`` to ``mode: live`` (recording ``approval``); the district as it now reads."""
    text = path.read_bytes().decode("utf-8")
    edited = set_live(text, path)
    if approval is not None:
        edited = set_go_live(edited, approval)
    district = _validated(edited, path, approval)
    _replace(path, edited.encode("utf-8"))
    return district


__all__ = ["go_live_block", "set_go_live", "set_live", "switch_to_live"]
