"""One dynamic partition per filing, keyed by its file name in the landing folder."""

import dagster as dg

filing_partitions = dg.DynamicPartitionsDefinition(name="sec_filings")
