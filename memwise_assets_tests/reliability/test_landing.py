"""The landing folder under attack: nothing escapes, keys stay plain, half-written files wait."""

from __future__ import annotations

import json
import os
from pathlib import Path

import dagster as dg
import pytest

from memwise_assets.compute.filings.landing import SAFE_NAME, resolve_filing, scan_landing
from memwise_assets.defs.filings.resources import FilingsResource
from memwise_assets.defs.filings.sensors import filings_landing_sensor
from memwise_assets_tests.builders.hostile import good_filing

HOSTILE_NAMES = [
    "..htm",
    "a..b.htm",
    "...htm",
    "\\etc\\passwd.htm",
    "C:\\boot.htm",
    "-rf.htm",
    ".hidden.htm",
    "bell\x07.htm",
    "new\nline.htm",
    "tab\tname.htm",
    "esc\x1b[31m.htm",
    "nul%00.htm",
    "space name.htm",
    "semi;rm -rf.htm",
    "$(reboot).htm",
    "quote'.htm",
    "caf\u00e9.htm",
    "rtl\u202egnp.htm",
    "x" * 250 + ".htm",
]


@pytest.fixture
def landing(tmp_path: Path) -> tuple[Path, Path]:
    """A landing folder full of hostile entries beside one good filing, and an outside folder."""
    folder, outside = tmp_path / "landing", tmp_path / "outside"
    folder.mkdir()
    outside.mkdir()
    (outside / "secret.htm").write_bytes(good_filing("outside secret"))
    (folder / "good.htm").write_bytes(good_filing())
    for name in HOSTILE_NAMES:
        (folder / name).write_bytes(good_filing())
    (folder / os.fsdecode(b"latin\xe9.htm")).write_bytes(good_filing())  # not UTF-8 on disk
    (folder / "escape.htm").symlink_to(outside / "secret.htm")
    (folder / "relative-escape.htm").symlink_to(Path("..") / "outside" / "secret.htm")
    (folder / "dangling.htm").symlink_to(tmp_path / "nowhere.htm")
    (folder / "alias.htm").symlink_to(folder / "good.htm")
    (folder / "dir.htm").mkdir()
    os.mkfifo(folder / "pipe.htm")  # opening it for reading would block forever
    return folder, outside


def test_scan_accepts_only_plain_names_inside_the_folder(landing: tuple[Path, Path]) -> None:
    folder, outside = landing
    accepted, skipped = scan_landing(folder)
    assert [f.key for f in accepted] == ["alias.htm", "good.htm"]
    assert all(SAFE_NAME.match(f.key) and f.path.parent == folder.resolve() for f in accepted)
    assert (
        len(skipped) == len(HOSTILE_NAMES) + 1 + 5
    )  # + latin-1 name, 3 links out, a folder, a FIFO
    reasons = "\n".join(skipped)
    assert "escape.htm: symlink pointing outside the landing folder" in reasons
    assert "relative-escape.htm: symlink pointing outside the landing folder" in reasons
    assert "dangling.htm: dangling symlink (its target is gone)" in reasons
    for name in ("dir.htm", "pipe.htm"):
        assert f"{name}: not a regular file" in reasons
    # Reasons are printable ASCII: control characters in names cannot forge log lines.
    assert all(line.isascii() and line.isprintable() for line in skipped)


@pytest.mark.parametrize(
    "key",
    [
        "../outside/secret.htm",
        "/etc/passwd",
        "..",
        "escape.htm",
        "a/../../b.htm",
        "pipe.htm",
        "good.htm\x00.txt",
        "",
        "x" * 300,
    ],
)
def test_resolve_refuses_keys_that_leave_the_folder(landing: tuple[Path, Path], key: str) -> None:
    folder, _ = landing
    with pytest.raises((ValueError, FileNotFoundError)) as err:
        resolve_filing(folder, key)
    assert repr(key)[:40].strip("'") in str(err.value) or "landing folder" in str(err.value)


def test_symlink_swapped_in_after_the_scan_is_refused(landing: tuple[Path, Path]) -> None:
    folder, outside = landing
    accepted, _ = scan_landing(folder)
    assert "good.htm" in [f.key for f in accepted]
    (folder / "good.htm").unlink()
    (folder / "good.htm").symlink_to(outside / "secret.htm")  # the race an attacker would win
    with pytest.raises(ValueError, match="outside the landing folder"):
        resolve_filing(folder, "good.htm")


def _tick(folder: Path, cursor: str | None, instance: dg.DagsterInstance):
    context = dg.build_sensor_context(
        instance=instance,
        cursor=cursor,
        resources={"filings": FilingsResource(landing_dir=str(folder))},
    )
    result = filings_landing_sensor(context)
    # A SensorResult carries its cursor; a SkipReason leaves it on the context.
    return result, getattr(result, "cursor", None) or context.cursor


def test_half_written_filings_wait_and_hostile_names_never_become_partitions(
    landing: tuple[Path, Path],
) -> None:
    folder, _ = landing
    instance = dg.DagsterInstance.ephemeral()
    growing = folder / "growing.htm"
    growing.write_bytes(good_filing()[:100])
    first, cursor = _tick(folder, None, instance)
    assert isinstance(first, dg.SkipReason)  # everything is new: wait one tick for sizes
    with open(growing, "ab") as handle:
        handle.write(good_filing()[100:])  # still being written between ticks
    second, cursor = _tick(folder, cursor, instance)
    keys = sorted(r.partition_key for r in second.run_requests)
    assert keys == ["alias.htm", "good.htm"]  # settled files go, the growing one waits
    assert json.loads(cursor)["pending"] == {"growing.htm": growing.stat().st_size}
    third, cursor = _tick(folder, cursor, instance)
    assert [r.partition_key for r in third.run_requests] == ["growing.htm"]
    added = [
        key
        for result in (second, third)
        for request in result.dynamic_partitions_requests
        for key in request.partition_keys
    ]
    assert sorted(added) == ["alias.htm", "good.htm", "growing.htm"]
    assert all(SAFE_NAME.match(key) for key in added)


def test_symlink_loop_dangling_link_and_unreadable_file_never_stop_a_tick(
    tmp_path: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    folder = tmp_path / "landing"
    folder.mkdir()
    (folder / "good.htm").write_bytes(good_filing())
    (folder / "loop-a.htm").symlink_to(folder / "loop-b.htm")
    (folder / "loop-b.htm").symlink_to(folder / "loop-a.htm")
    (folder / "dangling.htm").symlink_to(tmp_path / "gone.htm")
    unreadable = folder / "locked.htm"
    unreadable.write_bytes(good_filing())
    unreadable.chmod(0)
    landed, skipped = scan_landing(folder)
    reasons = dict(line.split(": ", 1) for line in skipped)
    assert reasons["loop-a.htm"].startswith("symlink loop")
    assert reasons["loop-b.htm"].startswith("symlink loop")
    assert reasons["dangling.htm"].startswith("dangling symlink")
    if os.geteuid() != 0:  # root reads any file whatever its mode
        assert reasons["locked.htm"].startswith("cannot be read")
    assert "good.htm" in [f.key for f in landed]
    instance = dg.DagsterInstance.ephemeral()
    _, cursor = _tick(folder, None, instance)
    result, _ = _tick(folder, cursor, instance)
    assert "good.htm" in [r.partition_key for r in result.run_requests]
    assert "landing folder: skipped loop-a.htm: symlink loop" in capfd.readouterr().err
