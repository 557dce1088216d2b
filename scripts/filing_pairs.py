"""Text-feature similarities of the consecutive 10-K pairs in a folder of real filings.

    python scripts/filing_pairs.py --data ../shared/data/sec

Prints one row per later filing (its similarity to the company's previous 10-K) and the
seconds spent sectioning and computing the features.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Sequence
from pathlib import Path

import pandas as pd

from memwise_assets.compute.filings import filing_sections, load_nlp
from memwise_assets.compute.filings.features import text_features

COMPANIES = ("amazon", "alphabet", "ibm", "jnj", "tesla", "coca-cola", "nvidia")
SHOWN = ["ticker", "period_of_report", "cosine_1a", "jaccard_1a", "cosine_7", "jaccard_7"]


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default="../shared/data/sec", help="Folder of the filings.")
    args = parser.parse_args(argv)
    nlp = load_nlp()
    paths = [p for c in COMPANIES for p in sorted(Path(args.data).glob(f"{c}_10-K_20*.htm"))]
    started = time.perf_counter()
    sections = pd.concat([filing_sections(p, nlp=nlp) for p in paths], ignore_index=True)
    parsed = time.perf_counter()
    features = text_features(sections)
    done = time.perf_counter()
    later = features[features["prev_filing_id"].notna()]
    with pd.option_context("display.width", 200, "display.precision", 4):
        print(later[[*SHOWN, "cosine_all", "jaccard_all"]].to_string(index=False))
    seconds = f"sections {parsed - started:.2f} s, features {done - parsed:.2f} s"
    print(f"{len(paths)} filings: {seconds}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
