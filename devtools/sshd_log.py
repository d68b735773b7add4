"""How many SFTP sessions were open at once, from OpenSSH's own log (``LogLevel VERBOSE``).

sshd and every session process it forks append to one log file, so the lines are in the order the
events happened: a session opens at ``Starting session:`` and closes at ``Close session:``, both naming
the client port and channel id. The most open at once is the highest count over that sequence; no
clock is needed, and no two processes' clocks are compared.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_OPEN = re.compile(r"Starting session: .* from (\S+) port (\d+) id (\d+)")
_CLOSE = re.compile(r"Close session: .* from (\S+) port (\d+) id (\d+)")
#: The connection's end, which also ends its sessions: a client that exits without closing them (a
#: task process finishing) gets ``Read error ... Connection reset by peer`` and no ``Close session``.
_GONE = re.compile(
    r"(?:Read error from remote host|Connection (?:closed|reset) by|Disconnected from) .*?(\S+) port (\d+)"
)


@dataclass(frozen=True)
class Sessions:
    opened: int
    """Sessions started."""
    closed: int
    """Sessions closed (equal to ``opened`` once every client is gone)."""
    max_open: int
    """The most sessions open at the same time."""


def sessions(log_text: str) -> Sessions:
    """The sessions of an sshd log (or of the part of it after a given offset)."""
    open_now: set[tuple[str, ...]] = set()
    opened = closed = peak = 0
    for line in log_text.splitlines():
        if match := _OPEN.search(line):
            open_now.add(match.groups())
            opened += 1
            peak = max(peak, len(open_now))
        elif (match := _CLOSE.search(line)) and match.groups() in open_now:
            open_now.discard(match.groups())
            closed += 1
        elif match := _GONE.search(line):
            ended = {key for key in open_now if key[:2] == match.groups()}
            open_now -= ended
            closed += len(ended)
    return Sessions(opened=opened, closed=closed, max_open=peak)
