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


def _validation_lines(errors: Sequence[Any], path: str, values: Mapping[str, Any]) -> list[str]:
    lines = []
    for item in errors:
        message = str(item["msg"]).removeprefix("Value error, ")
        loc = tuple(item["loc"])
        if not loc:
            # A whole-model validator: point at the first field its message names.
            named = [name for name in values if str(name) in message]
            named.sort(key=lambda name: not message.startswith(str(name)))
            loc = tuple(named[:1])
        where = "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in loc)
        lines.append(f"{path}{where}: {message}")
    return lines


def _all_errors(
    cls: type[pydantic.BaseModel], values: Mapping[str, Any], *, partial: bool
) -> list[Any]:
    """Every validation error of `values`: fields that failed are dropped and the rest tried
    again, so a whole-model check behind a failed field is reported in the same pass."""
    errors: list[Any] = []
    remaining = dict(values)
    while True:
        try:
            cls(**remaining)
            return errors
        except pydantic.ValidationError as error:
            found = error.errors()
        # A resource's fields the file does not set (EDGAR's user agent) are the deployment's.
        errors += [e for e in found if not (partial and e["loc"] and e["loc"][0] not in values)]
        failed = {e["loc"][0] for e in found if e["loc"]} & set(remaining)
        if not failed:
            return errors
        for name in failed:
            del remaining[name]


# The sections of a Dagster run config; anything else is a typo Dagster would refuse at launch.
SECTIONS = ("ops", "resources", "execution", "loggers")

# One problem: where in the config (`ops.daily_bars.config.source`) and what is wrong.
Problem = tuple[str, str]


def _split(line: str) -> Problem:
    where, _, message = line.partition(": ")
    return where, message


def _config_values(section: Any, path: str, problems: list[str]) -> Mapping[str, Any]:
    """The `config:` mapping of one op or resource entry (a problem line if it is not one)."""
    if section is None:
        return {}
    if not isinstance(section, Mapping):
        problems.append(f"{path}: expected a mapping with `config:`, got {section!r}")
        return {}
    values = section.get("config") or {}
    if not isinstance(values, Mapping):
        problems.append(f"{path}.config: expected a mapping of fields, got {values!r}")
        return {}
    return values


def _class_problems(
    cls: type[pydantic.BaseModel], values: Mapping[str, Any], path: str, *, partial: bool
) -> list[str]:
    """Unknown fields, else the class's own validators; `partial`: missing fields are fine."""
    unknown = _unknown_fields(cls, values, path)  # type: ignore[arg-type]
    if unknown:
        return unknown
    return _validation_lines(_all_errors(cls, values, partial=partial), path, values)


def config_problems(
    run_config: Mapping[str, Any] | None,
    asset_configs: Mapping[str, type[dg.Config] | None],
    resource_classes: Mapping[str, type[pydantic.BaseModel]] | None = None,
) -> list[Problem]:
    """Every problem of a run config, in file order: sections, ops, then resources."""
    if not run_config:
        return []
    problems = [
        f"{name}: unknown section; {_nearest(str(name), SECTIONS)}"
        for name in run_config
        if name not in SECTIONS
    ]
    for name in ("ops", "resources"):
        if not isinstance(run_config.get(name) or {}, Mapping):
            problems.append(f"{name}: expected a mapping of names, got {run_config[name]!r}")
    ops = run_config.get("ops") if isinstance(run_config.get("ops"), Mapping) else {}
    for op_name, op_config in (ops or {}).items():
        path = f"ops.{op_name}"
        if op_name not in asset_configs:
            problems.append(f"{path}: unknown asset; {_nearest(op_name, sorted(asset_configs))}")
            continue
        cls = asset_configs[op_name]
        values = _config_values(op_config, path, problems)
        if cls is None:
            problems += [f"{path}.config: {op_name} takes no config"] if values else []
            continue
        problems += _class_problems(cls, values, f"{path}.config", partial=False)
    if resource_classes is not None:
        found = run_config.get("resources")
        for key, section in (found if isinstance(found, Mapping) else {}).items():
            path = f"resources.{key}"
            if key not in resource_classes:
                problems.append(
                    f"{path}: unknown resource; {_nearest(key, sorted(resource_classes))}"
                )
                continue
            values = _config_values(section, path, problems)
            problems += _class_problems(
                resource_classes[key], values, f"{path}.config", partial=True
            )
    return [_split(line) for line in problems]


def check_run_config(
    run_config: Mapping[str, Any] | None,
    assets: Sequence[dg.AssetsDefinition],
    resources: Mapping[str, Any] | None = None,
) -> None:
    """Raise RunConfigError naming every problem of the run config; return when it is good.

    `resources` (key -> resource object or class), when given, checks the `resources:` section.
    """
    classes = {asset.op.name: config_class(asset) for asset in assets}
    resource_classes = (
        {k: v if isinstance(v, type) else type(v) for k, v in resources.items()}
        if resources is not None
        else None
    )
    problems = config_problems(run_config, classes, resource_classes)
    if problems:
        raise RunConfigError("\n".join(f"{where}: {message}" for where, message in problems))
