"""Check a run's asset config before it is launched: unknown fields and the Config validators.

Dagster checks run config against the schema at launch (types, unknown fields), but it runs
a `dg.Config`'s pydantic validators only when the step builds its config, i.e. after the run
started. Launchers of memwise (the demo, `memwise check-config`) call `check_run_config`
first, so a bad value is refused before any step starts, once, with what was expected.
"""

from __future__ import annotations

import difflib
import inspect
import typing
from collections.abc import Mapping, Sequence
from typing import Any

import dagster as dg
import pydantic


class RunConfigError(ValueError):
    """The run config is refused; one line per problem."""


def config_class(asset: dg.AssetsDefinition) -> type[dg.Config] | None:
    """The `dg.Config` class of the asset's `config` parameter, if it has one."""
    fn = getattr(asset.op.compute_fn, "decorated_fn", None)
    if fn is None:
        return None
    parameter = inspect.signature(fn, eval_str=True).parameters.get("config")
    annotation = parameter.annotation if parameter is not None else None
    is_config = isinstance(annotation, type) and issubclass(annotation, dg.Config)
    return annotation if is_config else None


def _nearest(name: str, choices: Sequence[str]) -> str:
    close = difflib.get_close_matches(name, choices, n=1, cutoff=0.6)
    hint = f"did you mean `{close[0]}`? " if close else ""
    return f"{hint}expected one of {', '.join(choices)}"


def _nested_class(annotation: Any) -> type[dg.Config] | None:
    """The Config class of a field typed `SomeConfig` or `list[SomeConfig]`."""
    for candidate in (annotation, *typing.get_args(annotation)):
        if isinstance(candidate, type) and issubclass(candidate, dg.Config):
            return candidate
    return None


def _unknown_fields(cls: type[dg.Config], values: Mapping[str, Any], path: str) -> list[str]:
    fields = list(cls.model_fields)
    problems = [
        f"{path}.{name}: unknown field; {_nearest(name, fields)}"
        for name in values
        if name not in cls.model_fields
    ]
    for name, value in values.items():
        nested = _nested_class(cls.model_fields[name].annotation) if name in fields else None
        if nested is None:
            continue
        items = value if isinstance(value, list) else [value]
        for i, item in enumerate(items):
            if isinstance(item, Mapping):
                where = f"{path}.{name}[{i}]" if isinstance(value, list) else f"{path}.{name}"
                problems += _unknown_fields(nested, item, where)
    return problems


def _validation_lines(error: pydantic.ValidationError, path: str) -> list[str]:
    lines = []
    for item in error.errors():
        where = "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in item["loc"])
        message = str(item["msg"]).removeprefix("Value error, ")
        lines.append(f"{path}{where}: {message}")
    return lines


def check_run_config(
    run_config: Mapping[str, Any] | None, assets: Sequence[dg.AssetsDefinition]
) -> None:
    """Raise RunConfigError naming every problem of the `ops:` section; return when it is good."""
    if not run_config:
        return
    ops = run_config.get("ops") or {}
    classes = {asset.op.name: config_class(asset) for asset in assets}
    problems: list[str] = []
    for op_name, op_config in ops.items():
        path = f"ops.{op_name}"
        if op_name not in classes:
            problems.append(f"{path}: unknown asset; {_nearest(op_name, sorted(classes))}")
            continue
        cls = classes[op_name]
        values = (op_config or {}).get("config") or {}
        if cls is None:
            problems += [f"{path}.config: {op_name} takes no config"] if values else []
            continue
        unknown = _unknown_fields(cls, values, f"{path}.config")
        problems += unknown
        if unknown:
            continue
        try:
            cls(**values)
        except pydantic.ValidationError as error:
            problems += _validation_lines(error, f"{path}.config")
    if problems:
        raise RunConfigError("\n".join(problems))
