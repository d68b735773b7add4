"""The district page's trend charts, drawn server-side as inline SVG with matplotlib (no JavaScript,
nothing fetched by the browser: the page works offline). ``Figure`` is used without pyplot, so
drawing holds no global state and is safe in the api-server's threads."""

from __future__ import annotations

import io

from roster.rosters.summary import Night


class ChartsUnavailable(RuntimeError):
    """matplotlib is not installed (it is in requirements.in)."""


def _figure(title: str):
    try:
        from matplotlib.figure import Figure
    except ImportError as exc:
        raise ChartsUnavailable("the charts need matplotlib, which is not installed") from exc
    fig = Figure(figsize=(9, 2.6), dpi=96, layout="constrained")
    ax = fig.add_subplot()
    ax.set_title(title, fontsize=10, loc="left")
    ax.grid(axis="y", alpha=0.3)
    return fig, ax


def _svg(fig, dates: list[str]) -> str:
    for ax in fig.axes:
        step = max(1, len(dates) // 10)
        ax.set_xticks(range(0, len(dates), step), [dates[i][5:] for i in range(0, len(dates), step)], fontsize=7)
    out = io.StringIO()
    fig.savefig(out, format="svg", metadata={"Date": None})
    text = out.getvalue()
    return text[text.index("<svg") :]


def rows_delivered(nights: list[Night]) -> str:
    fig, ax = _figure("Rows delivered")
    ax.plot(range(len(nights)), [n.rows_delivered for n in nights], marker="o", markersize=3)
    return _svg(fig, [n.date for n in nights])


def reject_rate_by_reason(nights: list[Night]) -> str:
    """Each reason's share of the rows read, stacked per night."""
    fig, ax = _figure("Reject rate by reason (% of rows read)")
    reasons = sorted({r for n in nights for r in n.rejects_by_reason})
    bottom = [0.0] * len(nights)
    for reason in reasons:
        share = [100 * n.rejects_by_reason.get(reason, 0) / n.rows_read if n.rows_read else 0.0 for n in nights]
        ax.bar(range(len(nights)), share, bottom=bottom, label=reason)
        bottom = [b + s for b, s in zip(bottom, share, strict=True)]
    if reasons:
        ax.legend(fontsize=7, loc="upper left", ncols=min(4, len(reasons)))
    return _svg(fig, [n.date for n in nights])


def deactivations_and_carried(nights: list[Night]) -> str:
    fig, ax = _figure("Deactivated and carried students")
    ax.plot(
        range(len(nights)),
        [n.changes.get("deactivated", 0) for n in nights],
        marker="o",
        markersize=3,
        label="deactivated",
    )
    ax.plot(
        range(len(nights)), [n.changes.get("carried", 0) for n in nights], marker="s", markersize=3, label="carried"
    )
    ax.legend(fontsize=7, loc="upper left")
    return _svg(fig, [n.date for n in nights])


def all_charts(nights: list[Night]) -> dict[str, str]:
    """The three charts, oldest night on the left."""
    ordered = sorted(nights, key=lambda n: n.date)
    return {
        "rows_delivered": rows_delivered(ordered),
        "reject_rate": reject_rate_by_reason(ordered),
        "deactivations": deactivations_and_carried(ordered),
    }
