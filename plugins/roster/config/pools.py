"""``include/pools.yaml``: the Airflow pools districts share, one per vendor limit.

A vendor that allows only so many SFTP sessions at once gets a pool with that many slots; each district
sending to it names the pool in ``destination.pool``, and every SFTP task of those districts runs in it.
``roster pools`` creates or updates the pools in Airflow; ``roster check-config`` refuses a district whose
pool is not declared here. Free of Airflow, like the rest of the config.
"""

from __future__ import annotations

import re
from pathlib import Path

from pydantic import Field, ValidationError, field_validator

from roster.config.district import POOL_NAME_PATTERN, District
from roster.config.files import Strict, format_error, read_yaml
from roster.errors import ConfigError

POOLS_FILE = "pools.yaml"
#: Airflow's own pool, always there: a district may name it without declaring it.
DEFAULT_POOL = "default_pool"


class PoolSpec(Strict):
    """One pool: how many of its tasks may run at once."""

    slots: int = Field(ge=1)
    """Tasks of the pool that may run at once: the vendor's limit of simultaneous SFTP sessions."""
    description: str = ""
    """What the pool limits, as Airflow's Pools page shows it."""


class Pools(Strict):
    """The whole file: pool name -> its spec."""

    pools: dict[str, PoolSpec] = {}
    """Every pool a district's ``destination.pool`` may name."""

    @field_validator("pools")
    @classmethod
    def _names(cls, value: dict[str, PoolSpec]) -> dict[str, PoolSpec]:
        for name in value:
            if not re.fullmatch(POOL_NAME_PATTERN, name):
                raise ValueError(f"{name!r} is not a pool name (letters, digits, '_', '.', '-')")
            if name == DEFAULT_POOL:
                raise ValueError(f"{DEFAULT_POOL!r} is Airflow's own pool; size it in Airflow, not here")
        return value


def pools_path(root: Path) -> Path:
    return root / POOLS_FILE


def load_pools(root: Path) -> Pools:
    """``include/pools.yaml`` validated; no pools when the file does not exist."""
    path = pools_path(root)
    if not path.exists():
        return Pools()
    data = read_yaml(path)
    try:
        return Pools.model_validate(data)
    except ValidationError as err:
        raise ConfigError(format_error(path, err)) from None


def check_district_pool(root: Path, district: District, pools: Pools) -> None:
    """A ``ConfigError`` when the district names a pool ``include/pools.yaml`` does not declare."""
    name = district.destination.pool
    if name is None or name == DEFAULT_POOL or name in pools.pools:
        return
    declared = ", ".join(sorted(pools.pools)) or "none"
    raise ConfigError(
        f"{root / 'districts' / (district.district_id + '.yaml')}: key 'destination.pool': pool {name!r} is not "
        f"declared in {pools_path(root)} (declared: {declared}); add it there and run `roster pools`"
    )
