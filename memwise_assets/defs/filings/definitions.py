"""The filings domain's definitions: SEC filing sections, their features, the SEC facts,
the EDGAR download, and the sensors that land filings and retry dead letters."""

import dagster as dg

from memwise_assets.defs.filings.assets import sec_filing_sections
from memwise_assets.defs.filings.edgar import EdgarResource, edgar_download_job, edgar_sensor
from memwise_assets.defs.filings.features import daily_with_filing_features, filing_text_features
from memwise_assets.defs.filings.resources import FilingsResource
from memwise_assets.defs.filings.sec_fundamentals import (
    daily_with_sec_fundamentals,
    sec_fundamentals,
)
from memwise_assets.defs.filings.sensors import (
    dead_letter_sensor,
    filings_landing_sensor,
    retry_dead_letters,
)


def build(
    filings: FilingsResource | None = None, edgar: EdgarResource | None = None
) -> dg.Definitions:
    """The domain's definitions with these resources (defaults: the landing folder under
    $DAGSTER_HOME, and EDGAR with the contact in $MEMWISE_EDGAR_USER_AGENT)."""
    return dg.Definitions(
        assets=[
            sec_filing_sections,
            filing_text_features,
            daily_with_filing_features,
            sec_fundamentals,
            daily_with_sec_fundamentals,
        ],
        jobs=[retry_dead_letters, edgar_download_job],
        sensors=[filings_landing_sensor, dead_letter_sensor, edgar_sensor],
        resources={
            "filings": filings or FilingsResource(),
            # SEC requires a declared contact: runs of the EDGAR job refuse to start without.
            "edgar": edgar or EdgarResource(user_agent=dg.EnvVar("MEMWISE_EDGAR_USER_AGENT")),
        },
    )


defs = build()
