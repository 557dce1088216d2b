"""`python -m memwise_assets` is the `memwise` command."""

import sys

from memwise_assets.cli.commands import main

sys.exit(main())
