"""What a worker process runs for one filing (importable, so spawn can find it)."""

from __future__ import annotations

import pandas as pd

from memwise_assets.compute.filings import filing_sections, load_nlp


def sections_in_worker(path: str, form: str | None, model: str | None) -> pd.DataFrame:
    """Sections of one filing, cleaned with the worker's (cached) spaCy pipeline."""
    return filing_sections(path, form, nlp=load_nlp(model))
