"""``roster pools``: make Airflow's pools what ``include/pools.yaml`` declares.

It runs where ``airflow db migrate`` runs (the compose ``airflow-init``, ``make up``, ``make e2e``): next to
the metadata database, before any api-server is up, so it writes through ``airflow.models.Pool`` (what
``airflow pools set`` does locally) rather than the REST API, which would need a running api-server and a
user's token. Pools the file does not declare are left alone: another team's pool is not ours to delete.
"""

from __future__ import annotations

from dataclasses import dataclass

from roster.config.pools import Pools
from roster.errors import RosterError


@dataclass(frozen=True)
class PoolChange:
    name: str
    action: str  # "created", "updated" or "unchanged"
    detail: str


def apply_pools(pools: Pools) -> list[PoolChange]:
    """Create or update each declared pool; what changed, pool by pool (idempotent: a second run changes nothing).

    A metadata database that cannot be reached, or is not migrated, is one ``RosterError`` saying so.
    """
    from sqlalchemy.exc import SQLAlchemyError

    try:
        return _apply(pools)
    except SQLAlchemyError as exc:
        raise RosterError(
            f"cannot write Airflow's pools: the metadata database is not reachable or not migrated "
            f"({type(exc).__name__}); run `airflow db migrate` first, with the same AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"
        ) from None


def _apply(pools: Pools) -> list[PoolChange]:
    from airflow.models import Pool

    changes = []
    for name, spec in sorted(pools.pools.items()):
        current = Pool.get_pool(name)
        wanted = (spec.slots, spec.description, False)
        if current is not None and (current.slots, current.description or "", current.include_deferred) == wanted:
            changes.append(PoolChange(name, "unchanged", f"{spec.slots} slots"))
            continue
        if current is None:
            detail = f"{spec.slots} slots"
        else:
            detail = f"slots {current.slots} -> {spec.slots}" if current.slots != spec.slots else "description"
        Pool.create_or_update_pool(name, spec.slots, spec.description, include_deferred=False)
        changes.append(PoolChange(name, "created" if current is None else "updated", detail))
    return changes
