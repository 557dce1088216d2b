"""Company data from Yahoo: profiles, statements in long format, and point-in-time joins.

`fetch_profiles` / `fetch_fundamentals` return a `FetchResult` (the prices' report type):
`.frame` in the contract of `schema`, `.report` per ticker (ok | failed | empty, reason).
"""

from memwise_assets.compute.company.availability import (
    DEFAULT_ITEMS,
    DEFAULT_LAGS_DAYS,
    availability_dates,
    filed_dates_frame,
    filed_dates_from_sections,
    join_fundamentals,
)
from memwise_assets.compute.company.edgar import filed_dates_from_submissions, read_filed_dates
from memwise_assets.compute.company.sample import SampleCompanySource
from memwise_assets.compute.company.schema import (
    FUNDAMENTAL_COLUMNS,
    PROFILE_COLUMNS,
    PROFILE_DTYPES,
    STATEMENT_ATTRS,
)
from memwise_assets.compute.company.source import CompanyDataError, CompanySource
from memwise_assets.compute.company.yahoo import YFinanceCompanySource

__all__ = [
    "DEFAULT_ITEMS",
    "DEFAULT_LAGS_DAYS",
    "FUNDAMENTAL_COLUMNS",
    "PROFILE_COLUMNS",
    "PROFILE_DTYPES",
    "STATEMENT_ATTRS",
    "CompanyDataError",
    "CompanySource",
    "SampleCompanySource",
    "YFinanceCompanySource",
    "availability_dates",
    "filed_dates_frame",
    "filed_dates_from_sections",
    "filed_dates_from_submissions",
    "join_fundamentals",
    "read_filed_dates",
]
