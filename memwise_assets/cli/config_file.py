"""A run config file checked in one pass: every problem at once, each with its line and column.

Used by `memwise check-config` and `memwise demo --config`. The YAML is composed once to learn
where each key sits; the checks themselves are `defs/run_config.py`'s.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml

_STEP = re.compile(r"([^.\[\]]+)|\[(\d+)\]")


class ConfigFileError(ValueError):
    """The config file is refused; one line per problem, each `file:line:col: where: what`."""


def read_config(path: str | Path) -> tuple[dict[str, Any], yaml.Node | None]:
    """The file's mapping and its composed YAML (for positions); ConfigFileError if unreadable."""
    try:
        text = Path(path).read_text(encoding="utf-8")
        loaded = yaml.safe_load(text)
        node = yaml.compose(text, Loader=yaml.SafeLoader)
    except (OSError, yaml.YAMLError) as exc:
        raise ConfigFileError(f"{path}: cannot read it as YAML/JSON ({exc})") from exc
    if loaded is None:
        return {}, None
    if not isinstance(loaded, dict):
        raise ConfigFileError(f"{path}: expected a mapping with `ops:`, got {type(loaded)}")
    return loaded, node


def position(node: yaml.Node | None, where: str) -> tuple[int, int] | None:
    """1-based (line, column) of the deepest key of `where` (ops.x.config.modes[0].pt) found."""
    found = None
    for name, index in _STEP.findall(where):
        if isinstance(node, yaml.MappingNode):
            match = next((kv for kv in node.value if kv[0].value == name), None)
            if match is None:
                break
            found, node = match[0].start_mark, match[1]
        elif isinstance(node, yaml.SequenceNode) and index and int(index) < len(node.value):
            node = node.value[int(index)]
            found = node.start_mark
        else:
            break
    return (found.line + 1, found.column + 1) if found is not None else None


def problem_lines(
    path: str | Path, node: yaml.Node | None, problems: list[tuple[str, str]]
) -> list[str]:
    """`file:line:col: where: what` for each problem (the file alone where nothing matched)."""
    lines = []
    for where, message in problems:
        at = position(node, where)
        prefix = f"{path}:{at[0]}:{at[1]}" if at else str(path)
        lines.append(f"{prefix}: {where}: {message}")
    return lines


def check_config_file(path: str | Path) -> dict[str, Any]:
    """The run config of `path` when every asset and resource config in it is valid.

    Imports only the config and resource classes (`defs/config_registry.py`), not the whole
    definitions; raises ConfigFileError naming every problem with its line and column.
    """
    from memwise_assets.defs.config_registry import asset_config_classes, resource_classes
    from memwise_assets.defs.run_config import config_problems

    run_config, node = read_config(path)
    problems = config_problems(run_config, asset_config_classes(), resource_classes())
    if problems:
        raise ConfigFileError("\n".join(problem_lines(path, node, problems)))
    return run_config


def resources_section(run_config: Mapping[str, Any]) -> dict[str, Any]:
    """The `resources:` part of a run config (empty when it has none)."""
    return dict(run_config.get("resources") or {})
