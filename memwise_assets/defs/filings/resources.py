"""Where filings land and where the ones that failed wait for a retry."""

from __future__ import annotations

from pathlib import Path

import dagster as dg
from pydantic import Field

from memwise_assets.compute.filings.dead_letters import DeadLetterStore
from memwise_assets.defs.home_and_size import memwise_home

# Moves the landing folder without editing code (the demo keeps reading its shipped samples).
LANDING_ENV = "MEMWISE_LANDING_DIR"


class FilingsResource(dg.ConfigurableResource):
    """The landing folder, the dead-letter store and the spaCy model of the filings domain."""

    landing_dir: str | None = Field(
        default=None,
        description="Folder the sensor watches for new filings; default $MEMWISE_LANDING_DIR, "
        "else $DAGSTER_HOME/memwise/landing (created).",
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
        chosen = self.landing_dir or dg.EnvVar(LANDING_ENV).get_value()
        if chosen:
            return Path(chosen)
        default = memwise_home() / "landing"
        default.mkdir(parents=True, exist_ok=True)  # the sensor's first tick finds it empty
        return default

    def dead_letters(self) -> DeadLetterStore:
        path = (
            Path(self.dead_letter_path)
            if self.dead_letter_path
            else memwise_home() / "dead_letters.sqlite"
        )
        return DeadLetterStore(path)
