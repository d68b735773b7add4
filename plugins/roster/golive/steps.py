"""The go-live steps, shared by the ``roster`` command and the ``roster_go_live`` DAG.

Each step takes the include root, the district, its inputs and an output folder, writes its reports
there and returns a ``StepResult``: an exit code (0 nothing to do, 1 something for the district to
fix), a one-line summary with counts only, and the files written. Errors are ``RosterError``s.
Sending email is passed in as a function, so this module needs no Airflow.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from roster.config import District, find_district
from roster.errors import RosterError

if TYPE_CHECKING:
    from roster.config import Layout
    from roster.config.vendor_codes import VendorCodes
    from roster.notify.emails import Email

STEPS = ("crossmatch", "reconcile", "announce")
CLEAN, FINDINGS = 0, 1


@dataclass
class StepResult:
    step: str
    district_id: str
    exit_code: int
    summary: str
    files: list[Path] = field(default_factory=list)
    #: lines for the user beyond the summary (what to do next); no student data
    notes: list[str] = field(default_factory=list)


def _out(out_dir: Path, inputs: dict[str, Path], names: list[str]) -> Path:
    """The output folder, checked (one error naming it when it cannot be written into); an input that
    is one of the ``names`` the step writes there is refused, before anything is read or written."""
    from roster.io import artifacts

    folder = artifacts.output_folder(out_dir)
    artifacts.refuse_overwriting(inputs, folder, names)
    return folder


def _district(root: Path, district: District | str) -> District:
    return find_district(root, district) if isinstance(district, str) else district


def crossmatch(
    root: Path, district: District | str, export: Path, out_dir: Path, copies: Path | None = None
) -> StepResult:
    """Every grade, campus and diagnosis code of ``export`` against the district's tables, and the
    campuses the vendor needs a sub-account for (``subaccount_requests.csv``). Remote tables are read
    from their copies in ``copies`` (``roster.io.crossmatch_copy``)."""
    from roster.config import load_layout, resolve
    from roster.config.crossmatch import TABLES
    from roster.golive import discovery as found

    district = _district(root, district)
    out = _out(
        out_dir, {"--input": export}, [found.REPORT, found.SUBACCOUNTS, *(found.missing_name(t) for t in TABLES)]
    )
    rows, absent = found.load_table_rows(root, district, copies)
    vendor = _vendor_lists(root, district, load_layout(root, district.destination.layout))
    result = found.discover(export, district, found.as_crossmatch(rows))
    files = found.write_discovery(result, out)
    requests = found.subaccount_requests(result, rows["campuses"], vendor.get("campus"))
    files.append(found.write_subaccount_requests(requests, out))
    used = {resolve(root, district.crossmatch) / f"{t}.csv" for t in found.tables_for(district)}
    notes = [f"{path} does not exist yet: every {path.stem} code counts as unmapped" for path in absent if path in used]
    notes += [
        f"fill in the rethink_code column of {path} and add its rows to the {path.stem.removeprefix('missing_')} table"
        for path in files[1:-1]
    ]
    if requests:
        verb = "needs" if len(requests) == 1 else "need"
        notes.append(f"{_count(requests, 'campus', 'campuses')} {verb} a sub-account at the vendor: see {files[-1]}")
    return StepResult(
        step="crossmatch",
        district_id=district.district_id,
        exit_code=FINDINGS if result.unmapped else CLEAN,
        summary=("unmapped codes: " if result.unmapped else "all codes mapped: ")
        + _discovery_summary(result)
        + f"; sub-account requests: {_count(requests, 'campus', 'campuses')}",
        files=files,
        notes=notes,
    )


def _count(items: list, one: str, many: str) -> str:
    return f"{len(items)} {one if len(items) == 1 else many}"


def _vendor_lists(root: Path, district: District, layout: Layout) -> dict[str, VendorCodes]:
    from roster.config.layout import layout_path
    from roster.config.vendor_codes import load_vendor_codes

    return load_vendor_codes(root, layout.vendor_codes, layout_path(root, district.destination.layout))


def _discovery_summary(result) -> str:
    from roster.golive.discovery import summary

    return summary(result)


def reconcile(root: Path, district: District | str, sis: Path, vendor: Path, out_dir: Path) -> StepResult:
    """The SIS export against the vendor's current roster export; the outcome (counts and checksums only)
    is recorded as the district's last reconcile, the evidence ``roster go-live`` reads."""
    from roster.golive.gate import RECONCILE_RECORD, record_reconcile
    from roster.golive.reconcile import REPORT, summary, write_report
    from roster.golive.reconcile import reconcile as compare_exports
    from roster.io import store

    district = _district(root, district)
    out = _out(out_dir, {"--sis": sis, "--vendor": vendor}, [REPORT])
    result = compare_exports(sis, vendor, district)
    report = write_report(result, out)
    record_reconcile(district.district_id, result, sis, vendor)
    where = f"{store.go_live_records_location(district.district_id).rstrip('/')}/{RECONCILE_RECORD}"
    return StepResult(
        step="reconcile",
        district_id=district.district_id,
        exit_code=FINDINGS if result.findings else CLEAN,
        summary=summary(result),
        files=[report],
        notes=[f"recorded as the district's last reconcile (for roster go-live) in {where}"],
    )


#: ``send(smtp_conn_id, email)``
Sender = Callable[[str, "Email"], None]


def announce(
    root: Path, district: District | str, out_dir: Path, send: Sender | None = None, from_addr: str | None = None
) -> StepResult:
    """The go-live emails as ``.eml`` previews in ``out_dir``; sent with ``send(conn_id, email)`` when given.

    The previews are written before anything is sent, so what went out can always be read back.
    """
    from roster.golive.announce import announcements, write_previews

    district = _district(root, district)
    out = _out(out_dir, {}, [])
    items = announcements(root, district)
    files = write_previews(items, out, from_addr)
    notes = [f"{a.audience}: {path} (to {', '.join(a.email.to)})" for a, path in zip(items, files, strict=True)]
    if send is not None:
        sent: list[str] = []
        for a in items:
            try:
                send(district.smtp_conn_id, a.email)
            except RosterError as exc:
                if not sent:
                    raise
                raise type(exc)(f"{exc}; the {' and '.join(sent)} email was already sent") from None
            sent.append(a.audience)
            notes.append(f"sent the {a.audience} email through connection {district.smtp_conn_id!r}")
    verb = "sent" if send is not None else "written (not sent; --send sends them)"
    return StepResult(
        step="announce",
        district_id=district.district_id,
        exit_code=CLEAN,
        summary=f"{len(items)} go-live emails {verb}",
        files=files,
        notes=notes,
    )


__all__ = ["STEPS", "StepResult", "announce", "crossmatch", "reconcile"]
