"""Where filings land and where the ones that failed wait for a retry."""

from __future__ import annotations

from pathlib import Path

import dagster as dg
from pydantic import Field

from memwise_assets.defs.filings.dead_letters import DeadLetterStore
from memwise_assets.defs.filings.landing import sample_landing_dir
from memwise_assets.defs.resources import memwise_home


class FilingsResource(dg.ConfigurableResource):
    """The landing folder, the dead-letter store and the spaCy model of the filings domain."""

    landing_dir: str | None = Field(
        default=None,
        description="Folder the sensor watches for new filings; default the shipped samples.",
    )
    dead_letter_path: str | None = Field(
        default=None, description="SQLite file of dead letters; default under $DAGSTER_HOME."
    )
    spacy_model: str | None = Field(
        default=None,
        description="Installed spaCy model to clean text with; default blank English + "
        "sentencizer.",
    )
    max_attempts: int = Field(default=3, description="Retries of a dead letter before it stays.")

    @property
    def landing(self) -> Path:
        return Path(self.landing_dir) if self.landing_dir else sample_landing_dir()

    def dead_letters(self) -> DeadLetterStore:
        path = (
            Path(self.dead_letter_path)
            if self.dead_letter_path
            else memwise_home() / "dead_letters.sqlite"
        )
        return DeadLetterStore(path)
