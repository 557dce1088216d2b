"""The one `dg.Definitions` of memwise (loaded by workspace.yaml and `dagster dev`).

Each domain of `defs/` contributes its own definitions (`defs/<domain>/definitions.py`: its
assets, jobs, schedules and sensors, and the resources only it uses); the platform
(`defs/platform.py`) contributes the memory resource, the IO manager, the executor and the
run-status and recovery sensors. This module merges them and nothing else.
"""

from typing import Any

import dagster as dg

from memwise_assets.defs import platform
from memwise_assets.defs.company import definitions as company_domain
from memwise_assets.defs.company.resources import CompanyDataResource
from memwise_assets.defs.filings import definitions as filings_domain
from memwise_assets.defs.filings.edgar import EdgarResource
from memwise_assets.defs.filings.resources import FilingsResource
from memwise_assets.defs.intraday import definitions as intraday
from memwise_assets.defs.io_manager import ParquetIOManager
from memwise_assets.defs.labels import definitions as labels
from memwise_assets.defs.prices import definitions as prices
from memwise_assets.defs.resources import MemoryResource
from memwise_assets.defs.scale import DASK_JOB_NAME, dask_asset_job
from memwise_assets.defs.weekly import definitions as weekly

# The domains whose definitions hold no resource of their own, as they are.
_STATIC_DOMAINS = (prices.defs, weekly.defs, labels.defs, intraday.defs)

# Every asset of every domain, in the order of the graph's domains.
ASSETS = [
    asset
    for domain in (*_STATIC_DOMAINS, filings_domain.defs, company_domain.defs)
    for asset in domain.assets or ()
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
    return dg.Definitions.merge(
        platform.build(memory=memory, io_manager=io_manager, executor=executor),
        *_STATIC_DOMAINS,
        filings_domain.build(filings=filings, edgar=edgar),
        company_domain.build(company=company),
    )


defs = build_defs()


def scale_defs(**resources: Any) -> dg.Definitions:
    """memwise's definitions plus the Dask refresh job (`build_defs` keyword arguments)."""
    return dg.Definitions.merge(build_defs(**resources), dg.Definitions(jobs=[dask_asset_job()]))


def dask_refresh_job() -> dg.JobDefinition:
    """The resolved Dask job, for `dg.reconstructable` (Dask workers rebuild it by name)."""
    return scale_defs().resolve_job_def(DASK_JOB_NAME)
