"""The EDGAR job in Dagster: refuses to start without a contact, reports per company,
says it is paced, and leaves documents the landing sensor turns into partitions."""

from __future__ import annotations

import json
import time
from pathlib import Path

import dagster as dg
import pytest

from memwise_assets.compute.edgar import SEC_MAX_REQUESTS_PER_S, filings_of
from memwise_assets.defs.figures import StepFigures
from memwise_assets.defs.filings.edgar import EdgarResource, edgar_download_job, edgar_sensor
from memwise_assets.defs.filings.resources import FilingsResource
from memwise_assets.defs.filings.sensors import filings_landing_sensor
from memwise_assets.defs.resources import MemoryResource
from memwise_assets_tests.builders.edgar_server import (
    TESLA_CIK,
    max_in_any_second,
    recorded_edgar,
    serving,
)

AGENT = "memwise tests tests@example.com"


def _run(
    edgar: EdgarResource, landing: Path, tags: dict[str, str] | None = None
) -> dg.ExecuteInProcessResult:
    filings = FilingsResource(landing_dir=str(landing), dead_letter_path=str(landing.parent / "d"))
    memory = MemoryResource(home_dir=str(landing.parent / "memwise"))
    defs = dg.Definitions(
        jobs=[edgar_download_job],
        resources={"edgar": edgar, "filings": filings, "memory": memory},
    )
    return defs.resolve_job_def("edgar_download_job").execute_in_process(
        instance=dg.DagsterInstance.ephemeral(), raise_on_error=False, tags=tags
    )


def _refusal(edgar: EdgarResource, landing: Path) -> str:
    """Why the run did not start (Dagster raises some refusals, reports others)."""
    try:
        result = _run(edgar, landing)
    except Exception as exc:
        return f"{exc} {exc.__cause__}"
    assert not result.success
    return " ".join(str(e.event_specific_data) for e in result.all_events if e.is_failure)


def test_job_downloads_reports_failures_and_says_it_is_paced(tmp_path: Path) -> None:
    landing = tmp_path / "landing"
    edgar = recorded_edgar()
    edgar.faults["/submissions/CIK0000051143.json"] = [503] * 10
    with serving(edgar):
        resource = EdgarResource(
            user_agent=AGENT,
            tickers=["TSLA", "IBM"],
            data_base_url=edgar.base_url,
            www_base_url=edgar.base_url,
            retries=1,
            backoff_s=0.01,
        )
        result = _run(resource, landing)
    assert result.success
    # The process-wide limiter the job's resource uses kept EDGAR's ceiling.
    assert max_in_any_second([t for t, _, _ in edgar.log]) <= SEC_MAX_REQUESTS_PER_S
    [output] = [e for e in result.all_events if e.event_type_value == "STEP_OUTPUT"]
    meta = output.event_specific_data.metadata
    assert meta["memwise/filings_downloaded"].value == 8
    # A memwise step like any asset's: its figures under the edgar budget, with its timeout.
    figures = StepFigures.from_metadata(meta)
    assert figures is not None and figures.step == "download_edgar_filings"
    assert (figures.limit_mb, figures.estimate_mb, figures.estimator) == (512.0, 256.0, "static")
    assert (figures.timeout_s, figures.timeout_basis) == (3600.0, "static")
    assert figures.peak_rss_mb > 0 and figures.within_limit
    assert meta["memwise/companies_failed"].value == 1
    assert (
        "paced" in meta["memwise/bound"].value and "not memory-bound" in meta["memwise/bound"].value
    )
    assert (
        "IBM" in meta["memwise/company_reports"].value
        and "503" in meta["memwise/company_reports"].value
    )
    # The landing sensor sees the eight documents, not the sidecars or the submissions.
    context = dg.build_sensor_context(
        instance=dg.DagsterInstance.ephemeral(),
        resources={"filings": FilingsResource(landing_dir=str(landing))},
    )
    filings_landing_sensor(context)  # first sight: sizes settle
    settled = filings_landing_sensor(context)
    keys = sorted(r.partition_key for r in settled.run_requests)
    assert len(keys) == 8 and all(k.endswith(".htm") and k.startswith("0") for k in keys)


def test_every_company_failing_fails_the_run(tmp_path: Path) -> None:
    edgar = recorded_edgar()
    with serving(edgar):
        resource = EdgarResource(
            user_agent=AGENT,
            ciks=[51143],
            data_base_url=edgar.base_url,
            www_base_url=edgar.base_url,
        )
        result = _run(resource, tmp_path / "landing")
    assert not result.success


@pytest.mark.parametrize("agent", ["", "memwise research", None])
def test_resource_refuses_a_user_agent_without_contact(agent: str | None) -> None:
    with pytest.raises(Exception, match="contact e-mail"):
        EdgarResource(user_agent=agent)  # type: ignore[arg-type]


def test_resource_refuses_other_forms() -> None:
    with pytest.raises(Exception, match="forms must be among"):
        EdgarResource(user_agent=AGENT, forms=["8-K"])


def test_run_refuses_to_start_when_the_env_var_lacks_a_contact(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    edgar = recorded_edgar()
    monkeypatch.setenv("MEMWISE_TEST_EDGAR_UA", "just a name")
    with serving(edgar):
        resource = EdgarResource(
            user_agent=dg.EnvVar("MEMWISE_TEST_EDGAR_UA"),
            ciks=[TESLA_CIK],
            data_base_url=edgar.base_url,
            www_base_url=edgar.base_url,
        )
        # The resource is built from the resolved value at run start, and refuses it.
        assert "contact e-mail" in _refusal(resource, tmp_path / "landing")
    assert edgar.log == []  # not one request went out
    monkeypatch.delenv("MEMWISE_TEST_EDGAR_UA")
    with serving(edgar):
        assert "MEMWISE_TEST_EDGAR_UA" in _refusal(resource, tmp_path / "landing")
    assert edgar.log == []


def test_sensor_requests_a_download_run() -> None:
    request = edgar_sensor(dg.build_sensor_context())
    assert isinstance(request, dg.RunRequest)


def test_the_download_is_a_memwise_step_with_a_timeout(tmp_path: Path) -> None:
    """A server trickling one document for ever: the step's timeout ends the run, bounded."""
    landing = tmp_path / "landing"
    edgar = recorded_edgar()
    listing = json.loads(edgar.routes[f"/submissions/CIK{TESLA_CIK:010d}.json"][1])

    def trickle(handler) -> None:
        handler.send_response(200)
        handler.send_header("Content-Length", "100000")
        handler.end_headers()
        for _ in range(100000):
            handler.wfile.write(b"x")
            handler.wfile.flush()
            time.sleep(0.2)

    edgar.handlers[filings_of(listing)[0].url("")] = trickle
    with serving(edgar):
        resource = EdgarResource(
            user_agent=AGENT,
            ciks=[TESLA_CIK],
            data_base_url=edgar.base_url,
            www_base_url=edgar.base_url,
        )
        began = time.monotonic()
        result = _run(resource, landing, tags={"memwise/timeout_s": "3"})
        took = time.monotonic() - began
    assert not result.success and took < 60, took
    failure = next(e for e in result.all_events if e.event_type_value == "STEP_FAILURE")
    assert "timed out" in failure.step_failure_data.error.message.lower() or "timeout" in str(
        failure.step_failure_data.error
    )
    # It held a ledger reservation under the edgar budget, given back at the end.
    ledger = MemoryResource(home_dir=str(tmp_path / "memwise")).ledger
    events = [(h["event"], h["label"]) for h in ledger.history()]
    assert [e for e, label in events if label.endswith("download_edgar_filings")] == [
        "admit",
        "release",
    ]
    assert not list(landing.glob(".*.part"))  # the cut-off document left no part behind
