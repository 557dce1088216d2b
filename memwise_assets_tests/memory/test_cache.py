"""Session caches: on-demand folders, purge reports, symlink safety, name validation."""

from __future__ import annotations

import os

import pytest

from memwise_assets.memory import SessionCache, purge_stale_sessions


def test_path_and_steps_are_created_on_demand(tmp_path) -> None:
    cache = SessionCache(tmp_path / "cache", "run-1")
    assert not (tmp_path / "cache").exists()
    assert cache.path == tmp_path / "cache" / "run-1" and cache.path.is_dir()
    assert cache.step("daily_bars") == cache.path / "daily_bars"
    assert cache.step("daily_bars").is_dir()


def test_purge_reports_files_and_megabytes(tmp_path) -> None:
    cache = SessionCache(tmp_path, "run-1")
    (cache.step("a") / "one.bin").write_bytes(b"x" * 1024 * 1024)
    nested = cache.step("b") / "deep"
    nested.mkdir()
    (nested / "two.bin").write_bytes(b"y" * 512 * 1024)
    report = cache.purge()
    assert report == {
        "cache_dir": str(tmp_path / "run-1"),
        "files_removed": 2,
        "disk_freed_mb": 1.5,
        "success": True,
    }
    assert not (tmp_path / "run-1").exists()
    again = cache.purge()
    assert (again["files_removed"], again["success"]) == (0, True)


def test_purge_of_one_step_keeps_the_others(tmp_path) -> None:
    cache = SessionCache(tmp_path, "run-1")
    (cache.step("a") / "f").write_bytes(b"1")
    (cache.step("b") / "g").write_bytes(b"22")
    report = cache.purge(step="a")
    assert (report["cache_dir"], report["files_removed"]) == (str(cache.path / "a"), 1)
    assert not (cache.path / "a").exists()
    assert (cache.path / "b" / "g").read_bytes() == b"22"


def test_symlinks_inside_the_cache_are_removed_not_followed(tmp_path) -> None:
    outside = tmp_path / "precious"
    outside.mkdir()
    (outside / "data.parquet").write_bytes(b"keep me")
    target_file = tmp_path / "precious.txt"
    target_file.write_text("keep me too")
    cache = SessionCache(tmp_path / "cache", "run-1")
    os.symlink(outside, cache.path / "dir-link")
    os.symlink(target_file, cache.step("s") / "file-link")
    report = cache.purge()
    assert report["success"] and report["files_removed"] == 2
    assert (outside / "data.parquet").read_bytes() == b"keep me"
    assert target_file.read_text() == "keep me too"
    assert not (tmp_path / "cache" / "run-1").exists()


def test_session_folder_replaced_by_a_link_removes_only_the_link(tmp_path) -> None:
    outside = tmp_path / "elsewhere"
    outside.mkdir()
    (outside / "f").write_text("safe")
    root = tmp_path / "cache"
    root.mkdir()
    os.symlink(outside, root / "run-1")
    cache = SessionCache(root, "run-1")
    with pytest.raises(ValueError, match="symlink"):
        _ = cache.path
    assert cache.purge()["files_removed"] == 1
    assert (outside / "f").read_text() == "safe" and not os.path.lexists(root / "run-1")


@pytest.mark.parametrize("bad", ["", "   ", "/etc", "..", "../up", "a/b", "a\\b", "x..y", "."])
def test_traversal_and_empty_names_are_rejected(tmp_path, bad: str) -> None:
    with pytest.raises(ValueError, match="session_id"):
        SessionCache(tmp_path, bad)
    cache = SessionCache(tmp_path, "ok")
    with pytest.raises(ValueError, match="step name"):
        cache.step(bad)
    with pytest.raises(ValueError, match="step name"):
        cache.purge(step=bad)


def test_purge_stale_sessions_keeps_named_ones(tmp_path) -> None:
    for name in ("keep", "old-1", "old-2"):
        (SessionCache(tmp_path, name).path / "f").write_bytes(b"z")
    (tmp_path / "not-a-session.txt").write_text("left alone")
    reports = purge_stale_sessions(tmp_path, keep={"keep"})
    assert [r["cache_dir"] for r in reports] == [str(tmp_path / "old-1"), str(tmp_path / "old-2")]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["keep", "not-a-session.txt"]
