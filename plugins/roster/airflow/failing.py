"""How the project's own errors fail an Airflow task."""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable
from typing import Any, TypeVar

from airflow.sdk.exceptions import AirflowFailException

from roster.errors import RosterError

log = logging.getLogger("roster")

F = TypeVar("F", bound=Callable[..., Any])


def fail_fast(func: F) -> F:
    """Turn a ``RosterError`` (bad data, bad config, auth, host key) into a failure with no retry.

    Retrying cannot fix these, and on-call should see them at once with their one-line message.
    """

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except RosterError as exc:
            log.error("%s", exc)
            raise AirflowFailException(str(exc)) from None

    return wrapper  # type: ignore[return-value]
