"""The EDGAR source in Dagster: a resource, a download job, and a sensor that runs it.

Downloading is paced (the shared 10 requests/s limiter), not memory-bound: it streams one
document at a time to disk. It still runs as a memwise step (`edgar` budget): admitted on
the ledger, monitored, and under a step timeout, on top of each request's own deadline
and size cap. The landing sensor turns what it downloads into `sec_filing_sections`
partitions.
"""

from collections.abc import Sequence

import dagster as dg
from pydantic import Field, PrivateAttr, field_validator

from memwise_assets.compute.edgar import (
    DATA_BASE_URL,
    FORMS,
    SEC_MAX_REQUESTS_PER_S,
    WWW_BASE_URL,
    CompanyReport,
    EdgarClient,
    check_user_agent,
    download_new_filings,
)
from memwise_assets.compute.edgar.files import sweep_partials
from memwise_assets.compute.markdown import md_table
from memwise_assets.defs.filings.resources import FilingsResource
from memwise_assets.defs.resources import MemoryResource
from memwise_assets.defs.universe import UNIVERSE

PACING = (
    f"paced: at most {SEC_MAX_REQUESTS_PER_S} requests/s to EDGAR (one limiter per process), "
    "backoff on 429/503; not memory-bound (one document streamed to disk at a time); run "
    "as a memwise step: admitted on the ledger under the 'edgar' budget, monitored, with a "
    "step timeout, each request with its own deadline and size cap"
)
BUDGET = "edgar"


class EdgarResource(dg.ConfigurableResource):
    """SEC EDGAR: who we are (required by SEC), where it is, which companies and forms."""

    user_agent: str = Field(
        description="User-Agent declaring who you are and a contact e-mail (SEC requires "
        "it), e.g. 'Example Research research@example.com'."
    )
    tickers: list[str] = Field(default_factory=list, description="Tickers to follow.")
    ciks: list[int] = Field(default_factory=list, description="CIKs to follow.")
    forms: list[str] = Field(default_factory=lambda: ["10-K", "10-Q"], description="Forms.")
    since: str | None = Field(default=None, description="Only filings filed on/after (ISO).")
    data_base_url: str = Field(default=DATA_BASE_URL, description="Submissions API base URL.")
    www_base_url: str = Field(default=WWW_BASE_URL, description="Ticker map + archives URL.")
    full_history: bool = Field(
        default=False,
        description="Also read the older submission pages (default: the recent ~1,000 filings).",
    )
    retries: int = Field(default=4, description="Retries of a 429/503 response.")
    backoff_s: float = Field(default=1.0, description="First backoff delay; doubles.")
    _client: EdgarClient | None = PrivateAttr(default=None)

    @field_validator("user_agent", mode="before")
    @classmethod
    def _declares_contact(cls, value: str) -> str:
        # An EnvVar is resolved at run start, when the resource is built from its value.
        # Checked again on the resolved value when a run builds the resource.
        return value if isinstance(value, dg.EnvVar) else check_user_agent(value)

    @field_validator("forms")
    @classmethod
    def _known_forms(cls, value: list[str]) -> list[str]:
        bad = [f for f in value if f not in FORMS]
        if bad or not value:
            raise ValueError(f"forms must be among {list(FORMS)}; got {value}")
        return value

    def setup_for_execution(self, context: dg.InitResourceContext) -> None:
        self._client = self.edgar_client()

    def edgar_client(self) -> EdgarClient:
        """The run's EDGAR client: the shared pacing, this User-Agent, a deadline and a size
        cap per request, and redirects only to the two configured hosts."""
        return self._client or EdgarClient(
            self.user_agent,
            retries=self.retries,
            backoff_s=self.backoff_s,
            allowed_origins=[self.data_base_url, self.www_base_url],
        )

    def download(
        self, filings: FilingsResource, universe: Sequence[str] = ()
    ) -> list[CompanyReport]:
        """Download every new filing of the configured companies into the landing folder.

        Without tickers or ciks of its own, the resource follows `universe` (the tickers of
        the universe resource, the ones daily_bars and the company data read).
        """
        client = self.edgar_client()
        return download_new_filings(
            client,
            filings.landing,
            tickers=self.tickers or ([] if self.ciks else list(universe)),
            ciks=self.ciks,
            forms=self.forms,
            since=self.since,
            data_base_url=self.data_base_url.rstrip("/"),
            www_base_url=self.www_base_url.rstrip("/"),
            full_history=self.full_history,
        )


def _report_row(report: CompanyReport) -> dict[str, object]:
    return {
        "company": report.company,
        "cik": report.cik or "",
        "status": report.status,
        "downloaded": len(report.downloaded),
        "skipped": report.skipped,
        "failed": len(report.failed),
        "reason": report.reason[:300],
    }


# The limiter is per process; the pool (default limit 1, dagster.yaml) keeps EDGAR
# downloads to one at a time across runs, so the 10/s ceiling holds for the whole host.
@dg.op(out=dg.Out(dg.Nothing), pool="edgar", tags={"memwise/bound": "paced"})
def download_edgar_filings(
    context: dg.OpExecutionContext,
    edgar: EdgarResource,
    filings: FilingsResource,
    memory: MemoryResource,
) -> dg.Output:
    """Download new 10-K/10-Q primary documents with sidecar metadata into the landing folder."""
    # A memwise step like any asset's (memory.step): admitted, monitored, and timed out
    # (run tag memwise/timeout_s, else the edgar budget's) as a failure that says why.
    with memory.step(context, budget=BUDGET) as step:
        swept = sweep_partials(filings.landing) if filings.landing.is_dir() else []
        if swept:
            context.log.warning(f"swept {len(swept)} partial download(s) of an earlier run")
        # The deployment's universe ($MEMWISE_UNIVERSE or the sample's): a job cannot share
        # the assets' resource instance, and a run of this job has no run config of theirs.
        reports = download_new_filings_logged(context, edgar, filings, UNIVERSE.resolve())
        downloaded = sum(len(r.downloaded) for r in reports)
        # Its documents are durable (each written whole): the step's figures, as a store's.
        figures = step.finish(None, context.run_id, context.op.name, rows=downloaded)
    failed = [r for r in reports if r.status != "ok"]
    metadata = {
        "memwise/partials_swept": len(swept),
        "memwise/companies": len(reports),
        "memwise/companies_failed": len(failed),
        "memwise/filings_downloaded": downloaded,
        "memwise/filings_skipped": sum(r.skipped for r in reports),
        "memwise/bound": PACING,
        "memwise/company_reports": dg.MetadataValue.md(md_table([_report_row(r) for r in reports])),
        **figures,
    }
    if reports and all(r.status == "failed" for r in reports):
        raise dg.Failure(description="every company failed; see the reports", metadata=metadata)
    return dg.Output(None, metadata=metadata)


def download_new_filings_logged(
    context: dg.OpExecutionContext,
    edgar: EdgarResource,
    filings: FilingsResource,
    universe: Sequence[str] = (),
) -> list[CompanyReport]:
    """`edgar.download`, each company's outcome logged (failures as errors)."""
    reports = edgar.download(filings, universe)
    if not reports:
        context.log.warning("the edgar resource names no tickers or ciks: nothing to download")
    for r in reports:
        line = f"{r.company}: {r.status}, {len(r.downloaded)} new, {r.skipped} already here"
        if r.status == "ok":
            context.log.info(line)
        else:
            context.log.error(f"{line}, {len(r.failed)} failed: {r.reason}")
    return reports


@dg.job(description="Download new EDGAR 10-K/10-Q filings into the filings landing folder.")
def edgar_download_job() -> None:
    download_edgar_filings()


@dg.sensor(
    job=edgar_download_job,
    minimum_interval_seconds=3600,
    default_status=dg.DefaultSensorStatus.STOPPED,
)
def edgar_sensor(context: dg.SensorEvaluationContext) -> dg.RunRequest:
    """Look for new filings on EDGAR once an hour (the landing sensor does the rest)."""
    return dg.RunRequest()
