"""The company domain's definitions: Yahoo profiles and statements, their daily join and
their weekly refresh."""

import dagster as dg

from memwise_assets.defs.company.assets import (
    company_fundamentals,
    company_profiles,
    daily_with_fundamentals,
)
from memwise_assets.defs.company.resources import CompanyDataResource
from memwise_assets.defs.company.schedules import company_refresh_job, company_refresh_schedule


def build(company: CompanyDataResource | None = None) -> dg.Definitions:
    """The domain's definitions with this company-data resource (default: the configured
    source, as `CompanyDataResource` builds it)."""
    return dg.Definitions(
        assets=[company_profiles, company_fundamentals, daily_with_fundamentals],
        jobs=[company_refresh_job],
        schedules=[company_refresh_schedule],
        resources={"company": company or CompanyDataResource()},
    )


defs = build()
