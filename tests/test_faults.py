"""Faults and bad input at the edges: settings from the environment, a setup given as
JSON, foreign cache files, untrusted benchmark files, interrupted or stalled runs, a
stderr that cannot be written. Each is one clear message or the right handling."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from ssnr_core import cli
from ssnr_core.proxies.setup import Setup
from ssnr_core.runs import jobs
from ssnr_core.runs.cache import Cache, CacheError
from ssnr_core.runs.settings import Settings, SettingsError, max_workers
from ssnr_core.studies import evaluation

SETUP = Setup("nb201", "cifar10", "synflow")
WORKTREE = Path(__file__).resolve().parent.parent


def one_error_line(capsys: pytest.CaptureFixture[str]) -> str:
    err = capsys.readouterr().err
    errors = [line for line in err.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and "Traceback" not in err, err
    return errors[0]


def cli_process(*args: str, env: dict | None = None, **kw) -> subprocess.Popen:
    """`python -m ssnr_core ...` on this worktree's code, in its own session."""
    full = {**os.environ, "PYTHONPATH": str(WORKTREE), **(env or {})}
    return subprocess.Popen(
        [sys.executable, "-m", "ssnr_core", *args],
        env=full,
        cwd=kw.pop("cwd", WORKTREE),
        start_new_session=True,
        text=True,
        **kw,
    )


def wait_job(job: jobs.Job, archs: list[str], timeout: float = 180) -> jobs.JobStatus:
    deadline = time.time() + timeout
    while time.time() < deadline:
        now = jobs.status(job, archs)
        if not now.running and not now.queued:
            return now
        time.sleep(0.3)
    raise AssertionError(f"job still running after {timeout} s: {jobs.log_path(job)}")


# ---------------------------------------------------------------- settings


def test_relative_folders_are_made_absolute_once_and_jobs_use_them(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    monkeypatch.chdir(tmp_path)
    made = Settings.from_env(
        {"SSNR_CACHE_DIR": "relc", "SSNR_DATA_DIR": "reld", "SSNR_WORKERS": "1"}
    )
    assert made.cache_dir == tmp_path / "relc" and made.data_dir == tmp_path / "reld"
    archs = evaluation.sample("nb201", "cifar10", 3, 0)
    job = jobs.Job(SETUP, made, sample=3)
    env = job.environment()
    assert env["SSNR_CACHE_DIR"] == str(tmp_path / "relc")  # the child runs elsewhere
    assert env["SSNR_DATA_DIR"] == str(tmp_path / "reld")
    jobs.start(job, archs)
    done = wait_job(job, archs)
    assert (done.done, done.error) == (3, None), jobs.log_path(job).read_text()
    assert Cache(tmp_path / "relc" / "stats.sqlite").count(SETUP) == 3


@pytest.mark.parametrize(
    "env, message",
    [
        ({"SSNR_WORKERS": "abc"}, "SSNR_WORKERS='abc': must be an integer in 1.."),
        ({"SSNR_WORKERS": "0"}, "SSNR_WORKERS='0': must be an integer in 1.."),
        ({"SSNR_WORKERS": str(max_workers() + 1)}, "usable cores"),
        ({"SSNR_MAX_JOBS": "many"}, "SSNR_MAX_JOBS='many'"),
        ({"SSNR_CACHE_DIR": "~nosuchuser/cache"}, "SSNR_CACHE_DIR '~nosuchuser/cache'"),
        ({"SSNR_DATA_DIR": "~nosuchuser/data"}, "SSNR_DATA_DIR '~nosuchuser/data'"),
    ],
)
def test_unusable_settings_are_one_line_naming_the_variable(env, message, monkeypatch, capsys):
    with pytest.raises(SettingsError, match=message.replace("(", r"\(")):
        Settings.from_env(env)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    assert cli.main(["list"]) == 2
    assert message in one_error_line(capsys)


def test_the_workers_setting_at_its_bound_reaches_jobs_the_cli_accepts(settings: Settings):
    top = Settings.from_env({"SSNR_WORKERS": str(max_workers())})
    assert top.workers == max_workers()
    cmd = jobs.Job(SETUP, top, sample=3).command()
    assert int(cmd[cmd.index("--workers") + 1]) <= max_workers()
    args = cli.parser(top).parse_args(["score", "--workers", cmd[cmd.index("--workers") + 1]])
    assert args.workers == max_workers()


def test_a_home_folder_of_no_user_is_one_line(settings: Settings, tmp_path: Path, capsys):
    args = ["evaluate", "--saliency", "snip", "--sample", "2", "--batch", "images:~nosuchuser/x"]
    assert cli.main(args) == 2
    assert "'~nosuchuser/x'" in one_error_line(capsys)
    assert cli.main(["import-nb201", "~nosuchuser/NAS-Bench-201.pth", "--out", str(tmp_path)]) == 2
    assert "'~nosuchuser/NAS-Bench-201.pth'" in one_error_line(capsys)
