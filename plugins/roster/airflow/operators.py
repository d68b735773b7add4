"""Where the DAG builders make operators out of ``roster.airflow.tasks``: every task callable gets
``fail_fast`` here, once."""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable
from typing import Any

from airflow.providers.standard.operators.python import PythonOperator
from airflow.sdk.exceptions import AirflowFailException

from roster.errors import RosterError

log = logging.getLogger("roster")


def fail_fast(func: Callable[..., Any]) -> Callable[..., Any]:
    """Turn a ``RosterError`` (bad data, bad config, auth, host key) into a failure with no retry.

    Retrying cannot fix these, and on-call should see them at once with their one-line message.
    Anything else (a network error) fails as it is, so the task's retries apply.
    """

    @functools.wraps(func)
    def fail_fast_wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except RosterError as exc:
            log.error("%s", exc)
            raise AirflowFailException(str(exc)) from None

    return fail_fast_wrapper


_FAIL_FAST: dict[Callable[..., Any], Callable[..., Any]] = {}


def python_task(operator: type[PythonOperator], func: Callable[..., Any], *bound: Any, **kwargs: Any) -> PythonOperator:
    """``func`` as task ``func.__name__``, bound to ``bound``, under ``fail_fast``; its docstring is the task's doc."""
    wrapped = _FAIL_FAST.get(func)
    if wrapped is None:  # one wrapper per task function, shared by every district's task
        wrapped = _FAIL_FAST[func] = fail_fast(func)
    return operator(
        task_id=func.__name__,
        python_callable=functools.partial(wrapped, *bound),
        doc_md=func.__doc__,
        **kwargs,
    )
