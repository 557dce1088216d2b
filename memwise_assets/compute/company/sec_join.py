"""Daily rows carrying SEC fundamentals public before their session opened.

Per line item, a row carries the value of the latest period public by its session (the
`public_session` of the one rule), either as first reported (`view="first_reported"`, the
default: a restatement never reaches back) or as known then (`view="as_known"`: a restated
value counts from the restatement's own public session). A period public after a newer one
never steps a row back. A value is carried at most `max_age_days` after its period ended.

Periods: `frequency="quarterly"` takes durations of 80-100 days (three months) and every
instant; `"annual"` durations of 340-380 days and instants first reported as fiscal year
ends (fiscal_period FY).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from memwise_assets.compute.company.availability import DEFAULT_MAX_AGE_DAYS
from memwise_assets.compute.company.sec_facts import LINE_ITEMS
from memwise_assets.compute.point_in_time import PUBLIC_COLUMN, as_dates

VIEWS = ("first_reported", "as_known")
_DURATION_DAYS = {"quarterly": (80, 100), "annual": (340, 380)}


def _periods(facts: pd.DataFrame, frequency: str) -> pd.DataFrame:
    items = facts[facts["line_item"].notna()].astype(
        {"period_start": "datetime64[ns]", "period_end": "datetime64[ns]"}
    )
    kind = items["line_item"].map({k: v[0] for k, v in LINE_ITEMS.items()})
    days = (items["period_end"] - items["period_start"]).dt.days
    low, high = _DURATION_DAYS[frequency]
    duration = (kind == "duration") & days.between(low, high)
    instant = (kind == "instant") & items["period_start"].isna()
    if frequency == "annual":
        fy_ends = items.loc[items["first_reported"] & (items["fiscal_period"] == "FY")]
        known = set(zip(fy_ends["cik"], fy_ends["period_end"], strict=True))
        keys = zip(items["cik"], items["period_end"], strict=True)
        instant &= np.fromiter((k in known for k in keys), dtype=bool, count=len(items))
    return items[duration | instant]


def sec_daily(
    daily: pd.DataFrame,
    facts: pd.DataFrame,
    *,
    view: str = "first_reported",
    frequency: str = "quarterly",
    items: Sequence[str] | None = None,
    max_age_days: int | None = -1,
) -> pd.DataFrame:
    """Daily rows (symbol, date, ...) with `<item>`, `<item>_period_end`, `<item>_accession`.

    facts: `sec_fundamentals` rows; max_age_days: -1 for DEFAULT_MAX_AGE_DAYS of the
    frequency, None for no limit. Rows keep the order and columns of `daily`.
    """
    if view not in VIEWS:
        raise ValueError(f"view must be one of {VIEWS}; got {view!r}")
    if frequency not in _DURATION_DAYS:
        raise ValueError(f"frequency must be one of {sorted(_DURATION_DAYS)}; got {frequency!r}")
    missing = [c for c in ("symbol", "date") if c not in daily.columns]
    if missing:
        raise ValueError(f"daily rows need columns symbol, date; missing {missing}")
    items = list(LINE_ITEMS) if items is None else list(items)
    if max_age_days == -1:
        max_age_days = DEFAULT_MAX_AGE_DAYS[frequency]
    chosen = _periods(facts, frequency)
    chosen = chosen[
        chosen["first_reported"] | (chosen["restated"] if view == "as_known" else False)
    ]
    chosen = chosen[chosen["ticker"].notna() & chosen[PUBLIC_COLUMN].notna()]
    left = pd.DataFrame(
        {
            "_symbol": daily["symbol"].astype(str).str.upper().to_numpy(),
            "_date": as_dates(daily["date"]).to_numpy(),
            "_row": np.arange(len(daily)),
        }
    ).sort_values("_date", kind="stable")
    out = left
    for item in items:
        events = chosen[chosen["line_item"] == item]
        events = pd.DataFrame(
            {
                "_symbol": events["ticker"].astype(str).str.upper(),
                "_date": events[PUBLIC_COLUMN].astype("datetime64[ns]"),
                "_accepted": events["accepted_at"],
                item: events["value"].astype("float64"),
                f"{item}_period_end": events["period_end"].astype("datetime64[ns]"),
                f"{item}_accession": events["accession"].astype(object),
            }
        ).sort_values(["_symbol", "_date", "_accepted", f"{item}_period_end"], kind="stable")
        # A period older than one already public never steps the row back.
        newest = events.groupby("_symbol")[f"{item}_period_end"].cummax()
        events = events[events[f"{item}_period_end"] >= newest].drop(columns="_accepted")
        # Several reports public at one session: the last (latest accepted) stands.
        events = events.drop_duplicates(["_symbol", "_date"], keep="last").sort_values("_date")
        out = pd.merge_asof(
            out.sort_values("_date", kind="stable"),
            events,
            on="_date",
            by="_symbol",
            direction="backward",
        )
        if max_age_days is not None:
            stale = (out["_date"] - out[f"{item}_period_end"]) > pd.Timedelta(days=max_age_days)
            for column in (item, f"{item}_period_end", f"{item}_accession"):
                out[column] = out[column].mask(stale)
    out = out.sort_values("_row").reset_index(drop=True)
    added = [c for item in items for c in (item, f"{item}_period_end", f"{item}_accession")]
    attached = out[added].set_axis(daily.index)
    kept = daily.drop(columns=[c for c in added if c in daily.columns])
    return pd.concat([kept, attached], axis=1)
