"""`FilingsConfig`: the per-run knobs of `sec_filing_sections` (retries use the multipliers)."""

import dagster as dg
from pydantic import Field, model_validator


class FilingsConfig(dg.Config):
    """Per-run knobs of the filings step (retries use the multipliers)."""

    form: str | None = Field(default=None, description="Force the form (10-K / 10-Q).")
    memory_multiplier: float = Field(
        default=1.0, description="Scale every filing's memory estimate and cap (retries: 2)."
    )
    timeout_multiplier: float = Field(
        default=1.0, description="Scale every filing's timeout (retries after a timeout: 2)."
    )
    timeout_overrides_s: dict[str, float] = Field(
        default_factory=dict, description="Timeout in seconds for named filings."
    )
    memory_cap_overrides_mb: dict[str, float] = Field(
        default_factory=dict, description="Memory cap in MB for named filings."
    )

    @model_validator(mode="after")
    def _positive_budgets(self) -> "FilingsConfig":
        for name in ("memory_multiplier", "timeout_multiplier"):
            value = getattr(self, name)
            if not 0 < value < float("inf"):
                raise ValueError(f"{name} must be a finite number > 0; got {value}")
        for name in ("timeout_overrides_s", "memory_cap_overrides_mb"):
            bad = {k: v for k, v in getattr(self, name).items() if not 0 < v < float("inf")}
            if bad:
                raise ValueError(f"{name} values must be finite numbers > 0; got {bad}")
        return self
