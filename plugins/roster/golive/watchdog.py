"""Which live districts have gone too long without a delivery.

A district is stale when its last delivery is older than the limit, or when it has never delivered
although its start date is older than the limit. Districts in ``qa`` mode and districts inside a
blackout window today are not watched: silence is expected there.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from roster.config import District
from roster.night.snapshot import Delivery

DEFAULT_STALE_AFTER_HOURS = 36


@dataclass(frozen=True)
class Stale:
    district_id: str
    name: str
    last_delivered: str | None  # roster date of the last delivery, None when never
    hours_since: float | None
    message: str


def find_stale(
    districts: list[District], deliveries: dict[str, Delivery | None], now: dt.datetime, stale_after_hours: float
) -> list[Stale]:
    """The watched districts whose last delivery is more than ``stale_after_hours`` old."""
    limit = dt.timedelta(hours=stale_after_hours)
    stale = []
    for district in districts:
        today = now.astimezone(district.tz).date()
        if district.mode != "live" or district.in_blackout(today):
            continue
        delivery = deliveries.get(district.district_id)
        if delivery is None or delivery.delivered_at is None:
            started = dt.datetime.combine(district.start_date, dt.time(), tzinfo=district.tz)
            if now - started > limit:
                stale.append(
                    Stale(
                        district.district_id,
                        district.name,
                        None,
                        None,
                        f"{district.district_id}: live since {district.start_date} and never delivered",
                    )
                )
            continue
        age = now - delivery.delivered_at
        if age > limit:
            hours = age.total_seconds() / 3600
            stale.append(
                Stale(
                    district.district_id,
                    district.name,
                    delivery.roster_date.isoformat(),
                    round(hours, 1),
                    f"{district.district_id}: last delivery {hours:.0f} hours ago (roster date {delivery.roster_date}), "
                    f"more than the limit of {stale_after_hours:g} hours",
                )
            )
    return stale
