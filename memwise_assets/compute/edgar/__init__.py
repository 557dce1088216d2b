"""SEC EDGAR as a filings source: fair-access HTTP and the download of new 10-K/10-Qs."""

from memwise_assets.compute.edgar.client import (
    SEC_MAX_REQUESTS_PER_S,
    EdgarClient,
    EdgarError,
    check_user_agent,
    shared_limiter,
)
from memwise_assets.compute.edgar.source import (
    DATA_BASE_URL,
    FORMS,
    WWW_BASE_URL,
    CompanyReport,
    EdgarFiling,
    download_new_filings,
    filings_of,
    ticker_map,
)

__all__ = [
    "DATA_BASE_URL",
    "FORMS",
    "SEC_MAX_REQUESTS_PER_S",
    "WWW_BASE_URL",
    "CompanyReport",
    "EdgarClient",
    "EdgarError",
    "EdgarFiling",
    "check_user_agent",
    "download_new_filings",
    "filings_of",
    "shared_limiter",
    "ticker_map",
]
