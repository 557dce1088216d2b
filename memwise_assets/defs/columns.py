"""What every column of every memwise asset means: the Columns table of Dagster's UI.

Each asset's decorator attaches its schema as definition metadata (`dagster/column_schema`);
the UI merges these descriptions into the column types each materialization records. To
describe a new asset or column: add `col(name, type, description)` lines to `SCHEMAS`, and
`metadata=column_metadata("<asset>")` to the asset. A test walks every asset of `defs`.
"""

from __future__ import annotations

import dagster as dg

COLUMN_SCHEMA_KEY = "dagster/column_schema"


def col(name: str, type: str, description: str) -> dg.TableColumn:
    """One described column (`type` as the Parquet file stores it, e.g. float64, category)."""
    if not description.strip():
        raise ValueError(f"column {name!r} needs a description")
    return dg.TableColumn(name=name, type=type, description=description)


def table(*columns: dg.TableColumn | tuple[dg.TableColumn, ...]) -> dg.TableSchema:
    """A schema from columns and groups of columns, in order; a repeated name is an error."""
    flat = [c for item in columns for c in ((item,) if isinstance(item, dg.TableColumn) else item)]
    names = [c.name for c in flat]
    repeated = sorted({n for n in names if names.count(n) > 1})
    if repeated:
        raise ValueError(f"columns declared twice: {repeated}")
    return dg.TableSchema(columns=flat)


def column_metadata(asset: str) -> dict[str, dg.TableSchema]:
    """The definition metadata that gives `asset` its described columns."""
    if asset not in SCHEMAS:
        raise KeyError(
            f"no column schema for {asset!r} in defs/columns.py; known: {sorted(SCHEMAS)}"
        )
    return {COLUMN_SCHEMA_KEY: SCHEMAS[asset]}


SYMBOL = col("symbol", "category", "Ticker or contract symbol (upper case, e.g. AAPL, BRK-B).")
DATE = col("date", "datetime64[ns]", "NYSE trading day of the row (tz-naive, midnight).")
OHLC = (
    col("open", "float64", "First trade price of the day (split-adjusted, dividends not)."),
    col("high", "float64", "Highest trade price of the day (split-adjusted)."),
    col("low", "float64", "Lowest trade price of the day (split-adjusted)."),
    col("close", "float64", "Last trade price of the day (split-adjusted, dividends not)."),
)
ADJ_CLOSE = col(
    "adj_close", "float64", "Close adjusted for splits and dividends (total-return series)."
)
VOLUME = col("volume", "int64", "Shares traded that day.")

WEEKLY_FEATURES = (
    col(
        "ret_1w",
        "float64",
        "Simple return of the week: this week's close over last week's, minus 1.",
    ),
    col("ret_4w", "float64", "Simple return over the last 4 weeks."),
    col("ret_13w", "float64", "Simple return over the last 13 weeks (a quarter)."),
    col("ret_26w", "float64", "Simple return over the last 26 weeks."),
    col("ret_52w", "float64", "Simple return over the last 52 weeks (a year)."),
    col("vol_13w", "float64", "Standard deviation of weekly log returns over 13 weeks."),
    col(
        "rsi_14w", "float64", "Relative strength index of weekly closes, EWM over 14 weeks (0-100)."
    ),
    col(
        "atr_14w",
        "float64",
        "Average true range of weekly bars over 14 weeks, relative to the close.",
    ),
    col("range_1w", "float64", "The week's high-low range relative to its close."),
    col("volume_z_13w", "float64", "The week's volume as a z-score against the last 13 weeks."),
    col("dist_52w_high", "float64", "Close over the 52-week high, minus 1 (<= 0)."),
    col(
        "sma_ratio_4_13", "float64", "4-week over 13-week simple moving average of closes, minus 1."
    ),
)


def _label_columns(mode: str = "base") -> tuple[dg.TableColumn, ...]:
    note = f" ('{mode}' is the labelling mode's name: one set of columns per configured mode)"
    return (
        col(f"label_{mode}", "int8", "Triple-barrier label: 1 profit-take first, -1 stop-loss "
            "first, 0 vertical barrier (or not an event: see is_event_)" + note + "."),
        col(f"weight_{mode}", "float32", "Sample weight: return attribution x average "
            "uniqueness over (t_in, t_out], with time decay; 0 for non-events."),
        col(f"uniq_{mode}", "float32", "Average uniqueness of the event's span (1 = overlaps "
            "no other event)."),
        col(f"exit_{mode}", "int16", "Bars from entry to the first barrier touched (0 for "
            "non-events)."),
        col(f"is_event_{mode}", "bool", "True for events; False for rows that are none "
            "(warm-up, zero vol, a segment's last bar), which hold label 0 and weight 0."),
    )  # fmt: skip


FILING_ID = col("filing_id", "string", "Stable id of the filing (file name stem and content hash).")
# cik, company, ticker, period_of_report, filed_date, accepted_at, accession,
# filed_date_unknown: where a filing comes from and when it became public.
FILING_IDENTITY = (
    col("cik", "Int64", "SEC Central Index Key of the filer."),
    col("company", "string", "Company name as the filing states it."),
    col("ticker", "string", "Trading symbol from the filing's XBRL cover page or EDGAR."),
    col("period_of_report", "datetime64[ns]", "Last day of the period the filing reports on."),
    col("filed_date", "datetime64[ns]", "Date EDGAR received the filing."),
    col("accepted_at", "datetime64[ns, UTC]", "When EDGAR accepted the filing (UTC)."),
    col("accession", "string", "EDGAR accession number (0000320193-24-000123)."),
    col("filed_date_unknown", "bool", "True when no source gave a filing date: never joined."),
)
FILING_LENGTHS = (
    col("n_items", "int32", "Items found in the filing."),
    col("n_chars", "int32", "Characters of all Items."),
    col("n_sentences", "int32", "Sentences of all Items."),
    col("n_chars_1a", "int32", "Characters of Item 1A, risk factors (10-Q: Part II 1A)."),
    col("n_sentences_1a", "int32", "Sentences of Item 1A."),
    col("n_chars_7", "int32", "Characters of Item 7, MD&A (10-Q: Part I Item 2)."),
    col("n_sentences_7", "int32", "Sentences of Item 7."),
)
FILING_SIMILARITIES = tuple(
    col(f"{measure}_{scope}", "float32", f"{text} similarity of {where} to the previous "
        "same-form filing (1 = unchanged, NaN = nothing to compare).")
    for scope, where in (("1a", "Item 1A"), ("7", "Item 7"), ("all", "the whole text"))
    for measure, text in (("cosine", "Cosine term-frequency"), ("jaccard", "Jaccard word-set"))
)  # fmt: skip

COMPANY_FIGURES = (
    col("revenue", "float64", "Total revenue of the period carried (income statement, USD)."),
    col("gross_profit", "float64", "Gross profit of the period carried (absent for banks)."),
    col("operating_income", "float64", "Operating income of the period carried."),
    col("net_income", "float64", "Net income of the period carried."),
    col("total_assets", "float64", "Total assets at the end of the period carried."),
    col("stockholders_equity", "float64", "Stockholders' equity at the period end."),
    col("cash", "float64", "Cash and cash equivalents at the period end."),
    col("operating_cash_flow", "float64", "Operating cash flow of the period carried."),
    col("free_cash_flow", "float64", "Free cash flow (operating cash flow + capex)."),
)

SCHEMAS: dict[str, dg.TableSchema] = {
    "daily_bars": table(SYMBOL, DATE, OHLC, ADJ_CLOSE, VOLUME),
    "weekly_features": table(
        SYMBOL,
        col("week_end", "datetime64[ns]", "Friday (W-FRI label) of the calendar week."),
        WEEKLY_FEATURES,
    ),
    "daily_with_weekly_features": table(
        SYMBOL,
        DATE,
        OHLC,
        ADJ_CLOSE,
        VOLUME,
        col(
            "week_end",
            "datetime64[ns]",
            "Friday of the week whose features the row carries (NaT: none available yet).",
        ),
        WEEKLY_FEATURES,
    ),  # fmt: skip
    "weighted_labels": table(SYMBOL, DATE, OHLC[3], ADJ_CLOSE, _label_columns()),
    "intraday_bars": table(
        SYMBOL,
        col("timestamp", "datetime64[us]", "Bar close time as the vendor file gives it."),
        col("open", "float64", "First price of the bar."),
        col("high", "float64", "Highest price of the bar."),
        col("low", "float64", "Lowest price of the bar."),
        col("close", "float64", "Last price of the bar."),
        col("volume", "float64", "Volume of the bar (cum_vol of mlfinlab bars)."),
    ),
    "sec_filing_sections": table(
        FILING_ID,
        FILING_IDENTITY[:2],
        col("form", "category", "10-K or 10-Q."),
        FILING_IDENTITY[3:7],
        FILING_IDENTITY[2],
        FILING_IDENTITY[7],
        col(
            "item",
            "category",
            "Item of the form (1, 1A, 7, ... for 10-K; P1-2, P2-1A, ... for 10-Q).",
        ),
        col("title", "string", "Item heading as the filing writes it."),
        col("text", "string", "Cleaned plain text of the Item."),
        col("n_chars", "int32", "Characters of the text."),
        col("n_sentences", "int32", "Sentences of the text (spaCy sentencizer)."),
        col("n_tokens", "int32", "Tokens of the text (spaCy tokenizer)."),
        col(
            "source",
            "category",
            "Where the Item's text is: body, not-applicable, "
            "cross-reference or incorporated-by-reference.",
        ),
        col(
            "boundary",
            "category",
            "How the Item's extent was found: heading, combined, page or index.",
        ),
    ),  # fmt: skip
    "filing_text_features": table(
        FILING_ID,
        FILING_IDENTITY[:2],
        FILING_IDENTITY[2],
        col("form", "string", "10-K or 10-Q."),
        FILING_IDENTITY[3:],
        FILING_LENGTHS,
        col(
            "prev_filing_id",
            "string",
            "The same company's previous filing of the same form "
            "that the similarities compare with (null for its first).",
        ),
        FILING_SIMILARITIES,
    ),  # fmt: skip
    "daily_with_filing_features": table(
        SYMBOL,
        DATE,
        OHLC,
        VOLUME,
        col(
            "filing_id",
            "string",
            "Latest filing of the symbol public before the row's session opened (null before any).",
        ),
        col("form", "string", "Form of that filing: 10-K or 10-Q."),
        FILING_IDENTITY[6],
        FILING_IDENTITY[5],
        FILING_IDENTITY[4],
        FILING_IDENTITY[3],
        col(
            "public_session",
            "datetime64[ns]",
            "First session whose 09:30 open came after the "
            "filing's acceptance (date only: the session after the filing date).",
        ),
        FILING_LENGTHS,
        FILING_SIMILARITIES,
    ),  # fmt: skip
    "company_profiles": table(
        col("ticker", "category", "Ticker as requested (upper case)."),
        col("name", "string", "Company name (Yahoo longName, else shortName)."),
        col("quote_type", "category", "EQUITY, ETF, MUTUALFUND, ...: filter universes on it."),
        col("sector", "category", "Yahoo sector (e.g. Technology, Financial Services)."),
        col("industry", "category", "Yahoo industry (e.g. Consumer Electronics)."),
        col("exchange", "category", "Yahoo exchange code (NMS = Nasdaq GS, NYQ = NYSE)."),
        col("exchange_name", "category", "Exchange name (e.g. NasdaqGS, NYSE)."),
        col("currency", "category", "Currency of the quote."),
        col("financial_currency", "category", "Currency of the financial statements."),
        col("country", "category", "Country of the company's address."),
        col("market_cap", "float64", "Market capitalisation at fetch time, quote currency."),
        col("shares_outstanding", "Int64", "Shares outstanding at fetch time."),
        col("float_shares", "Int64", "Shares available to trade (float) at fetch time."),
        col("average_volume", "Int64", "Average daily volume (3 months): a liquidity filter."),
        col("price", "float64", "Last price at fetch time."),
        col("first_trade_date", "datetime64[ns]", "First trading day Yahoo knows: listing age."),
        col("employees", "Int64", "Full-time employees."),
        col(
            "fetched_at",
            "datetime64[ns]",
            "When the profile was fetched (UTC): a snapshot, not point in time.",
        ),
    ),  # fmt: skip
    "company_fundamentals": table(
        col("ticker", "category", "Ticker as requested (upper case)."),
        col("statement", "category", "income, balance_sheet or cash_flow."),
        col("line_item", "category", "Yahoo line item key (e.g. TotalRevenue, NetIncome)."),
        col("period_end", "datetime64[ns]", "Last day of the fiscal period (Yahoo month end)."),
        col("frequency", "category", "quarterly or annual."),
        col(
            "value",
            "float64",
            "Reported value (USD or per share for EPS): float64 keeps "
            "every digit of a 12-digit revenue.",
        ),
        col(
            "fetched_at",
            "datetime64[ns]",
            "When the statement was fetched (UTC): Yahoo's "
            "figures are not point in time, join through daily_with_fundamentals.",
        ),
    ),  # fmt: skip
    "daily_with_fundamentals": table(
        SYMBOL,
        DATE,
        OHLC[3],
        COMPANY_FIGURES,
        col(
            "period_end",
            "datetime64[ns]",
            "Fiscal period whose figures the row carries: "
            "the latest available on the row's date (NaT before any).",
        ),
        col(
            "available_date",
            "datetime64[ns]",
            "First session those figures may be used: the session after "
            "the filing date, else after the assumed filer's deadline (default 50 days for "
            "quarters, 105 for years and fiscal-year-end quarters).",
        ),
        col("availability", "category", "filed (EDGAR filing date known) or lag (convention)."),
    ),  # fmt: skip
}
SCHEMAS["intraday_labels"] = table(*SCHEMAS["intraday_bars"].columns, _label_columns())

_SEC_ITEMS = (
    ("revenue", "Revenue (USD)"),
    ("net_income", "Net income (USD)"),
    ("eps_diluted", "Diluted EPS (USD per share)"),
    ("total_assets", "Total assets (USD)"),
    ("total_liabilities", "Total liabilities (USD)"),
    ("equity", "Stockholders' equity (USD)"),
    ("operating_cash_flow", "Operating cash flow (USD)"),
    ("shares_outstanding", "Common shares outstanding"),
)
SCHEMAS["sec_fundamentals"] = table(
    col("cik", "int64", "SEC Central Index Key of the company."),
    col("ticker", "string", "Ticker the company was followed by (null when followed by CIK)."),
    col("taxonomy", "string", "XBRL taxonomy of the concept: us-gaap or dei."),
    col("concept", "string", "XBRL concept (e.g. Revenues, NetIncomeLoss)."),
    col("unit", "string", "Unit of the value (USD, USD/shares, shares)."),
    col("period_start", "datetime64[ns]", "First day of a duration fact (NaT for instants)."),
    col("period_end", "datetime64[ns]", "Last day of the period, or the instant."),
    col("fiscal_year", "Int64", "Fiscal year of the filing that reported the value (fy)."),
    col("fiscal_period", "string", "Fiscal period of that filing: Q1, Q2, Q3, FY (fp)."),
    col("form", "string", "Form that reported the value: 10-Q, 10-K, 10-K/A, ..."),
    col("accession", "string", "Accession number of the filing that reported the value."),
    col("filed_date", "datetime64[ns]", "EDGAR filing date of that filing."),
    col(
        "accepted_at",
        "datetime64[ns, UTC]",
        "Acceptance time of that filing (submissions data, read on the filer's clock; "
        "NaT where not listed).",
    ),
    col("value", "float64", "The value as this filing reported it."),
    col(
        "line_item",
        "string",
        "Standard line item the row stands for (revenue, net_income, ...), null otherwise.",
    ),
    col(
        "public_session",
        "datetime64[ns]",
        "First session whose 09:30 open came after the acceptance (date only: the session "
        "after the filing date).",
    ),
    col("first_reported", "bool", "This report is the fact's first: the first-reported view."),
    col("restated", "bool", "This report changed the value the report before it gave."),
    col("latest", "bool", "This report set the value the fact has now: the latest view."),
)
SCHEMAS["daily_with_sec_fundamentals"] = table(
    SYMBOL,
    DATE,
    OHLC[3],
    *(
        (
            col(item, "float64", f"{label} of the latest period public before the session "
                "opened (first reported or as known then; NaN before any or when stale)."),
            col(f"{item}_period_end", "datetime64[ns]", f"Period end of that {item} value."),
            col(f"{item}_accession", "string", f"Filing that reported that {item} value."),
        )
        for item, label in _SEC_ITEMS
    ),
)  # fmt: skip
