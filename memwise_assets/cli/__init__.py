"""The `memwise` command line; `main` is the console script."""

from memwise_assets.cli.commands import main

__all__ = ["main"]
