"""Background scoring jobs: started once, never twice, progress and errors from pid and cache."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest

from ssnr_core.proxies.setup import Setup
from ssnr_core.runs import jobs
from ssnr_core.runs.cache import Cache
from ssnr_core.runs.processes import process_start
from ssnr_core.runs.settings import Settings
from ssnr_core.studies import evaluation

SETUP = Setup("nb201", "cifar10", "synflow")


def wait(job: jobs.Job, archs: list[str], timeout: float = 180) -> jobs.JobStatus:
    deadline = time.time() + timeout
    while time.time() < deadline:
        state = jobs.status(job, archs)
        if not state.running:
            return state
        time.sleep(0.3)
    raise AssertionError(f"job still running after {timeout} s: {jobs.log_path(job)}")


def test_a_job_runs_once_and_fills_the_cache(settings: Settings):
    archs = evaluation.sample("nb201", "cifar10", 3, 0)
    job = jobs.Job(SETUP, settings, sample=3)
    first = jobs.start(job, archs)
    pid = json.loads(jobs.lock_path(job).read_text())["pid"]
    again = jobs.start(job, archs)  # a Streamlit rerun asking for the same work
    assert first.running and again.running
    assert json.loads(jobs.lock_path(job).read_text())["pid"] == pid  # not restarted
    # A different device or worker count is the same work: still the one job.
    assert jobs.start(jobs.Job(SETUP, settings, sample=3, workers=2), archs).running
    assert [info["pid"] for info in jobs.active(settings)] == [pid]
    done = wait(job, archs)
    assert (done.running, done.done, done.total, done.error) == (False, 3, 3, None)
    assert done.complete and done.fraction == 1.0
    assert set(Cache(settings.cache_file).get(SETUP)) == set(archs)
    assert "3 architectures scored" in jobs.log_path(job).read_text()
    # Nothing left to do: starting again spawns nothing.
    assert not jobs.start(job, archs).running
    assert json.loads(jobs.lock_path(job).read_text())["pid"] == pid
    assert jobs.active(settings) == []


def test_a_failing_job_reports_its_error_and_log(settings: Settings):
    archs = evaluation.sample("nb201", "cifar10", 2, 0)
    job = jobs.Job(Setup("nb201", "cifar10", "no_such_saliency"), settings, sample=2)
    jobs.start(job, archs)
    state = wait(job, archs)
    assert not state.running and state.done == 0
    assert state.error == "scoring stopped after 0 of 2 architectures (exit code 2)"
    assert "unknown saliency 'no_such_saliency'" in state.log_tail


def test_an_explicit_list_is_scored_and_a_stopped_job_keeps_its_work(settings: Settings):
    archs = evaluation.sample("nb201", "cifar10", 200, 5)
    listed = jobs.Job(SETUP, settings, archs_file=jobs.write_archs(archs[:2], settings))
    assert jobs.write_archs(archs[:2], settings) == listed.archs_file  # content-addressed
    assert listed.command()[-2:] == ["--archs", listed.archs_file]  # the one CLI
    jobs.start(listed, archs[:2])
    assert wait(listed, archs[:2]).complete
    assert set(Cache(settings.cache_file).get(SETUP)) == set(archs[:2])

    long = jobs.Job(SETUP, settings, archs_file=jobs.write_archs(archs, settings))
    state = jobs.start(long, archs)
    assert state.running and state.done == 2  # the two listed above are already cached
    pid = json.loads(jobs.lock_path(long).read_text())["pid"]
    stopped = jobs.stop(long, archs)
    assert not stopped.running and stopped.done < len(archs)
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)  # the whole process group is gone
    assert not jobs.lock_path(long).exists()
    assert Cache(settings.cache_file).count(SETUP) >= 2  # finished work stays


def test_keys_separate_samples_but_not_speed_settings(settings: Settings):
    base = jobs.Job(SETUP, settings, sample=10)
    assert base.key == jobs.Job(SETUP, settings, sample=10, workers=4, device="cuda").key
    assert base.key != jobs.Job(SETUP, settings, sample=20).key
    assert base.key != jobs.Job(SETUP, settings, sample=10, truth="naslib").key
    assert (
        base.key != jobs.Job(Setup("nb201", "cifar10", "synflow", seed=1), settings, sample=10).key
    )
    cmd = jobs.Job(SETUP, settings, sample=10, truth="naslib", workers=2, device="cpu").command()
    assert cmd[1:4] == ["-m", "ssnr_core", "score"]
    assert Setup.from_json(cmd[cmd.index("--setup") + 1]) == SETUP  # every field, dtype too
    for flag, value in [("--sample", "10"), ("--truth", "naslib"), ("--workers", "2")]:
        assert cmd[cmd.index(flag) + 1] == value
    env = base.environment()
    assert env["SSNR_CACHE_DIR"] == str(settings.cache_dir)


@pytest.fixture
def impostor(settings: Settings) -> Iterator[tuple[jobs.Job, subprocess.Popen]]:
    """A sleeping process whose command line and cache are those of a job's child."""
    job = jobs.Job(SETUP, settings, sample=3)
    code = "import time; time.sleep(60)"
    proc = subprocess.Popen([sys.executable, "-c", code, *job.command()[1:]], env=job.environment())
    time.sleep(0.2)
    yield job, proc
    proc.kill()
    proc.wait()


def test_status_and_writes_from_many_threads_do_not_collide(settings: Settings):
    job = jobs.Job(SETUP, settings, sample=3)
    archs = evaluation.sample("nb201", "cifar10", 50, 0)
    barrier = threading.Barrier(16)
    failures: list[BaseException] = []

    def hammer(i: int) -> None:
        barrier.wait()
        try:
            for n in range(50):
                jobs._write_lock(job, {"pid": None, "started": time.time(), "n": n})
                jobs.write_archs(archs[: 1 + (n + i) % 3], settings)
                jobs.status(job, archs)
        except BaseException as exc:
            failures.append(exc)

    threads = [threading.Thread(target=hammer, args=(i,)) for i in range(16)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert failures == []
    assert json.loads(jobs.lock_path(job).read_text())["n"] == 49
    assert not list(jobs.jobs_dir(settings).glob("*.tmp"))


def test_a_damaged_lock_of_a_running_job_starts_no_second_one(impostor, monkeypatch):
    job, proc = impostor
    archs = evaluation.sample("nb201", "cifar10", 3, 0)
    jobs.lock_path(job).write_text('{"pid": 12')  # torn or edited
    state = jobs.start(job, archs)
    assert state.running
    assert json.loads(jobs.lock_path(job).read_text())["pid"] == proc.pid  # found, repaired
    jobs.lock_path(job).write_text("garbage")
    monkeypatch.setattr(jobs, "_find_process", lambda job: (_ for _ in ()).throw(LookupError()))
    state = jobs.start(job, archs)  # no process table: unknown, so nothing is started
    assert state.unknown and not state.running and "damaged" in state.error
    assert jobs.lock_path(job).read_text() == "garbage"
    monkeypatch.undo()
    proc.kill()
    proc.wait()
    state = jobs.status(job, archs)
    assert not state.running and not state.unknown and "no job of it is running" in state.error


def test_a_reused_pid_is_not_a_running_job(impostor):
    job, proc = impostor
    archs = evaluation.sample("nb201", "cifar10", 3, 0)
    lock = {"pid": proc.pid, "pid_start": "1", "started": time.time() - 5, "key": job.key}
    jobs.lock_path(job).write_text(json.dumps(lock))  # the job's pid, now another process
    assert not jobs.status(job, archs).running
    assert jobs.active(job.settings) == []
    lock["pid_start"] = process_start(proc.pid)
    jobs.lock_path(job).write_text(json.dumps(lock))
    assert jobs.status(job, archs).running  # the same process: running


def test_logs_rotate_and_old_archs_files_are_cleaned_up(settings: Settings):
    archs = evaluation.sample("nb201", "cifar10", 2, 0)
    job = jobs.Job(Setup("nb201", "cifar10", "no_such_saliency"), settings, sample=2)
    jobs.start(job, archs)
    wait(job, archs)
    jobs.log_path(job).write_text("first run\n")
    folder = jobs.jobs_dir(settings)
    named = jobs.write_archs(["a"], settings)
    listed = jobs.Job(SETUP, settings, archs_file=named)
    jobs._write_lock(listed, {"pid": None, "started": 0, "archs_file": named})
    stale, fresh = jobs.write_archs(["b"], settings), jobs.write_archs(["c"], settings)
    day_old = time.time() - 2 * 86_400
    for path in (named, stale):
        os.utime(path, (day_old, day_old))
    (folder / ".x.json.1.2.abc.tmp").write_text("")
    os.utime(folder / ".x.json.1.2.abc.tmp", (day_old, day_old))
    jobs.start(job, archs)  # cleans up, rotates the log
    wait(job, archs)
    assert jobs.log_path(job).with_name(jobs.log_path(job).name + ".1").read_text() == "first run\n"
    assert "unknown saliency" in jobs.log_path(job).read_text()
    left = {p.name for p in folder.iterdir()}
    assert Path(named).name in left and Path(fresh).name in left  # named by a lock; new
    assert Path(stale).name not in left and ".x.json.1.2.abc.tmp" not in left
    os.utime(stale := jobs.write_archs(["b"], settings), (day_old, day_old))
    assert jobs.write_archs(["b"], settings) == stale  # asked for again: fresh once more
    assert jobs.cleanup(settings) == []


def test_jobs_beyond_the_limit_queue_in_order_and_start_as_slots_free(settings: Settings):
    """At most `max_jobs` run; the rest wait in order, each asked for once however many
    sessions ask; they start as the running ones end."""
    limited = replace(settings, max_jobs=1)
    asked = [jobs.Job(replace(SETUP, seed=s), limited, sample=3) for s in (0, 1, 2)]
    samples = [evaluation.sample("nb201", "cifar10", 3, s) for s in (0, 1, 2)]
    first, second, third = (jobs.start(j, a) for j, a in zip(asked, samples))
    assert first.running and not first.queued
    assert (second.queued, second.position, third.queued, third.position) == (True, 1, True, 2)
    again = jobs.start(asked[1], samples[1])  # another session, the same link
    assert (again.queued, again.position) == (True, 1)
    assert len(jobs.active(limited)) == 1 and [q["key"] for q in jobs.queue(limited)] == [
        asked[1].key,
        asked[2].key,
    ]
    starts = {}
    deadline = time.time() + 300
    while len(starts) < 3 and time.time() < deadline:
        for job, archs in zip(asked, samples):
            now = jobs.status(job, archs)  # what a page polling its job does
            assert len(jobs.active(limited)) <= 1
            if (now.running or now.complete) and job.key not in starts:
                starts[job.key] = time.time()
        time.sleep(0.2)
    assert list(starts) == [j.key for j in asked]  # in the order they were asked for
    for job, archs in zip(asked, samples):
        assert wait(job, archs).complete


def test_a_queued_job_can_be_stopped_and_stopping_a_running_one_starts_the_next(
    settings: Settings,
):
    limited = replace(settings, max_jobs=1)
    asked = [jobs.Job(replace(SETUP, seed=s), limited, sample=3) for s in (3, 4, 5)]
    samples = [evaluation.sample("nb201", "cifar10", 3, s) for s in (3, 4, 5)]
    for job, archs in zip(asked, samples):
        jobs.start(job, archs)
    stopped = jobs.stop(asked[2], samples[2])  # off the queue
    assert not stopped.queued and not jobs.lock_path(asked[2]).exists()
    jobs.stop(asked[0], samples[0])  # a slot comes free: the next one starts
    assert jobs.status(asked[1], samples[1]).running
    assert jobs.queue(limited) == []
    assert wait(asked[1], samples[1]).complete
