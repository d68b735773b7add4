"""The errors a user can act on.

Every error the project raises on purpose is a ``RosterError``: its message is one readable line that
names the file, line, field or key at fault, and never a student's name or date of birth. The CLI
prints it as ``error: <message>`` and exits 2; Airflow tasks let it fail the task without a retry.
"""

from __future__ import annotations


class RosterError(Exception):
    """Base class: a problem the user must fix; ``str(err)`` is the whole message."""


class ConfigError(RosterError):
    """A district file, cross-match table or layout is wrong."""


class InputError(RosterError):
    """The night's SIS export cannot be read at all (as opposed to rows that are rejected)."""


class TransferError(RosterError):
    """The roster could not be delivered for a reason retrying will not fix (auth, host key, ...)."""


class SnapshotNotRecorded(Exception):
    """The roster reached the vendor but could not be recorded as the next night's baseline.

    Not a ``RosterError``: the usual cause is storage (``ROSTER_DATA_ROOT`` full, unreachable or read-
    only for a moment), which a retry can outlast. Its own type sends on-call to the runbook's
    "Snapshot not recorded" rather than to the SFTP section of the task that delivered.
    """
