"""Progress lines and user-facing errors of the command line."""

import io

import dagster as dg

from memwise_assets.cli.progress import Progress, progress


@dg.asset
def slow_step() -> int:
    return 1


def test_progress_follows_the_running_step_and_shows_memory_against_the_limit() -> None:
    instance = dg.DagsterInstance.ephemeral()
    with progress("demo stage", limit_mb=500, instance=instance) as status:
        dg.materialize([slow_step], instance=instance)
    assert status.current == "slow_step"
    assert status.done == 1
    line = status.line()
    assert "demo stage: step slow_step (1 done)" in line
    assert "rss" in line and "/ limit 500 MB" in line


def test_plain_lines_when_not_on_a_terminal() -> None:
    out = io.StringIO()
    status = Progress("bench labels", out=out)
    assert not status.tty and status.interval_s == 15.0
    status.interval_s = 0.01
    status.start()
    import time

    time.sleep(0.1)
    status.stop()
    lines = out.getvalue().splitlines()
    assert lines and all(line.startswith("  bench labels:") for line in lines)
    assert "\r" not in out.getvalue()


def test_cli_errors_end_in_one_line_saying_what_went_wrong(tmp_path, capsys) -> None:
    from memwise_assets.cli.commands import main

    assert main(["bench", "--data", str(tmp_path / "missing"), "--case", "memory"]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert err[0].startswith("memwise bench: error: --data")
    assert "is not a folder" in err[0]
    assert err[1] == "(run again with --verbose for the traceback)"
    assert "Traceback" not in "\n".join(err)
