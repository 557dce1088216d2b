"""The Dagster layer: one folder per domain, the memory resource, the IO manager, automation.

Dagster 1.13 marks some parameters memwise relies on as beta (`backfill_policy`, an asset's
`resource_defs`, and `owners`, which Dagster's own run-status sensors pass). The version is
pinned, so the notices are not the user's to act on: they are silenced here, before any
definition is built, so `dg dev` and `dagster dev` start without them.
"""

import warnings

warnings.filterwarnings(
    "ignore", message=r"Parameter `(backfill_policy|resource_defs|owners)` .* is currently in beta"
)
