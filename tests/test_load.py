"""A bounded loopback load test: browser sessions (20 for the README) open different links and each
asks for its scoring job. The server admits at most `SSNR_MAX_JOBS` (default 1) at a
time and queues the rest; the memory of the app with everything it started (jobs and
their workers) stays under 3 GB. Prints the figures the README quotes."""

from __future__ import annotations

import json
import os
import re
import threading
import time
from pathlib import Path

import pytest
from playwright.sync_api import Browser, expect
from test_browser import WAIT_MS, serve

from ssnr_core.runs import Settings, jobs
from ssnr_core.runs.processes import process_alive

pytestmark = pytest.mark.browser
# Sessions in the suite: enough to fill the queue and bound the memory in well under a
# minute; the README's figures are the full class, SSNR_LOAD_SESSIONS=20.
SESSIONS = int(os.environ.get("SSNR_LOAD_SESSIONS", "4"))
RSS_LIMIT_MB = 3 * 1024
WATCH_S = float(SESSIONS)  # how long the queue is watched once every session has asked


def links() -> list[str]:
    """20 links that differ only in the seed and the saliency (as a class's might)."""
    return [
        f"/?seed={i // 2 + 1}&saliency={'snip' if i % 2 else 'synflow'}&sample=30"
        for i in range(SESSIONS)
    ]


def tree_rss_mb(root: int) -> tuple[float, float, int]:
    """(RSS of `root`, RSS of `root` and all its descendants, number of descendants)."""
    parents: dict[int, int] = {}
    rss: dict[int, float] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            status = (entry / "status").read_text()
        except (OSError, IndexError):
            continue
        parents[int(entry.name)] = int(stat[1])
        found = re.search(r"^VmRSS:\s+(\d+) kB", status, re.M)
        rss[int(entry.name)] = int(found.group(1)) / 1024 if found else 0.0
    tree, grew = {root}, True
    while grew:
        more = {pid for pid, parent in parents.items() if parent in tree} - tree
        tree |= more
        grew = bool(more)
    return rss.get(root, 0.0), sum(rss.get(pid, 0.0) for pid in tree), len(tree) - 1


def running_jobs(settings: Settings) -> int:
    """Jobs with a live process, read from their locks (without admitting any: the test
    process must not start jobs itself)."""
    count = 0
    for path in settings.jobs_dir.glob("*.json"):
        try:
            info = json.loads(path.read_text())
        except (OSError, ValueError):
            continue
        if isinstance(info.get("pid"), int) and process_alive(info["pid"], info.get("pid_start")):
            count += 1
    return count


def test_twenty_sessions_with_twenty_links_run_one_job_at_a_time(
    browser: Browser,
    tmp_path: Path,
):
    cache_dir = tmp_path / "cache"
    settings = Settings(cache_dir=cache_dir)
    started: list = []
    peak = {"server": 0.0, "tree": 0.0, "processes": 0, "running": 0, "queued": 0}
    done = threading.Event()

    def watch(pid: int) -> None:
        while not done.is_set():
            server, tree, processes = tree_rss_mb(pid)
            running, queued = running_jobs(settings), len(jobs.queue(settings))
            for key, value in zip(peak, (server, tree, processes, running, queued)):
                peak[key] = max(peak[key], value)
            time.sleep(0.5)

    began = time.time()
    with serve(
        cache_dir, tmp_path / "streamlit.log", env={"SSNR_WORKERS": "2"}, started=started
    ) as url:
        watcher = threading.Thread(target=watch, args=(started[0].pid,), daemon=True)
        watcher.start()
        context = browser.new_context(viewport={"width": 1200, "height": 900})
        pages = []
        try:
            for i, link in enumerate(links()):  # one after another; all stay open
                page = context.new_page()
                pages.append(page)
                page.goto(url + link)
                try:
                    button = page.get_by_role("button", name=re.compile(r"^Compute 30 missing"))
                    expect(button).to_be_visible(timeout=WAIT_MS * 2)
                    button.click()
                    asked = page.get_by_test_id("stProgress").or_(
                        page.get_by_text("queued, number")
                    )
                    expect(asked.first).to_be_visible(timeout=WAIT_MS * 2)
                except AssertionError:
                    page.screenshot(path=tmp_path / f"session{i}.png", full_page=True)
                    raise AssertionError(f"session {i} ({link}): see {tmp_path}") from None
                assert running_jobs(settings) <= 1
            asked_s = time.time() - began
            queued_after = len(jobs.queue(settings))
            deadline = time.time() + WATCH_S
            while time.time() < deadline:
                assert running_jobs(settings) <= 1
                time.sleep(0.5)
            left = len(jobs.queue(settings))
        finally:
            done.set()
            watcher.join(timeout=5)
            context.close()
    print(
        f"load: {SESSIONS} sessions, {SESSIONS} links, asked in {asked_s:.0f} s; at most "
        f"{peak['running']} job running (limit 1), at most {peak['queued']} queued "
        f"({queued_after} once all had asked), "
        f"{left} still queued {WATCH_S:.0f} s later; peak RSS: server {peak['server']:.0f} "
        f"MB, server with jobs and workers {peak['tree']:.0f} MB "
        f"({peak['processes']} child processes at most)"
    )
    assert peak["running"] <= 1
    assert peak["queued"] >= SESSIONS // 2  # the rest waited (small jobs end meanwhile)
    assert peak["tree"] < RSS_LIMIT_MB
