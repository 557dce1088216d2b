"""The one `dg.Definitions` of memwise (loaded by workspace.yaml and `dagster dev`)."""

from typing import Any

import dagster as dg

from memwise_assets.defs.automation import (
    purge_cache_on_cancel,
    purge_cache_on_failure,
    purge_cache_on_success,
    weekly_refresh_job,
    weekly_refresh_schedule,
)
from memwise_assets.defs.company.assets import (
    company_fundamentals,
    company_profiles,
    daily_with_fundamentals,
)
from memwise_assets.defs.company.resources import CompanyDataResource
from memwise_assets.defs.company.schedules import company_refresh_job, company_refresh_schedule
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
from memwise_assets.defs.intraday.assets import intraday_bars
from memwise_assets.defs.io_manager import ParquetIOManager
from memwise_assets.defs.labels.assets import weighted_labels
from memwise_assets.defs.labels.intraday import intraday_labels
from memwise_assets.defs.prices.assets import daily_bars
from memwise_assets.defs.prices.schedules import daily_prices_after_close, daily_prices_job
from memwise_assets.defs.recovery import recover_dead_runs_sensor
from memwise_assets.defs.resources import MemoryResource
from memwise_assets.defs.run_guard import memwise_executor
from memwise_assets.defs.scale import DASK_JOB_NAME, dask_asset_job
from memwise_assets.defs.weekly.assets import daily_with_weekly_features, weekly_features

ASSETS = [
    daily_bars,
    weekly_features,
    daily_with_weekly_features,
    weighted_labels,
    intraday_bars,
    intraday_labels,
    sec_filing_sections,
    filing_text_features,
    daily_with_filing_features,
    company_profiles,
    company_fundamentals,
    daily_with_fundamentals,
    sec_fundamentals,
    daily_with_sec_fundamentals,
]


def build_defs(
    memory: MemoryResource | None = None,
    io_manager: ParquetIOManager | None = None,
    filings: FilingsResource | None = None,
    company: CompanyDataResource | None = None,
    edgar: EdgarResource | None = None,
    executor: dg.ExecutorDefinition | None = None,
) -> dg.Definitions:
    """The definitions with these resources (defaults: everything under $DAGSTER_HOME).

    `executor`: the jobs' executor; default the run-guarded multiprocess one (a cluster
    passes its own).
    """
    return dg.Definitions(
        assets=ASSETS,
        jobs=[
            daily_prices_job,
            weekly_refresh_job,
            retry_dead_letters,
            edgar_download_job,
            company_refresh_job,
        ],
        schedules=[daily_prices_after_close, weekly_refresh_schedule, company_refresh_schedule],
        sensors=[
            filings_landing_sensor,
            dead_letter_sensor,
            edgar_sensor,
            purge_cache_on_failure,
            purge_cache_on_cancel,
            purge_cache_on_success,
            recover_dead_runs_sensor,
        ],
        resources={
            "memory": memory or MemoryResource(),
            "io_manager": io_manager or ParquetIOManager(),
            "filings": filings or FilingsResource(),
            # SEC requires a declared contact: runs of the EDGAR job refuse to start without.
            "edgar": edgar or EdgarResource(user_agent=dg.EnvVar("MEMWISE_EDGAR_USER_AGENT")),
            "company": company or CompanyDataResource(),
        },
        # Dagster's default executor, whose orchestrator records itself and mends dead runs
        # before claiming pool slots: a plain CLI backfill recovers from a killed one.
        executor=executor or memwise_executor,
    )


defs = build_defs()


def scale_defs(**resources: Any) -> dg.Definitions:
    """memwise's definitions plus the Dask refresh job (`build_defs` keyword arguments)."""
    return dg.Definitions.merge(build_defs(**resources), dg.Definitions(jobs=[dask_asset_job()]))


def dask_refresh_job() -> dg.JobDefinition:
    """The resolved Dask job, for `dg.reconstructable` (Dask workers rebuild it by name)."""
    return scale_defs().resolve_job_def(DASK_JOB_NAME)
