"""Read docker-compose.yaml the way `docker compose` does, for running its services natively.

`make e2e` starts every Airflow service of the compose file as a plain process on this machine. So
that each process gets exactly what its container would get, the environment and command are taken
from the compose file, not repeated in the script:

    python scripts/compose_env.py env airflow-worker --map redis:6379=127.0.0.1:6380 ...
        prints `export NAME='value'` lines: the service's environment (the x-airflow-common anchor
        merged with the service's own keys), ${VAR}, ${VAR:-default} and ${VAR:?error} interpolated
        from this process's environment as compose interpolates from the shell and .env, then
        every --map FROM=TO applied to the values (service addresses -> loopback ports, container
        paths -> local folders), longest FROM first.
    python scripts/compose_env.py command airflow-worker
        prints the service's command as shell words (`celery worker`), to run as `airflow <words>`.

Only the standard library and PyYAML (in the project's lock).
"""

from __future__ import annotations

import argparse
import os
import re
import shlex
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml

DEFAULT_FILE = Path(__file__).resolve().parent.parent / "docker-compose.yaml"

# $$ | ${NAME} | ${NAME:-default} | ${NAME-default} | ${NAME:?err} | ${NAME?err} | $NAME
_VAR = re.compile(
    r"\$(?:(?P<escaped>\$)"
    r"|\{(?P<braced>[A-Za-z_][A-Za-z0-9_]*)(?:(?P<op>:?[-?])(?P<arg>[^}]*))?\}"
    r"|(?P<bare>[A-Za-z_][A-Za-z0-9_]*))"
)


class ComposeError(Exception):
    """A compose file this helper cannot use, or a required variable that is unset."""


def load(path: Path = DEFAULT_FILE) -> dict[str, Any]:
    with open(path, encoding="utf-8") as fh:
        data = yaml.safe_load(fh)  # resolves anchors and `<<:` merge keys like compose does
    if not isinstance(data, dict) or "services" not in data:
        raise ComposeError(f"{path}: no services")
    return data


def interpolate(value: str, env: Mapping[str, str]) -> str:
    """Compose's variable substitution (the subset the project's compose file uses, and a bit more)."""

    def sub(m: re.Match[str]) -> str:
        if m.group("escaped"):
            return "$"
        name = m.group("braced") or m.group("bare")
        op, arg = m.group("op"), m.group("arg") or ""
        current = env.get(name)
        if op is None:
            return current or ""
        unset_or_empty = current is None or (op.startswith(":") and current == "")
        if op.endswith("-"):
            return interpolate(arg, env) if unset_or_empty else str(current)
        if unset_or_empty:
            raise ComposeError(f"required variable {name} is missing a value: {arg}")
        return str(current)

    return _VAR.sub(sub, value)


def _scalar(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return "" if value is None else str(value)


def service(data: Mapping[str, Any], name: str) -> dict[str, Any]:
    try:
        return data["services"][name]
    except KeyError:
        raise ComposeError(f"no service {name!r} in the compose file") from None


def service_environment(data: Mapping[str, Any], name: str, env: Mapping[str, str]) -> dict[str, str]:
    raw = service(data, name).get("environment") or {}
    if isinstance(raw, list):  # the `- NAME=value` form
        raw = dict(item.split("=", 1) if "=" in item else (item, env.get(item, "")) for item in raw)
    return {key: interpolate(_scalar(value), env) for key, value in raw.items()}


def service_command(data: Mapping[str, Any], name: str) -> list[str]:
    command = service(data, name).get("command")
    if command is None:
        raise ComposeError(f"service {name!r} has no command")
    return shlex.split(command) if isinstance(command, str) else [str(word) for word in command]


def apply_maps(values: Mapping[str, str], maps: list[tuple[str, str]]) -> dict[str, str]:
    ordered = sorted(maps, key=lambda pair: len(pair[0]), reverse=True)
    pattern = re.compile("|".join(re.escape(src) for src, _ in ordered)) if ordered else None
    lookup = dict(ordered)
    if pattern is None:
        return dict(values)
    return {key: pattern.sub(lambda m: lookup[m.group(0)], value) for key, value in values.items()}


def _parse_map(text: str) -> tuple[str, str]:
    src, sep, dst = text.partition("=")
    if not sep or not src:
        raise argparse.ArgumentTypeError(f"--map wants FROM=TO, got {text!r}")
    return src, dst


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="compose_env.py", description=__doc__.split("\n\n")[0])
    parser.add_argument("--file", type=Path, default=DEFAULT_FILE)
    sub = parser.add_subparsers(dest="what", required=True)
    env_p = sub.add_parser("env", help="the service's environment as export lines")
    env_p.add_argument("service")
    env_p.add_argument("--map", dest="maps", action="append", type=_parse_map, default=[])
    cmd_p = sub.add_parser("command", help="the service's command as shell words")
    cmd_p.add_argument("service")
    args = parser.parse_args(argv)
    try:
        data = load(args.file)
        if args.what == "env":
            values = apply_maps(service_environment(data, args.service, os.environ), args.maps)
            for key, value in values.items():
                print(f"export {key}={shlex.quote(value)}")
        else:
            print(shlex.join(service_command(data, args.service)))
    except (ComposeError, OSError, yaml.YAMLError) as exc:
        print(f"error: {args.file}: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
