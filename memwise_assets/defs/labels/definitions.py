"""The labels domain's definitions: triple-barrier labels of daily and of intraday bars."""

import dagster as dg

from memwise_assets.defs.labels.assets import weighted_labels
from memwise_assets.defs.labels.intraday import intraday_labels

defs = dg.Definitions(assets=[weighted_labels, intraday_labels])
