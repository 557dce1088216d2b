"""The package's modules by dotted name, read from the source tree (for tests of the code)."""

from __future__ import annotations

from pathlib import Path

import memwise_assets

ROOT = Path(memwise_assets.__file__).parent
PACKAGE = "memwise_assets"


def module_name(path: Path, root: Path = ROOT, package: str = PACKAGE) -> str:
    """The dotted name of the module at `path` under `root` (a package is its __init__)."""
    parts = [package, *path.relative_to(root).with_suffix("").parts]
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {module_name(p): p for p in ROOT.rglob("*.py")}
