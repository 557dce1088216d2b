"""EDGAR acceptance times: one parser for every source, and the per-filer clock of EDGAR's JSON.

Sources and what their clock is:

- the SGML header's `ACCEPTANCE-DATETIME` (`20220204201127`): always New York time;
- EDGAR's JSON `acceptanceDateTime` (`2022-02-04T20:11:27.000Z`), in the submissions API and
  copied into sidecars: New York clock time for some filers and true UTC for others (the
  'Z' is not to be believed), consistent per filer. `filer_clock` decides which from the
  filer's own filings: EDGAR gives a filing accepted after 17:30 New York the next business
  day's filing date, so each reading predicts every filing date, and the reading whose
  predictions fail is wrong. Unresolved, the New York reading is taken: New York is behind
  UTC, so it is the later instant, and a value is never public earlier than it truly was;
- a string with an explicit numeric offset (`+00:00`, `-05:00`): that instant.

New York times that do not exist (the spring-forward gap) move forward to the first time
that does; repeated times (the fall-back fold) take the later instant. Both are later than
or equal to the truth, for the same reason.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Sequence
from datetime import time
from typing import Literal

import numpy as np
import pandas as pd
from pandas.tseries.holiday import USFederalHolidayCalendar
from pandas.tseries.offsets import CustomBusinessDay

NEW_YORK = "America/New_York"
EASTERN: Literal["eastern"] = "eastern"
UTC: Literal["utc"] = "utc"
Clock = Literal["eastern", "utc"]
# EDGAR's filing-date cut-off: accepted after 17:30 New York -> the next business day.
EDGAR_CUTOFF = time(17, 30)
# Evidence comes from filings the filer submits under the 17:30 rule: reports, proxies,
# registrations. Section 16 forms (3, 4, 5) keep their day until 22:00, and the SEC's own
# entries (CORRESP, UPLOAD, EFFECT, orders, letters) are dated by other rules.
_EVIDENCE_FORMS = ("10-", "8-K", "6-K", "20-F", "40-F", "DEF ", "DEFA", "S-", "424B", "SC 13")
# UTC is believed only when the New York reading fails this many times as often.
_EVIDENCE_RATIO = 10
_SGML = re.compile(r"^\d{14}$")
_OFFSET = re.compile(r"[+-]\d{2}:?\d{2}$")


@functools.cache
def _edgar_day() -> CustomBusinessDay:
    # Built on first use: the holiday rules cost about 70 ms, paid by every import otherwise.
    return CustomBusinessDay(calendar=USFederalHolidayCalendar())


def _localize_new_york(stamp: pd.Timestamp) -> pd.Timestamp:
    """A naive New York clock time as an instant: gaps forward, folds to the later one."""
    return stamp.tz_localize(NEW_YORK, nonexistent="shift_forward", ambiguous=False)


def parse_acceptance(value: object, *, clock: Clock = EASTERN) -> pd.Timestamp | None:
    """An acceptance time from any source as a UTC instant; None when absent or unreadable.

    clock: how a time without a believable offset reads (EDGAR's JSON 'Z' strings and naive
    times): "eastern" (the default, the later instant) or "utc" (a filer `filer_clock`
    found to write true UTC). 14-digit SGML header times are always New York time.
    """
    if value is None or (not isinstance(value, str) and pd.isna(value)):
        return None
    if isinstance(value, pd.Timestamp | np.datetime64):
        stamp = pd.Timestamp(value)
        if stamp.tzinfo is not None:
            return stamp.tz_convert("UTC")
        text = None
    else:
        text = str(value).strip()
        if not text:
            return None
        if _SGML.fullmatch(text):
            try:
                return _localize_new_york(pd.Timestamp(text)).tz_convert("UTC")
            except ValueError:
                return None
        if _OFFSET.search(text):
            try:
                return pd.Timestamp(text).tz_convert("UTC")
            except (ValueError, TypeError):
                return None
        text = text.rstrip("Zz")
        try:
            stamp = pd.Timestamp(text)
        except ValueError:
            return None
        if stamp.tzinfo is not None:
            return stamp.tz_convert("UTC")
    if clock == UTC:
        return stamp.tz_localize("UTC")
    return _localize_new_york(stamp).tz_convert("UTC")


def predicted_filing_date(accepted: pd.Timestamp) -> pd.Timestamp:
    """The filing date EDGAR gives a filing accepted at `accepted` (an instant)."""
    local = accepted.tz_convert(NEW_YORK)
    day = pd.Timestamp(local.date())
    edgar_day = _edgar_day()
    if local.time() >= EDGAR_CUTOFF or not edgar_day.is_on_offset(day):
        return day + edgar_day
    return day


def clock_mismatches(
    acceptances: Sequence[object], filing_dates: Sequence[object], forms: Sequence[object]
) -> dict[Clock, int]:
    """For each reading, how many of a filer's filings get another date than EDGAR gave."""
    counts: dict[Clock, int] = {EASTERN: 0, UTC: 0}
    for raw, filed, form in zip(acceptances, filing_dates, forms, strict=False):
        if not raw or not filed or not str(form).startswith(_EVIDENCE_FORMS):
            continue
        if _OFFSET.search(str(raw)):
            continue
        try:
            filed_day = pd.Timestamp(filed).normalize()
        except ValueError:
            continue
        for clock in (EASTERN, UTC):
            at = parse_acceptance(raw, clock=clock)
            if at is not None and predicted_filing_date(at) != filed_day:
                counts[clock] += 1
    return counts


def filer_clock(submissions: dict[str, object] | None) -> Clock:
    """The clock of one filer's EDGAR JSON acceptance times, from its submissions data.

    "utc" only when the New York reading mispredicts filing dates at least ten times as
    often as the UTC reading (and at least once); else "eastern", the later instant.
    """
    recent = ((submissions or {}).get("filings") or {}).get("recent") or {}
    if not isinstance(recent, dict):
        return EASTERN
    counts = clock_mismatches(
        recent.get("acceptanceDateTime") or [],
        recent.get("filingDate") or [],
        recent.get("form") or [],
    )
    if counts[EASTERN] > 0 and counts[UTC] * _EVIDENCE_RATIO <= counts[EASTERN]:
        return UTC
    return EASTERN
