"""`python -m memwise_assets` is the `memwise` command."""

import sys

from memwise_assets.cli import main

sys.exit(main())
