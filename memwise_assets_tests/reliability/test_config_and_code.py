"""Bad configuration refused at load time naming the field; nothing unpickled or evaluated from
disk; the cache purge confined to its root."""

from __future__ import annotations

import ast
from pathlib import Path

import dagster as dg
import pytest
from pydantic import ValidationError

import memwise_assets
from memwise_assets.defs.filings.assets import FilingsConfig
from memwise_assets.defs.labels.assets import LabelModeConfig, LabelsConfig
from memwise_assets.defs.resources import MemoryResource
from memwise_assets.memory import SessionCache
from memwise_assets_tests.reliability.toy_jobs import steady

PACKAGE = Path(memwise_assets.__file__).parent
# Worker IPC: parent and its own spawned children exchange pickles over pipes they created.
IPC_MODULES = {"memory/pool.py", "memory/pool_worker.py", "memory/isolation.py"}


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"limits_mb": {"labels": -1.0}}, "limits_mb"),
        ({"limits_mb": {"default": 0.0}}, "limits_mb"),
        ({"reserve_fraction": 1.0}, "reserve_fraction"),
        ({"reserve_fraction": -0.1}, "reserve_fraction"),
        ({"admission_timeout_s": 0.0}, "admission_timeout_s"),
        ({"monitor_interval_s": 0.0}, "monitor_interval_s"),
        ({"timeouts_s": {"SMALL": 0.0, "MEDIUM": 1.0, "LARGE": 1.0}}, "timeouts_s"),
        ({"warn_fraction": 0.0}, "warn_fraction"),
        ({"emergency_fraction": 0.5}, "emergency_fraction"),
        ({"pool_mb": -5.0}, "pool_mb"),
        ({"retry_wait_s": -1.0}, "retry_wait_s"),
        ({"max_admission_retries": -1}, "max_admission_retries"),
        ({"calibration_window": 0}, "calibration_window"),
        ({"emergency_fraction": float("inf")}, "emergency_fraction"),
        ({"pool_mb": float("inf")}, "pool_mb"),
    ],
)
def test_memory_resource_refuses_absurd_settings_naming_the_field(kwargs: dict, field: str):
    with pytest.raises(ValidationError) as err:
        MemoryResource(**kwargs)
    assert field in str(err.value)


def test_run_config_override_is_refused_before_any_step_runs(tmp_path: Path) -> None:
    result = dg.materialize(
        [steady],
        resources={
            "memory": MemoryResource(home_dir=str(tmp_path)),
            "io_manager": dg.mem_io_manager,
        },
        run_config={"resources": {"memory": {"config": {"reserve_fraction": 1.0}}}},
        raise_on_error=False,
    )
    assert not result.success
    assert result.get_step_success_events() == []
    failures = [e for e in result.all_events if e.is_failure]
    text = " ".join(
        (e.message or "") + str(getattr(e.event_specific_data, "error", "") or "") for e in failures
    )
    assert "reserve_fraction" in text


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"chunk_rows": 0}, "chunk_rows"),
        ({"vol_span": -1}, "vol_span"),
        ({"vol_min_periods": -1}, "vol_min_periods"),
        ({"decay": 2.0}, "decay"),
        ({"modes": []}, "modes"),
        ({"modes": [LabelModeConfig(name="m", horizon=0)]}, "horizon"),
        ({"modes": [LabelModeConfig(name="m", pt=-1.0)]}, "pt"),
        ({"modes": [LabelModeConfig(name="x; drop", pt=1.0)]}, "name"),
    ],
)
def test_labels_config_refuses_absurd_settings_naming_the_field(kwargs: dict, field: str):
    with pytest.raises(ValidationError) as err:
        LabelsConfig(**kwargs)
    assert field in str(err.value)


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"memory_multiplier": 0.0}, "memory_multiplier"),
        ({"timeout_multiplier": -1.0}, "timeout_multiplier"),
        ({"timeout_overrides_s": {"a.htm": 0.0}}, "timeout_overrides_s"),
        ({"memory_cap_overrides_mb": {"a.htm": -1.0}}, "memory_cap_overrides_mb"),
    ],
)
def test_filings_config_refuses_non_positive_budgets(kwargs: dict, field: str) -> None:
    with pytest.raises(ValidationError) as err:
        FilingsConfig(**kwargs)
    assert field in str(err.value)


def _dangerous_calls(tree: ast.AST) -> list[tuple[int, str]]:
    found = []
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call):
            continue
        func = node.func
        name = (
            f"{getattr(func.value, 'id', '?')}.{func.attr}"
            if isinstance(func, ast.Attribute)
            else getattr(func, "id", "")
        )
        risky = {
            "eval",
            "exec",
            "compile",
            "__import__",
            "pickle.load",
            "pickle.loads",
            "marshal.load",
            "marshal.loads",
            "shelve.open",
            "joblib.load",
            "dill.load",
            "cloudpickle.load",
            "pd.read_pickle",
            "yaml.load",
            "yaml.unsafe_load",
        }
        if name in risky or name.endswith(".read_pickle"):
            found.append((node.lineno, name))
        for keyword in node.keywords:
            value = getattr(keyword.value, "value", None)
            if keyword.arg in {"allow_pickle", "shell"} and value is True:
                found.append((node.lineno, f"{name}({keyword.arg}=True)"))
    return found


def test_nothing_is_unpickled_or_evaluated_from_disk() -> None:
    findings: dict[str, list[tuple[int, str]]] = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        rel = path.relative_to(PACKAGE).as_posix()
        calls = _dangerous_calls(ast.parse(path.read_text(encoding="utf-8")))
        if calls:
            findings[rel] = calls
    ipc = {rel: calls for rel, calls in findings.items() if rel in IPC_MODULES}
    assert {rel: calls for rel, calls in findings.items() if rel not in IPC_MODULES} == {}
    # The worker pool unpickles only bytes from pipes to its own children, never a file.
    assert all(name == "pickle.loads" for calls in ipc.values() for _, name in calls)


def test_cache_purge_stays_in_its_root(tmp_path: Path) -> None:
    root, outside = tmp_path / "cache", tmp_path / "outside"
    outside.mkdir()
    precious = outside / "precious.txt"
    precious.write_text("keep me")
    (outside / "sub").mkdir()
    (outside / "sub" / "data.bin").write_bytes(b"x" * 1000)
    cache = SessionCache(root, "run-1")
    step = cache.step("victim")
    (step / "scratch.bin").write_bytes(b"s" * 2048)
    (step / "to-file").symlink_to(precious)
    (step / "to-folder").symlink_to(outside / "sub")
    (step / "to-root-parent").symlink_to(tmp_path)
    report = cache.purge()
    assert report["success"] and report["files_removed"] == 4  # the scratch file and 3 links
    assert not (root / "run-1").exists()
    assert precious.read_text() == "keep me"
    assert (outside / "sub" / "data.bin").stat().st_size == 1000
    # The session folder itself swapped for a link: only the link goes.
    (root / "run-2").symlink_to(outside)
    SessionCache(root, "run-2").purge()
    assert not (root / "run-2").is_symlink() and precious.exists()
    for hostile in ("../outside", "/etc", "a/b", "..", "", "x\x00y"):
        with pytest.raises(ValueError):
            MemoryResource(home_dir=str(tmp_path)).session_cache(hostile).purge()
    assert precious.exists() and (outside / "sub" / "data.bin").exists()
