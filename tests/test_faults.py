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
from test_reliability import SETUP, WORKTREE, one_error_line

from ssnr_core import cli
from ssnr_core.runs import jobs
from ssnr_core.runs.cache import COLUMNS, Cache, CacheError
from ssnr_core.runs.settings import Settings, SettingsError, max_workers
from ssnr_core.studies import evaluation


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


# ---------------------------------------------------------------- waits


def test_a_dead_ray_address_is_one_line_within_30_s(settings: Settings):
    began = time.time()
    run = cli_process(
        *("score", "--sample", "3", "--backend", "ray", "--ray-address", "127.0.0.1:1"),
        stderr=subprocess.PIPE,
        stdout=subprocess.DEVNULL,
    )
    try:
        _, err = run.communicate(timeout=60)
    finally:
        run.kill()
    seconds = time.time() - began
    assert run.returncode == 2 and seconds < 30, (seconds, err)
    (line,) = [x for x in err.splitlines() if x.startswith("error:")]
    assert "no Ray cluster answers at 127.0.0.1:1" in line and "ray start --head" in line
    assert "Traceback" not in err


def test_claims_of_a_stopped_run_are_named_within_seconds_and_can_be_taken_over(
    settings: Settings, capsys
):
    archs = evaluation.sample("nb201", "cifar10", 3, 0)
    holder = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(120)"])
    try:
        assert Cache(settings.cache_file).claim(SETUP, archs, owner=holder.pid) == archs
        os.kill(holder.pid, signal.SIGSTOP)  # what Ctrl-Z does to a run holding claims
        began = time.time()
        assert cli.main(["score", "--sample", "3"]) == 2
        line = one_error_line(capsys)
        assert time.time() - began < 20
        assert f"claimed by pid {holder.pid}, which is stopped" in line, line
        assert f"kill -CONT {holder.pid}" in line and "--take-over" in line
        assert cli.main(["score", "--sample", "3", "--take-over"]) == 0
        assert Cache(settings.cache_file).count(SETUP) == 3
    finally:
        holder.kill()
        holder.wait()


def test_the_rate_counts_only_what_this_run_scored():
    bar = cli._Bar("nb201/cifar10 synflow")
    bar(24, 30)  # 24 cached before the run: done, not in the rate
    assert (bar.bar.n, bar.bar.initial) == (24, 24)
    bar(25, 30)  # one of ours
    bar.waiting("waiting for 5 architectures claimed by pid 1")
    bar(29, 30)  # four stored by the other run
    assert (bar.bar.n, bar.bar.n - bar.bar.initial) == (29, 1)
    assert "waiting for 5" in str(bar.bar)
    bar.waiting(None)
    bar(30, 30)
    assert bar.bar.n - bar.bar.initial == 2
    bar.close()


# ---------------------------------------------------------------- output, interrupts


@pytest.mark.parametrize("sink", ["full", "closed"])
def test_a_full_or_closed_stderr_never_stops_scoring(settings: Settings, sink: str):
    """`2>/dev/full` and `2>&1 | head`: progress is best effort, the run finishes."""
    n = 130  # three engine batches: several progress writes
    if sink == "full":
        with open("/dev/full", "w") as full:
            run = cli_process("score", "--sample", str(n), stderr=full, stdout=full)
    else:
        run = cli_process(
            "score", "--sample", str(n), stderr=subprocess.STDOUT, stdout=subprocess.PIPE
        )
        run.stdout.close()  # the reader went away (`| head` after its lines)
    assert run.wait(timeout=300) == 0
    assert Cache(settings.cache_file).count(SETUP) == n


def _has_children(pid: int) -> bool:
    try:
        return bool(Path(f"/proc/{pid}/task/{pid}/children").read_text().split())
    except OSError:
        return False


@pytest.mark.parametrize("when", ["loading", "workers starting"])
def test_ctrl_c_early_is_one_line_and_exit_130(settings: Settings, when: str):
    """Ctrl-C reaches the whole process group (the run and its starting workers)."""
    run = cli_process("score", "--sample", "400", "--workers", "2", stderr=subprocess.PIPE)
    deadline = time.time() + 120
    if when == "loading":
        time.sleep(1.0)  # torch and the project are still being imported
    else:
        while not _has_children(run.pid) and time.time() < deadline:
            time.sleep(0.05)
        time.sleep(0.3)  # the workers are importing torch now
    os.killpg(run.pid, signal.SIGINT)
    _, err = run.communicate(timeout=120)
    assert run.returncode == 130, err
    lines = [x for x in err.replace("\r", "\n").splitlines() if x.strip()]
    said = [x for x in lines if x.startswith("interrupted")]
    assert len(said) == 1 and "Traceback" not in err and "KeyboardInterrupt" not in err, err


# ---------------------------------------------------------------- values at the edge


@pytest.mark.parametrize(
    "field, value, message",
    [
        ("seed", "0", "setup field 'seed' must be an integer in 0..9,223,372,036,854,775,807"),
        ("seed", 2**70, "got 1,180,591,620,717,411,303,424"),
        ("seed", True, "setup field 'seed' must be an integer"),
        ("dtype", "float16", "setup field 'dtype' must be one of float32, float64"),
        ("init", "bogus", "setup field 'init' must be one of slot, fresh"),
        ("space", 7, "setup field 'space' must be a string"),
        ("saliency", "nope", "unknown saliency 'nope'"),
    ],
)
def test_a_setup_given_as_json_is_checked_like_the_flags(settings, capsys, field, value, message):
    data = {**json.loads(SETUP.to_json()), field: value}
    assert cli.main(["score", "--setup", json.dumps(data), "--sample", "2"]) == 2
    assert message in one_error_line(capsys)
    assert not settings.cache_file.exists()  # nothing scored, nothing cached under a new key


def test_a_foreign_sqlite_file_is_refused_and_left_as_it_was(settings: Settings, capsys):
    settings.cache_dir.mkdir(parents=True)
    with sqlite3.connect(settings.cache_file) as con:
        con.execute("CREATE TABLE notes (id INTEGER PRIMARY KEY, text TEXT)")
        con.execute("INSERT INTO notes (text) VALUES ('mine')")
    con.close()
    before = settings.cache_file.read_bytes()
    assert cli.main(["list"]) == 2
    assert "not an ssnr_core cache (tables: notes)" in one_error_line(capsys)
    assert settings.cache_file.read_bytes() == before
    with sqlite3.connect(settings.cache_file) as con:
        assert con.execute("PRAGMA journal_mode").fetchone()[0] == "delete"  # not switched
    con.close()


def test_a_stats_table_without_its_key_is_refused(settings: Settings):
    settings.cache_dir.mkdir(parents=True)
    columns = ", ".join(f"{c} BLOB" if c == "layers" else f"{c} TEXT" for c in COLUMNS)
    with sqlite3.connect(settings.cache_file) as con:
        con.execute(f"CREATE TABLE stats ({columns})")  # the columns, no primary key
    con.close()
    with pytest.raises(CacheError, match="key none"):
        Cache(settings.cache_file)


def test_a_lock_started_in_the_future_is_not_starting_forever(settings: Settings):
    archs = evaluation.sample("nb201", "cifar10", 3, 0)
    job = jobs.Job(SETUP, settings, sample=3)
    jobs.lock_path(job).write_text(json.dumps({"pid": None, "started": time.time() + 3600}))
    assert not jobs.status(job, archs).running
    assert jobs.start(job, archs).running  # not blocked by the stale record
    assert wait_job(job, archs).done == 3


def test_baselines_no_says_so_and_verdicts_name_the_uncounted_score(cache_dir, capsys):
    args = ["evaluate", "--sample", "24", "--n-boot", "20", "--baselines", "no"]
    assert cli.main(args) == 0
    out, err = capsys.readouterr()
    assert "params/FLOPs not counted for these archs (--baselines no)" in err
    assert "more than" not in err and "too few architectures" not in out
    assert "vs params: not compared (params not counted for these architectures)" in out
