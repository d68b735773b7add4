"""Every row rule, declared once: its reason code, the columns it checks, its check, and its fix text.

A rejected row gets the rule's reason code; the emails tell the point person the rule's fix text
(``REASONS``). A rule's check is a vectorized kernel from ``roster.rules.checks``, or, for the rules
that depend on the district and the night (the State Test Number pattern, the date format, the age on
the roster date, the status words, the cross-match codes), a function of the night's ``NightRules``
that makes the kernel. ``roster.rules.model.build_schema`` attaches every rule to the pandera schema as
a check named by its reason code, and that schema decides the night's rejects: a rule added here is
checked every night.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass

from roster.config import District
from roster.config.crossmatch import CrossMatch
from roster.rules.checks import (
    FrameKernel,
    Kernel,
    age_in_range,
    date_or_empty,
    fullmatch,
    no_forbidden,
    no_formula,
    not_mojibake,
    numeric_or_empty,
    one_of,
    present,
    unique_or_empty,
)
from roster.rules.duplicates import identity_kernel

MIN_AGE, MAX_AGE = 2, 22

#: ``Rule.columns`` of a rule that checks every text column of the row model (``RosterRow``).
TEXT_COLUMNS = "every text column"
#: The student's legal names (the reader trims and NFC-normalizes the same fields, ``io.export.NAME_FIELDS``).
NAME_COLUMNS = ("legal_first_name", "legal_middle_name", "legal_last_name")


@dataclass(frozen=True)
class NightRules:
    """What a night's rows are checked against besides the rules every district shares."""

    state_id_pattern: str
    date_format: str
    roster_date: dt.date
    status_values: frozenset[str]
    crossmatch: CrossMatch
    #: ``source.duplicate_rows``: ``reject`` every row of a repeated id, or ``merge`` one student's rows.
    duplicate_rows: str = "reject"
    #: The status words of an active student (the merge delivers an active row first).
    active_values: frozenset[str] = frozenset()

    @classmethod
    def for_night(cls, district: District, crossmatch: CrossMatch, roster_date: dt.date) -> NightRules:
        sv = district.source.status_values
        return cls(
            state_id_pattern=district.source.state_id_pattern,
            date_format=district.source.date_format,
            roster_date=roster_date,
            status_values=frozenset(sv.active) | frozenset(sv.inactive),
            crossmatch=crossmatch,
            duplicate_rows=district.source.duplicate_rows,
            active_values=frozenset(sv.active),
        )


@dataclass(frozen=True)
class Rule:
    """One reason a row is rejected. ``kernel`` checks every district's rows alike; ``for_night``
    makes tonight's kernel from the night's rules (None: not tonight). ``for_frame`` makes a kernel of
    the whole frame, for a rule that compares a row's columns with other rows' (its failures are
    reported on ``columns[0]``). A rule with none of them is found by the reader."""

    reason: str
    columns: tuple[str, ...] | str
    fix: str
    kernel: Kernel | None = None
    for_night: Callable[[NightRules], Kernel | None] | None = None
    for_frame: Callable[[NightRules], FrameKernel | None] | None = None

    def kernel_of(self, rules: NightRules) -> Kernel | None:
        return self.for_night(rules) if self.for_night is not None else self.kernel

    def frame_kernel_of(self, rules: NightRules) -> FrameKernel | None:
        return self.for_frame(rules) if self.for_frame is not None else None


RULES: tuple[Rule, ...] = (
    Rule("missing_state_id", ("state_test_number",), "Enter the student's State Test Number in the SIS.", present),
    Rule(
        "bad_state_id",
        ("state_test_number",),
        "Correct the State Test Number in the SIS; it does not have the state's format.",
        for_night=lambda r: fullmatch(r.state_id_pattern),
    ),
    Rule(
        "duplicate_state_id",
        ("state_test_number",),
        "Two or more rows share this State Test Number (with a district that merges enrollment rows: "
        "with a different legal name or date of birth); fix the SIS so each student has their own.",
        # reject: every row of a repeated id; merge: the rows of an id whose identity disagrees.
        for_night=lambda r: unique_or_empty if r.duplicate_rows == "reject" else None,
        for_frame=lambda r: identity_kernel(r.date_format) if r.duplicate_rows == "merge" else None,
    ),
    Rule("missing_first_name", ("legal_first_name",), "Enter the student's legal first name in the SIS.", present),
    Rule("missing_last_name", ("legal_last_name",), "Enter the student's legal last name in the SIS.", present),
    Rule(
        "formula_value",
        NAME_COLUMNS,
        "Remove the leading =, +, - or @ from this name in the SIS; spreadsheets run such a value as a formula.",
        no_formula,
    ),
    Rule(
        "mojibake",
        NAME_COLUMNS,
        "This name looks garbled by a wrong character encoding (e.g. 'Ã©' for 'é'); "
        "correct it in the SIS and check how the export is saved.",
        not_mojibake,
    ),
    Rule("missing_date_of_birth", ("date_of_birth",), "Enter the student's date of birth in the SIS.", present),
    Rule(
        "bad_date_of_birth",
        ("date_of_birth",),
        "Correct the date of birth in the SIS; it is not a date in the export's date format.",
        for_night=lambda r: date_or_empty(r.date_format),
    ),
    Rule(
        "age_out_of_range",
        ("date_of_birth",),
        f"Check the date of birth in the SIS; it gives an age outside {MIN_AGE}-{MAX_AGE} years.",
        for_night=lambda r: age_in_range(r.date_format, r.roster_date, MIN_AGE, MAX_AGE),
    ),
    Rule(
        "unknown_grade",
        ("grade",),
        "Add the grade code to the grades cross-match table, or correct it in the SIS.",
        for_night=lambda r: one_of(r.crossmatch.grades),
    ),
    Rule(
        "unknown_campus",
        ("campus",),
        "Add the campus code to the campuses cross-match table, or correct it in the SIS.",
        for_night=lambda r: one_of(r.crossmatch.campuses),
    ),
    Rule(
        "unknown_diagnosis",
        ("diagnosis",),
        "Add the diagnosis code to the diagnoses cross-match table, or correct it in the SIS.",
        for_night=lambda r: one_of(r.crossmatch.diagnoses, empty_passes=True),
    ),
    Rule(
        "unknown_status",
        ("status",),
        "Set the enrollment status in the SIS to one of the configured active or inactive values.",
        for_night=lambda r: one_of(r.status_values),
    ),
    Rule(
        "bad_score",
        ("ela_score", "math_score"),
        "Correct the score in the SIS; it must be a plain number (such as 250 or 12.5) or left empty.",
        numeric_or_empty,
    ),
    Rule(
        "bad_date",
        ("entry_date", "exit_date"),
        "Correct the entry or exit date in the SIS; it is not a date in the export's date format.",
        for_night=lambda r: date_or_empty(r.date_format),
    ),
    Rule(
        "forbidden_character",
        TEXT_COLUMNS,
        "Remove the pipe (|), line break, control or text-direction character, or leading double quote "
        "from this value in the SIS.",
        no_forbidden,
    ),
    Rule(
        "ragged_row",
        (),
        "This line of the export does not have the same number of columns as the header; "
        "check the SIS report for stray delimiters or quotes.",
    ),
)

#: reason code -> what the point person should do about it (used in reports and emails).
REASONS: dict[str, str] = {rule.reason: rule.fix for rule in RULES}
