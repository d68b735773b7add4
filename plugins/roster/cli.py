"""The ``roster`` command: the nightly transform, the config check and the go-live toolkit, offline.

Exit codes: 0 success / QA passed / nothing to fix, 1 QA failed / something for the district to fix,
2 any error (one ``error:`` line on stderr, no traceback).
"""

from __future__ import annotations

import argparse
import datetime as dt
import functools
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import NoReturn

from roster.errors import RosterError

EXIT_OK, EXIT_QA_FAILED, EXIT_ERROR = 0, 1, 2


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:  # argparse's own exit code 2 matches ours; keep one line
        self.exit(EXIT_ERROR, f"error: {message} (see {self.prog} --help)\n")


def _date(value: str) -> dt.date:
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"--date {value!r} is not a date like 2026-11-20") from None


def _sftp_fetcher(district):
    """``roster.airflow.hooks.sftp.fetch`` when the connection of an ``sftp://`` cross-match folder is
    defined here (Airflow's connections: its metadata database or ``AIRFLOW_CONN_<ID>``); a
    ``ConfigError`` that says to pass a local copy otherwise."""
    from roster.errors import ConfigError

    conn_id = district.crossmatch.removeprefix("sftp://").partition("/")[0]
    try:
        from airflow.sdk import BaseHook

        BaseHook.get_connection(conn_id)
    except Exception:  # noqa: BLE001 - no Airflow, or no such connection: the same advice either way
        raise ConfigError(
            f"{district.crossmatch}: key 'crossmatch' of district {district.district_id}: the Airflow connection "
            f"{conn_id!r} is not defined here; define it (AIRFLOW_CONN_{conn_id.upper()}) or pass a local copy "
            "of the tables (roster run and roster crossmatch take --crossmatch DIR)"
        ) from None
    from roster.airflow.hooks.sftp import fetch

    return fetch


def _tables(district, local: str | None, scratch: Path):
    """The district to run, and the folder of its remote tables' copies (None for a local folder).

    ``local`` (``--crossmatch DIR``) replaces the district's tables with a local folder; remote tables
    are copied into ``scratch`` (fsspec URLs offline, ``sftp://`` through Airflow's connection).
    """
    from roster.config.crossmatch_source import SFTP, is_remote, kind
    from roster.io.crossmatch_copy import copy_tables

    if local:
        return district.model_copy(update={"crossmatch": str(Path(local).resolve())}), None
    if not is_remote(district.crossmatch):
        return district, None
    fetcher = _sftp_fetcher(district) if kind(district.crossmatch) == SFTP else None
    copy_tables(district, scratch, fetcher)
    return district, scratch


def check_config(args: argparse.Namespace) -> int:
    from roster.config import district_files, include_root, load_district
    from roster.config.pools import check_district_pool, load_pools
    from roster.night.pipeline import Night

    root = include_root(args.include_dir)
    files = district_files(root)
    if not files:
        raise RosterError(f"{root / 'districts'}: no district files (*.yaml) found")
    errors = []
    try:
        pools = load_pools(root)
    except RosterError as exc:
        errors.append(str(exc))
        pools = None
    for path in files:
        try:
            with tempfile.TemporaryDirectory(prefix="roster-crossmatch-") as scratch:
                district = load_district(path)
                if pools is not None:
                    check_district_pool(root, district, pools)
                district, copies = _tables(district, None, Path(scratch))
                Night.load(root, district, dt.date.today(), crossmatch_copies=copies)
        except RosterError as exc:
            errors.append(str(exc))
    # Districts sharing a broken table (or layout) get its error once: it is one thing to fix.
    for message in dict.fromkeys(errors):
        print(f"error: {message}", file=sys.stderr)
    if errors:
        return EXIT_ERROR
    print(f"ok: {len(files)} district file(s) valid in {root / 'districts'}")
    return EXIT_OK


def run(args: argparse.Namespace) -> int:
    with tempfile.TemporaryDirectory(prefix="roster-crossmatch-") as scratch:
        return _run(args, Path(scratch))


def _run(args: argparse.Namespace, scratch: Path) -> int:
    from roster.config import find_district, include_root
    from roster.io import artifacts
    from roster.io.roster_file import check_header, parse_roster
    from roster.night.pipeline import Night, mark_delivered, serialize_night, validate_night

    root = include_root(args.include_dir)
    out = artifacts.output_folder(Path(args.out))
    export = Path(args.input)
    inputs = {"--input": export, "--previous": Path(args.previous) if args.previous else None}
    # An earlier run's files in --out must not look like this run's result, even if this one fails;
    # but no input is among them, and only files a run wrote are removed.
    artifacts.refuse_overwriting(inputs, out, artifacts.RUN_FILES)
    artifacts.clear_run(out)
    district, copies = _tables(find_district(root, args.district), args.crossmatch, scratch)
    night = Night.load(root, district, args.date or dt.date.today(), crossmatch_copies=copies)
    artifacts.refuse_overwriting(inputs, out, [night.output_name])
    artifacts.clear_run(out, night.output_name)
    previous = None
    if args.previous:
        # Refused now if it is no roster file; read only for the diff, after the export is checked.
        check_header(Path(args.previous), night.layout)
        previous = functools.partial(parse_roster, Path(args.previous), night.layout)
    validated = validate_night(night, export, out)
    if not validated.report.passed:
        print(f"QA failed: {validated.report.verdict}; see {out / artifacts.REJECTS}")
        return EXIT_QA_FAILED
    roster = serialize_night(night, export, out, previous, validated=validated, write_held=args.approve_hold)
    if roster.diff.held and not args.approve_hold:
        print(
            f"held: {'; '.join(roster.diff.hold_reasons)}; see {out / artifacts.CHANGES} (--approve-hold writes the file anyway)"
        )
        return EXIT_QA_FAILED
    mark_delivered(out, approved_by="--approve-hold" if roster.diff.held else None)
    carried = roster.diff.counts["carried"]
    path = out / night.output_name
    print(
        f"QA passed: {validated.report.verdict}; wrote {path}"
        + (f" ({carried} absent students carried as inactive)" if carried else "")
    )
    return EXIT_OK


def _report(result) -> int:
    """Print a go-live step's summary, its files and notes; its exit code."""
    print(f"{result.step} {result.district_id}: {result.summary}")
    for note in result.notes:
        print(f"  {note}")
    if result.step != "announce":
        for path in result.files:
            print(f"  wrote {path}")
    return result.exit_code


def crossmatch(args: argparse.Namespace) -> int:
    from roster.config import find_district, include_root
    from roster.golive import steps as golive

    root = include_root(args.include_dir)
    with tempfile.TemporaryDirectory(prefix="roster-crossmatch-") as scratch:
        district, copies = _tables(find_district(root, args.district), args.crossmatch, Path(scratch))
        return _report(golive.crossmatch(root, district, Path(args.input), Path(args.out), copies=copies))


def reconcile(args: argparse.Namespace) -> int:
    from roster.config import include_root
    from roster.golive import steps as golive

    root = include_root(args.include_dir)
    return _report(golive.reconcile(root, args.district, Path(args.sis), Path(args.vendor), Path(args.out)))


def announce(args: argparse.Namespace) -> int:
    from roster.config import include_root
    from roster.golive import steps as golive

    send: golive.Sender | None = None
    if args.send:
        from roster.airflow.hooks.smtp import send_or_fail as send
    root = include_root(args.include_dir)
    return _report(golive.announce(root, args.district, Path(args.out), send=send))


def go_live(args: argparse.Namespace) -> int:
    from roster.config import include_root
    from roster.golive import gate

    root = include_root(args.include_dir)
    decision = gate.go_live(root, args.district, approved_by=args.approved_by)
    district, found = decision.district_id, decision.evidence
    if decision.already_live:
        print(f"go-live {district}: already in mode: live; nothing changed")
    elif not decision.switched:
        print(f"go-live {district}: not ready; the district file still says mode: qa. Missing:")
        for line in found.missing():
            print(f"  {line}")
        print("  (--approved-by NAME switches anyway and records who accepted going live without it)")
    elif decision.approval is not None and decision.approval.missing:
        print(f"go-live {district}: switched to mode: live, approved by {decision.approval.approved_by} without:")
        for line in decision.approval.missing:
            print(f"  {line}")
    else:
        print(f"go-live {district}: switched to mode: live")
        for line in found.present():
            print(f"  {line}")
    if decision.switched:
        print(
            f"  deploy the edited {root / 'districts' / (district + '.yaml')}: the next night goes to the live folder"
        )
    return decision.exit_code


def pools(args: argparse.Namespace) -> int:
    from roster.airflow.pools import apply_pools
    from roster.config import include_root
    from roster.config.pools import load_pools, pools_path

    root = include_root(args.include_dir)
    declared = load_pools(root)
    if not declared.pools:
        print(f"pools: none declared in {pools_path(root)}; nothing to apply")
        return EXIT_OK
    changes = apply_pools(declared)
    for change in changes:
        print(f"pool {change.name}: {change.action} ({change.detail})")
    changed = sum(c.action != "unchanged" for c in changes)
    print(f"pools: {changed} of {len(changes)} changed")
    return EXIT_OK


def status(args: argparse.Namespace) -> int:
    from roster.config import district_files, include_root, load_district
    from roster.golive.status import district_status, format_table

    root = include_root(args.include_dir)
    files = district_files(root)
    if not files:
        raise RosterError(f"{root / 'districts'}: no district files (*.yaml) found")
    rows, errors = [], []
    for path in files:
        try:
            rows.append(district_status(load_district(path)).cells())
        except RosterError as exc:
            errors.append(str(exc))
    if rows:
        print(format_table(rows))
    for message in errors:
        print(f"error: {message}", file=sys.stderr)
    return EXIT_ERROR if errors else EXIT_OK


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="roster", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)
    include_help = "include root (default: $ROSTER_INCLUDE_DIR or the project's include/)"
    crossmatch_help = "a local folder of the cross-match tables, instead of the district file's crossmatch (e.g. a copy of an sftp:// folder)"

    p = sub.add_parser("check-config", help="validate every district file and the tables and layout it names")
    p.add_argument("--include-dir", help=include_help)
    p.set_defaults(func=check_config)

    p = sub.add_parser("run", help="the nightly transform on a local export, offline")
    p.add_argument("--district", required=True, help="district id, as in include/districts/<id>.yaml")
    p.add_argument(
        "--input",
        required=True,
        help="the SIS export, as source.format says (a CSV, a OneRoster package .zip or folder, a workbook)",
    )
    p.add_argument("--out", required=True, help="folder for qa_report.json, rejects.csv and the roster file")
    p.add_argument("--date", type=_date, help="roster date YYYY-MM-DD (default: today)")
    p.add_argument("--previous", help="the last delivered roster file, to diff against and carry absent students from")
    p.add_argument("--approve-hold", action="store_true", help="write the file even when the changes cross a threshold")
    p.add_argument("--crossmatch", help=crossmatch_help)
    p.add_argument("--include-dir", help=include_help)
    p.set_defaults(func=run)

    p = sub.add_parser(
        "crossmatch", help="every grade, campus and diagnosis code of an export against the cross-match tables"
    )
    p.add_argument("--district", required=True, help="district id, as in include/districts/<id>.yaml")
    p.add_argument(
        "--input",
        required=True,
        help="the SIS export, as source.format says (a CSV, a OneRoster package .zip or folder, a workbook)",
    )
    p.add_argument("--out", required=True, help="folder for crossmatch_report.csv and missing_<table>.csv")
    p.add_argument("--crossmatch", help=crossmatch_help)
    p.add_argument("--include-dir", help=include_help)
    p.set_defaults(func=crossmatch)

    p = sub.add_parser(
        "reconcile", help="pre-go-live clean-up: the SIS export against the vendor's current roster export"
    )
    p.add_argument("--district", required=True, help="district id, as in include/districts/<id>.yaml")
    p.add_argument(
        "--sis",
        required=True,
        help="the SIS export, as source: in the district file says (CSV, OneRoster package, workbook)",
    )
    p.add_argument(
        "--vendor", required=True, help="the vendor's roster export (as vendor_export: in the district file)"
    )
    p.add_argument("--out", required=True, help="folder for reconcile_report.csv")
    p.add_argument("--include-dir", help=include_help)
    p.set_defaults(func=reconcile)

    p = sub.add_parser("announce", help="the go-live emails to teachers and administrators, as .eml files")
    p.add_argument("--district", required=True, help="district id, as in include/districts/<id>.yaml")
    p.add_argument("--out", required=True, help="folder for the .eml previews")
    p.add_argument("--send", action="store_true", help="also send them through the district's smtp_conn_id")
    p.add_argument("--include-dir", help=include_help)
    p.set_defaults(func=announce)

    p = sub.add_parser(
        "go-live", help="switch a district from mode: qa to live once its QA nights passed and a reconcile ran clean"
    )
    p.add_argument("--district", required=True, help="district id, as in include/districts/<id>.yaml")
    p.add_argument(
        "--approved-by", metavar="NAME", help="switch even when evidence is missing; NAME is recorded in the file"
    )
    p.add_argument("--include-dir", help=include_help)
    p.set_defaults(func=go_live)

    p = sub.add_parser(
        "pools", help="create or update Airflow's pools as include/pools.yaml declares them (idempotent)"
    )
    p.add_argument("--include-dir", help=include_help)
    p.set_defaults(func=pools)

    p = sub.add_parser(
        "status", help="every district: mode, last delivered night, last QA verdict, next run, go-live state"
    )
    p.add_argument("--include-dir", help=include_help)
    p.set_defaults(func=status)
    return parser


def _internal(exc: BaseException) -> str:
    # Only the type: an unexpected message could quote a value from the export.
    return f"error: internal error ({type(exc).__name__}); please report it with the command line"


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except RosterError as exc:
        print(f"error: {exc}", file=sys.stderr)
    except OSError as exc:
        # A path the user gave, or one under it, and what is wrong with it (no traceback, no other text).
        print(
            f"error: {exc.filename}: {exc.strerror or type(exc).__name__}" if exc.filename else _internal(exc),
            file=sys.stderr,
        )
    except KeyboardInterrupt:
        print("error: interrupted", file=sys.stderr)
    except Exception as exc:  # noqa: BLE001 - users get one line, never a traceback
        print(_internal(exc), file=sys.stderr)
    return EXIT_ERROR


if __name__ == "__main__":
    sys.exit(main())
