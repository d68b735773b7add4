"""Tonight's roster against the last delivered one: what changes at the vendor, and what to carry.

Both sides are roster frames (one text column per layout field, as the file shows it, plus
``active``); the last delivered one also has ``carried_since`` (the roster date a student was first
carried, empty otherwise). The comparison is one keyed outer join on the State Test Number.

A student delivered last time and absent tonight is never dropped silently: they are carried into
tonight's file as inactive with their last delivered values, for ``carry_days`` days, then dropped.
A student whose row was *rejected* tonight is not absent: a fixable data error is no evidence the
student left, so they are retained with their last delivered values and status.

**State Test Number slips** (``state_id_changed``). A student added tonight (an id not delivered last
time) who has the same identity as a student delivered last time and absent tonight is one student
under a new State Test Number: leading zeros lost when the export went through Excel
(``0012345678`` -> ``12345678``), or a corrected id. The identity is the legal first, middle and last
name and the date of birth, all equal as the file shows them, and the local student id where the
layout carries it and both sides have one (compared without leading zeros, which Excel drops from
that column on the same night). Choices, and why:

* Name and date of birth alone are enough when either side has no local id. The match is only
  looked for among the students added tonight and those gone tonight (a few on a normal night), so
  it takes a student leaving and a *different* student with the same full legal name and date of
  birth arriving on the same night to be wrong; and being wrong costs a hold that a person looks at
  (the file is the same either way), while missing a slip delivers one student twice without a word.
  Two different local ids always mean two students.
* An ambiguous match (one new id matching several gone ids, or several new ids one gone id) is not
  resolved: every new id concerned is a ``state_id_changed`` naming *every* candidate earlier id, so
  nothing is picked silently and the person sees all the ids involved.
* ``changes.csv`` has one row per new id: ``state_test_number`` the new id, ``fields``
  ``state_test_number (was <earlier id>[ or <earlier id>...])``: ids only (privacy allows ids;
  no name or date of birth), and the earlier id is what the point person needs to find the record.
  These students are not also counted as ``added``, or the earlier ids as ``deactivated``,
  ``carried`` or ``dropped``: each student is counted once; a slip counts toward the change rate.
* Tonight's file has both: the new id as exported, and the earlier id carried as inactive as any
  absent student is (a student once delivered never silently disappears). Any slip holds the night
  (``judge_changes``), so a person decides before the vendor sees the two ids: approve (the vendor
  gets both, the earlier one inactive), or fix the export and re-run.

The match is one Arrow hash join on the identity among the added and the gone students only; a
night without either pays nothing for it.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from roster.config import Layout
from roster.fast import ids
from roster.fast.arrow import bools, frame_of, large, parallel, rows_of, take, text
from roster.fast.arrow import repeat as _repeat
from roster.night.qa import ChangeSummary

IDENTITY_FIELDS = ("legal_first_name", "legal_middle_name", "legal_last_name", "date_of_birth")
#: Fields whose differences are not "changes": the key, the status (counted as (de)activation), ours.
NOT_COMPARED = ("state_test_number", "status", "district_id", "active", "carried_since")
CHANGE_KINDS = (
    "added",
    "deactivated",
    "reactivated",
    "identity_changed",
    "other_changed",
    "carried",
    "dropped",
    "retained",
    "state_id_changed",
)
CHANGES_COLUMNS = ["state_test_number", "change", "fields"]


@dataclass
class RosterDiff:
    """The night's changes against the last delivered roster."""

    counts: dict[str, int]
    previous_students: int
    previous_active: int
    deactivation_rate: float
    change_rate: float
    changes: pd.DataFrame  # state_test_number, change, fields (field names only, never values)
    carried: pd.DataFrame  # last delivered rows to append to tonight's file (carried and retained), with carried_since
    first_night: bool = False
    held: bool = False
    hold_reasons: list[str] = field(default_factory=list)

    def summary(self) -> ChangeSummary:
        """The ``changes`` section of ``qa_report.json``: counts and rates, no ids."""
        counts = self.counts
        return ChangeSummary(
            added=counts["added"],
            deactivated=counts["deactivated"],
            reactivated=counts["reactivated"],
            identity_changed=counts["identity_changed"],
            other_changed=counts["other_changed"],
            carried=counts["carried"],
            dropped=counts["dropped"],
            retained=counts["retained"],
            state_id_changed=counts["state_id_changed"],
            previous_students=self.previous_students,
            previous_active=self.previous_active,
            deactivation_rate=round(self.deactivation_rate, 6),
            change_rate=round(self.change_rate, 6),
            first_night=self.first_night,
            held=self.held,
            hold_reasons=self.hold_reasons,
        )

    def ids(self, *kinds: str) -> list[str]:
        """State Test Numbers with any of the given change kinds, sorted, each once."""
        selected = self.changes[self.changes["change"].isin(kinds)]["state_test_number"]
        return sorted(set(selected))


def _empty_changes() -> pd.DataFrame:
    return pd.DataFrame({c: pd.Series(dtype="str") for c in CHANGES_COLUMNS})


@dataclass(frozen=True)
class _Pairing:
    """Tonight's students paired with last night's by State Test Number (the keyed join)."""

    now_rows: np.ndarray  # tonight's rows that were delivered last time
    before_rows: np.ndarray  # their rows in the last delivered roster, in the same order
    new: np.ndarray  # per tonight's row: not delivered last time
    gone: np.ndarray  # per last delivered row: absent tonight and not rejected tonight
    retained: np.ndarray  # per last delivered row: absent tonight because the row was rejected
    was_active: np.ndarray  # per last delivered row
    now_active: np.ndarray  # per tonight's row


def _pair(tonight: pd.DataFrame, previous: pd.DataFrame, rejected_ids: frozenset[str]) -> _Pairing:
    """One keyed join (``ids.positions``: a sort-merge on integer keys) and who is missing tonight."""
    ids_before = text(previous["state_test_number"])
    position = ids.positions(text(tonight["state_test_number"]), ids_before)
    paired = position >= 0
    before_rows = position[paired].astype(np.int64)
    found = np.zeros(len(previous), dtype=bool)
    found[before_rows] = True
    rejected = pa.array(sorted(rejected_ids), pa.large_string())
    retained = ~found & (bools(pc.is_in(ids_before, value_set=rejected)) if len(rejected) else False)
    return _Pairing(
        now_rows=np.flatnonzero(paired),
        before_rows=before_rows,
        new=~paired,
        gone=~found & ~retained,
        retained=retained,
        was_active=_active(previous),
        now_active=_active(tonight),
    )


#: The identity that names a student apart from their State Test Number (see the module docstring).
_NAME_AND_BIRTH = ("legal_first_name", "legal_middle_name", "legal_last_name", "date_of_birth")
#: Without these on both sides there is no identity to match (the middle name may be empty, or absent).
_REQUIRED_IDENTITY = ("legal_first_name", "legal_last_name", "date_of_birth")
LOCAL_ID = "local_student_id"


@dataclass(frozen=True)
class _Slips:
    """Students added tonight who are a student gone tonight under a new State Test Number."""

    now_rows: np.ndarray  # tonight's rows (each once)
    fields: pa.Array  # per now_rows: "state_test_number (was <earlier ids>)"
    before_rows: np.ndarray  # the last delivered rows they were (each once)


_NO_SLIPS = _Slips(np.zeros(0, np.int64), pa.array([], pa.large_string()), np.zeros(0, np.int64))


def _identities(frame: pd.DataFrame, rows: np.ndarray, keys: list[str], local: bool) -> pa.Table:
    """``rows`` of ``frame`` as (identity..., local id without leading zeros, row, id), complete names only."""
    columns = {key: take(text(frame[key]), rows) for key in keys}
    if local:
        columns["local"] = pc.utf8_ltrim(take(text(frame[LOCAL_ID]), rows), characters="0")
    columns["row"] = pa.array(rows, pa.int64())
    columns["id"] = take(text(frame["state_test_number"]), rows)
    table = pa.table(columns)
    first, last, born = (pc.not_equal(table[key], "") for key in _REQUIRED_IDENTITY)
    return table.filter(pc.and_(pc.and_(first, last), born))


def _slips(tonight: pd.DataFrame, previous: pd.DataFrame, pairing: _Pairing) -> _Slips:
    """The keyed join on the identity between the added and the gone students (see the module docstring)."""
    new_rows, gone_rows = np.flatnonzero(pairing.new), np.flatnonzero(pairing.gone)
    keys = [f for f in _NAME_AND_BIRTH if f in tonight.columns and f in previous.columns]
    if not len(new_rows) or not len(gone_rows) or not set(keys) >= set(_REQUIRED_IDENTITY):
        return _NO_SLIPS
    local = LOCAL_ID in tonight.columns and LOCAL_ID in previous.columns
    now = _identities(tonight, new_rows, keys, local)
    before = _identities(previous, gone_rows, keys, local)
    pairs = now.join(before, keys=keys, join_type="inner", left_suffix=" now", right_suffix=" before")
    if local:  # two different local ids are two students; a missing one does not tell
        a, b = pairs["local now"], pairs["local before"]
        pairs = pairs.filter(pc.or_(pc.or_(pc.equal(a, ""), pc.equal(b, "")), pc.equal(a, b)))
    if not pairs.num_rows:
        return _NO_SLIPS
    pairs = pairs.sort_by([("row now", "ascending"), ("id before", "ascending")])
    grouped = pairs.group_by("row now", use_threads=False).aggregate([("id before", "list")])
    was = pc.binary_join(grouped["id before_list"], large(" or "))
    fields = pc.binary_join_element_wise(large("state_test_number (was "), was, large(")"), large(""))
    return _Slips(
        now_rows=grouped["row now"].to_numpy(),
        fields=fields.combine_chunks(),
        before_rows=np.unique(pairs["row before"].to_numpy()),
    )


def _without(rows: np.ndarray, taken: np.ndarray) -> np.ndarray:
    """``rows`` minus ``taken`` (both small), in ``rows``' order."""
    return rows[~np.isin(rows, taken)] if len(taken) else rows


def compare(
    tonight: pd.DataFrame,
    previous: pd.DataFrame | None,
    layout: Layout,
    roster_date: dt.date,
    carry_days: int,
    rejected_ids: frozenset[str] = frozenset(),
) -> RosterDiff:
    """Diff ``tonight`` against ``previous`` (None on a district's first night).

    ``rejected_ids`` are the State Test Numbers of tonight's rejected rows. After the one keyed join
    (``_pair``) every comparison is a vectorized operation on the paired rows, in Arrow and numpy.
    """
    if previous is None:
        return _first_night(tonight)
    pairing = _pair(tonight, previous, rejected_ids)
    compared = [f for f in tonight.columns if f not in NOT_COMPARED and f in previous.columns]
    code = _field_differences(tonight, previous, compared, pairing.now_rows, pairing.before_rows)
    identity = _spelled(code, compared, [i for i, f in enumerate(compared) if f in IDENTITY_FIELDS])
    other = _spelled(code, compared, [i for i, f in enumerate(compared) if f not in IDENTITY_FIELDS])
    carried_rows, carried_since, dropped_rows = _carry(previous, np.flatnonzero(pairing.gone), roster_date, carry_days)
    slips = _slips(tonight, previous, pairing)
    counts, parts = _changes_by_kind(tonight, previous, pairing, identity, other, (carried_rows, dropped_rows), slips)
    previous_active = int(pairing.was_active.sum())
    changed_students = int((identity[0] | other[0]).sum()) + counts["state_id_changed"]
    return RosterDiff(
        counts=counts,
        previous_students=len(previous),
        previous_active=previous_active,
        deactivation_rate=counts["deactivated"] / previous_active if previous_active else 0.0,
        change_rate=changed_students / len(previous) if len(previous) else 0.0,
        changes=_changes(parts),
        carried=_carried_rows(previous, carried_rows, carried_since, np.flatnonzero(pairing.retained), layout),
    )


def _changes_by_kind(
    tonight: pd.DataFrame,
    previous: pd.DataFrame,
    pairing: _Pairing,
    identity: tuple[np.ndarray, pa.Array],
    other: tuple[np.ndarray, pa.Array],
    carried_and_dropped: tuple[np.ndarray, np.ndarray],
    slips: _Slips,
) -> tuple[dict[str, int], list[tuple[pa.Array, str, pa.Array | None]]]:
    """Each change kind's count, and its students' ids (with the fields named) for ``changes.csv``.

    A slip's two ids are counted once, as ``state_id_changed``: not as added, nor deactivated,
    carried or dropped (its earlier id is carried in the file all the same).
    """
    ids_now = text(tonight["state_test_number"])
    ids_before = text(previous["state_test_number"])
    parts: list[tuple[pa.Array, str, pa.Array | None]] = []

    def record(ids: pa.ChunkedArray, rows: np.ndarray, change: str, fields: pa.Array | None = None) -> int:
        if len(rows):
            parts.append((take(ids, rows), change, fields))
        return len(rows)

    was = pairing.was_active[pairing.before_rows]
    now = pairing.now_active[pairing.now_rows]
    paired = pairing.now_rows
    carried_rows, dropped_rows = (_without(rows, slips.before_rows) for rows in carried_and_dropped)
    gone_active = _without(np.flatnonzero(pairing.gone & pairing.was_active), slips.before_rows)
    counts = {
        "added": record(ids_now, _without(np.flatnonzero(pairing.new), slips.now_rows), "added"),
        "deactivated": record(ids_now, paired[was & ~now], "deactivated")
        + record(ids_before, gone_active, "deactivated"),
        "reactivated": record(ids_now, paired[~was & now], "reactivated"),
        "identity_changed": record(ids_now, paired[identity[0]], "identity_changed", identity[1]),
        "other_changed": record(ids_now, paired[other[0]], "other_changed", other[1]),
        "carried": record(ids_before, carried_rows, "carried"),
        "dropped": record(ids_before, dropped_rows, "dropped"),
        "retained": record(ids_before, np.flatnonzero(pairing.retained), "retained"),
        "state_id_changed": record(ids_now, slips.now_rows, "state_id_changed", slips.fields),
    }
    return counts, parts


def _first_night(tonight: pd.DataFrame) -> RosterDiff:
    """A district's first night: every student is added, nobody is carried."""
    counts = dict.fromkeys(CHANGE_KINDS, 0)
    counts["added"] = len(tonight)
    added = text(tonight["state_test_number"])
    changes = frame_of(
        {"state_test_number": added, "change": _repeat("added", len(added)), "fields": _repeat("", len(added))},
        len(added),
    )
    carried = tonight.iloc[0:0].assign(carried_since=pd.Series(dtype="str"))
    return RosterDiff(counts, 0, 0, 0.0, 0.0, changes[CHANGES_COLUMNS], carried, first_night=True)


def _carry(
    previous: pd.DataFrame, gone_rows: np.ndarray, roster_date: dt.date, carry_days: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Absent tonight: carried as inactive with the last delivered values, until carry_days pass.

    Returns the carried rows of ``previous``, their first carried dates, and the rows dropped.
    """
    if "carried_since" in previous.columns:
        since = previous["carried_since"].iloc[gone_rows].fillna("").astype(str).to_numpy(dtype=object)
    else:
        since = np.full(len(gone_rows), "", dtype=object)
    since = np.where(since == "", roster_date.isoformat(), since)
    age_days = (pd.Timestamp(roster_date) - pd.to_datetime(pd.Series(since, dtype=object))).dt.days.to_numpy()
    too_old = age_days > carry_days
    return gone_rows[~too_old], since[~too_old], gone_rows[too_old]


def _carried_rows(
    previous: pd.DataFrame,
    carried_rows: np.ndarray,
    carried_since: np.ndarray,
    retained_rows: np.ndarray,
    layout: Layout,
) -> pd.DataFrame:
    """The rows tonight's roster carries from the last one: absent students (inactive), then retained ones."""
    carried = rows_of(previous, carried_rows)
    carried["carried_since"] = (
        pd.array(carried_since.astype(str), dtype="str") if len(carried_rows) else pd.array([], dtype="str")
    )
    carried["status"] = layout.status_words.inactive
    carried["active"] = False
    kept = rows_of(previous, retained_rows)
    if "carried_since" not in kept.columns:
        kept["carried_since"] = ""
    return pd.concat([carried, kept], ignore_index=True).reset_index(drop=True)


def _active(frame: pd.DataFrame) -> np.ndarray:
    return frame["active"].fillna(False).to_numpy(dtype=bool)


#: Pairs compared per step by ``_field_differences``: bounds the memory of the gathered values.
PAIR_STEP = 1 << 18


def _field_differences(
    tonight: pd.DataFrame, previous: pd.DataFrame, names: list[str], now_rows: np.ndarray, before_rows: np.ndarray
) -> np.ndarray:
    """For each paired student, a bit mask of the ``names`` whose values differ (bit i: names[i]).

    The pairs are compared a quarter-million at a time (the steps on all cores): each field's values
    of the step's pairs are gathered from both sides and compared, so only a step's values are ever
    gathered, never a whole side again. A pair with a missing value (null) in any compared field on
    either side counts as unchanged, as when the fields were compared joined into one string per row.
    """
    pairs = len(now_rows)
    if not pairs or not names:
        return np.zeros(pairs, dtype=np.int64)
    now_columns = [text(tonight[name]) for name in names]
    before_columns = [text(previous[name]) for name in names]
    nullable = [bit for bit in range(len(names)) if now_columns[bit].null_count or before_columns[bit].null_count]

    def in_step(start: int) -> np.ndarray:
        now = now_rows[start : start + PAIR_STEP]
        before = before_rows[start : start + PAIR_STEP]
        code = np.zeros(len(now), dtype=np.int64)
        valid = np.ones(len(now), dtype=bool)
        for bit in range(len(names)):
            now_values, before_values = take(now_columns[bit], now), take(before_columns[bit], before)
            code |= bools(pc.not_equal(now_values, before_values)).astype(np.int64) << bit
            if bit in nullable:
                valid &= bools(pc.is_valid(now_values)) & bools(pc.is_valid(before_values))
        code[~valid] = 0
        return code

    return np.concatenate(parallel(in_step, range(0, pairs, PAIR_STEP)))


def _spelled(code: np.ndarray, names: list[str], bits: list[int]) -> tuple[np.ndarray, pa.Array]:
    """Pairs with any of ``bits`` set, and for each of them its field names as ``name;name``.

    Each distinct combination is spelled once, then mapped to the pairs that have it.
    """
    mask = np.int64(sum(1 << b for b in bits))
    picked = code & mask
    changed = picked != 0
    distinct, inverse = np.unique(picked[changed], return_inverse=True)
    spelled = pa.array([";".join(names[b] for b in bits if c >> b & 1) for c in distinct], pa.large_string())
    return changed, spelled.take(pa.array(inverse.astype(np.int64), pa.int64()))


def _changes(parts: list[tuple[pa.Array, str, pa.Array | None]]) -> pd.DataFrame:
    """The change rows, sorted by State Test Number then change (a stable Arrow sort)."""
    if not parts:
        return _empty_changes()
    ids = pa.chunked_array(
        [p[0].combine_chunks() if isinstance(p[0], pa.ChunkedArray) else p[0] for p in parts], pa.large_string()
    )
    change = pa.chunked_array([_repeat(c, len(i)) for i, c, _ in parts], pa.large_string())
    fields = pa.chunked_array([f if f is not None else _repeat("", len(i)) for i, _, f in parts], pa.large_string())
    table = pa.table({"state_test_number": ids, "change": change, "fields": fields})
    order = pc.sort_indices(table, sort_keys=[("state_test_number", "ascending"), ("change", "ascending")])
    table = table.take(order)
    return frame_of({name: table[name] for name in CHANGES_COLUMNS}, table.num_rows)


def judge_changes(diff: RosterDiff, max_deactivation_rate: float, max_change_rate: float) -> RosterDiff:
    """Hold the night when a rate is above its limit (exactly at the limit passes), or when any student
    appears under a new State Test Number; never the first night."""
    reasons = []
    if not diff.first_night:
        if slips := diff.counts["state_id_changed"]:
            reasons.append(
                f"{slips} student{'s appear' if slips != 1 else ' appears'} under a new State Test Number (same legal "
                "name and date of birth as a student delivered last time and absent tonight, and the same local id "
                "where both have one); see changes.csv"
            )
        if diff.deactivation_rate > max_deactivation_rate:
            reasons.append(
                f"{diff.counts['deactivated']} of {diff.previous_active} last delivered active students would become inactive "
                f"({diff.deactivation_rate:.2%}), above the limit of {max_deactivation_rate:.2%}"
            )
        if diff.change_rate > max_change_rate:
            reasons.append(
                f"{diff.change_rate:.2%} of {diff.previous_students} last delivered students would change, "
                f"above the limit of {max_change_rate:.2%}"
            )
    diff.held = bool(reasons)
    diff.hold_reasons = reasons
    return diff


def with_carried(tonight: pd.DataFrame, diff: RosterDiff) -> pd.DataFrame:
    """Tonight's roster frame plus the carried students, each row with ``carried_since``."""
    present = tonight.assign(
        carried_since=frame_of({"c": _repeat("", len(tonight))}, len(tonight))["c"].set_axis(tonight.index)
    )
    if diff.carried.empty:
        return present
    carried = diff.carried.reindex(columns=present.columns, fill_value="")
    return pd.concat([present, carried], ignore_index=True)
