"""Tonight's roster against the last delivered one: what changes at the vendor, and what to carry.

Both sides are roster frames (one text column per layout field, as the file shows it, plus
``active``); the last delivered one also has ``carried_since`` (the roster date a student was first
carried, empty otherwise). The comparison is one keyed outer join on the State Test Number.

A student delivered last time and absent tonight is never dropped silently: they are carried into
tonight's file as inactive with their last delivered values, for ``carry_days`` days, then dropped.
A student whose row was *rejected* tonight is not absent: a fixable data error is no evidence the
student left, so they are retained with their last delivered values and status.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from roster.config import Layout

IDENTITY_FIELDS = ("legal_first_name", "legal_middle_name", "legal_last_name", "date_of_birth")
#: Fields whose differences are not "changes": the key, the status (counted as (de)activation), ours.
NOT_COMPARED = ("state_test_number", "status", "district_id", "active", "carried_since")
CHANGE_KINDS = ("added", "deactivated", "reactivated", "identity_changed", "other_changed", "carried", "dropped", "retained")
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

    def summary(self) -> dict[str, object]:
        """The ``changes`` section of ``qa_report.json``: counts and rates, no ids."""
        return {
            **self.counts,
            "previous_students": self.previous_students,
            "previous_active": self.previous_active,
            "deactivation_rate": round(self.deactivation_rate, 6),
            "change_rate": round(self.change_rate, 6),
            "first_night": self.first_night,
            "held": self.held,
            "hold_reasons": self.hold_reasons,
        }

    def ids(self, *kinds: str) -> list[str]:
        """State Test Numbers with any of the given change kinds, sorted, each once."""
        selected = self.changes[self.changes["change"].isin(kinds)]["state_test_number"]
        return sorted(set(selected))


def _empty_changes() -> pd.DataFrame:
    return pd.DataFrame({c: pd.Series(dtype="str") for c in CHANGES_COLUMNS})


def compare(
    tonight: pd.DataFrame,
    previous: pd.DataFrame | None,
    layout: Layout,
    roster_date: dt.date,
    carry_days: int,
    rejected_ids: frozenset[str] = frozenset(),
) -> RosterDiff:
    """Diff ``tonight`` against ``previous`` (None on a district's first night).

    ``rejected_ids`` are the State Test Numbers of tonight's rejected rows.
    """
    if previous is None:
        counts = dict.fromkeys(CHANGE_KINDS, 0)
        counts["added"] = len(tonight)
        changes = pd.DataFrame({"state_test_number": tonight["state_test_number"], "change": "added", "fields": ""})
        carried = tonight.iloc[0:0].assign(carried_since=pd.Series(dtype="str"))
        return RosterDiff(counts, 0, 0, 0.0, 0.0, changes[CHANGES_COLUMNS], carried, first_night=True)

    compared = [f for f in tonight.columns if f not in NOT_COMPARED and f in previous.columns]
    merged = previous.merge(tonight, on="state_test_number", how="outer", suffixes=("_prev", ""), indicator=True)
    both = merged["_merge"] == "both"
    missing = merged["_merge"] == "left_only"
    retained = missing & merged["state_test_number"].isin(rejected_ids)
    gone = missing & ~retained
    new = merged["_merge"] == "right_only"
    was_active = merged["active_prev"].fillna(False).astype(bool)
    now_active = merged["active"].fillna(False).astype(bool)

    parts: list[pd.DataFrame] = []

    def record(mask: pd.Series, change: str, fields: pd.Series | str = "") -> int:
        ids = merged.loc[mask, "state_test_number"]
        if len(ids):
            values = fields[mask] if isinstance(fields, pd.Series) else fields
            parts.append(pd.DataFrame({"state_test_number": ids.to_numpy(), "change": change, "fields": values}))
        return int(mask.sum())

    def differing(names: list[str]) -> pd.Series:
        """Per row: the names of the fields that differ, joined by ';' ('' when none)."""
        out = pd.Series("", index=merged.index, dtype=object)
        for name in names:
            diff = both & (merged[f"{name}_prev"].astype(object) != merged[name].astype(object))
            out = out.where(~diff, out + np.where(out == "", "", ";") + name)
        return out

    identity = [f for f in compared if f in IDENTITY_FIELDS]
    other = [f for f in compared if f not in IDENTITY_FIELDS]
    identity_fields = differing(identity)
    other_fields = differing(other)

    # Absent tonight: carried as inactive with the last delivered values, until carry_days pass.
    since_prev = merged["carried_since"].fillna("").astype(str) if "carried_since" in merged else pd.Series("", index=merged.index)
    since = since_prev.where(since_prev != "", roster_date.isoformat())
    age_days = (pd.Timestamp(roster_date) - pd.to_datetime(since)).dt.days
    dropped = gone & (age_days > carry_days)
    carried_mask = gone & ~dropped

    counts = {
        "added": record(new, "added"),
        "deactivated": record((both & was_active & ~now_active) | (gone & was_active), "deactivated"),
        "reactivated": record(both & ~was_active & now_active, "reactivated"),
        "identity_changed": record(both & (identity_fields != ""), "identity_changed", identity_fields),
        "other_changed": record(both & (other_fields != ""), "other_changed", other_fields),
        "carried": record(carried_mask, "carried"),
        "dropped": record(dropped, "dropped"),
        "retained": record(retained, "retained"),
    }
    previous_students = int(((merged["_merge"] != "right_only")).sum())
    previous_active = int(was_active[merged["_merge"] != "right_only"].sum())
    changed_students = int((both & ((identity_fields != "") | (other_fields != ""))).sum())

    carried = previous[previous["state_test_number"].isin(merged.loc[carried_mask, "state_test_number"])].copy()
    carried["carried_since"] = since[carried_mask].set_axis(merged.loc[carried_mask, "state_test_number"]).reindex(carried["state_test_number"]).to_numpy()
    carried["status"] = layout.status_words.inactive
    carried["active"] = False
    kept = previous[previous["state_test_number"].isin(merged.loc[retained, "state_test_number"])].copy()
    if "carried_since" not in kept.columns:
        kept["carried_since"] = ""
    carried = pd.concat([carried, kept], ignore_index=True)

    changes = pd.concat(parts, ignore_index=True) if parts else _empty_changes()
    changes = changes.sort_values(["state_test_number", "change"], kind="stable", ignore_index=True)
    return RosterDiff(
        counts=counts,
        previous_students=previous_students,
        previous_active=previous_active,
        deactivation_rate=counts["deactivated"] / previous_active if previous_active else 0.0,
        change_rate=changed_students / previous_students if previous_students else 0.0,
        changes=changes[CHANGES_COLUMNS],
        carried=carried.reset_index(drop=True),
    )


def judge_changes(diff: RosterDiff, max_deactivation_rate: float, max_change_rate: float) -> RosterDiff:
    """Hold the night when a rate is above its limit (exactly at the limit passes); never the first night."""
    reasons = []
    if not diff.first_night:
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
    present = tonight.assign(carried_since="")
    if diff.carried.empty:
        return present
    carried = diff.carried.reindex(columns=present.columns, fill_value="")
    return pd.concat([present, carried], ignore_index=True)
