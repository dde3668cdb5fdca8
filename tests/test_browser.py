"""End to end in headless Chromium: the real server, the real page, the core's numbers."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import SAMPLE, SETUP
from playwright.sync_api import Page, expect, sync_playwright

from pages import common
from ssnr_core import benchmarks, evaluation
from ssnr_core.cache import Cache

ROOT = Path(__file__).resolve().parent.parent
ARTIFACTS = ROOT / "artifacts"
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
WAIT_MS = 30_000


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def server(cache_dir: Path, tmp_path: Path) -> Iterator[str]:
    """`streamlit run app.py` on a free loopback port over the small scored cache."""
    port = free_port()
    log = (tmp_path / "streamlit.log").open("wb")
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "streamlit",
            "run",
            "app.py",
            "--server.port",
            str(port),
            "--server.address",
            "127.0.0.1",
            "--server.headless",
            "true",
        ],
        cwd=ROOT,
        stdout=log,
        stderr=subprocess.STDOUT,
        env={**os.environ, "SSNR_CACHE_DIR": str(cache_dir)},
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.time() + 60
        while True:
            try:
                with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2) as resp:
                    if resp.read() == b"ok":
                        break
            except OSError:
                pass
            if proc.poll() is not None or time.time() > deadline:
                raise AssertionError((tmp_path / "streamlit.log").read_text())
            time.sleep(0.3)
        yield url
    finally:
        proc.terminate()
        proc.wait(timeout=20)
        log.close()


def metric_value(page: Page, label: str) -> str:
    card = page.get_by_test_id("stMetric").filter(
        has=page.get_by_test_id("stMetricLabel").get_by_text(label, exact=True)
    )
    return card.get_by_test_id("stMetricValue").inner_text()


def expect_metric(page: Page, label: str, value: str) -> None:
    card = page.get_by_test_id("stMetric").filter(
        has=page.get_by_test_id("stMetricLabel").get_by_text(label, exact=True)
    )
    expect(card.get_by_test_id("stMetricValue")).to_have_text(value, timeout=WAIT_MS)


@pytest.mark.browser
def test_explorer_aggregation_switch_and_layer_page_in_chromium(server: str):
    archs = evaluation.sample(SETUP.space, SETUP.task, SAMPLE, SETUP.seed)
    table = evaluation.score_table(Cache().get(SETUP, archs))
    truth = benchmarks.truth(SETUP.space, SETUP.task)
    expected = evaluation.correlate(table, truth, common.n_boot_for(len(table)), SETUP.seed)
    ARTIFACTS.mkdir(exist_ok=True)
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 1000})
            page.goto(server)
            # The scatter: a WebGL plot with the sample's points.
            chart = page.get_by_test_id("stPlotlyChart").first
            expect(chart.locator("canvas").first).to_be_attached(timeout=60_000)
            expect_metric(page, "Spearman ρ", common.fmt(expected["sum"]["spearman"]))
            page.screenshot(path=ARTIFACTS / "explorer_sum.png")

            sidebar = page.get_by_test_id("stSidebar")
            sidebar.get_by_text("layer-wise SSNR", exact=True).click()
            expect_metric(page, "Spearman ρ", common.fmt(expected["layerwise_ssnr"]["spearman"]))
            expect_metric(page, "Kendall τ", common.fmt(expected["layerwise_ssnr"]["kendall"]))
            assert expected["layerwise_ssnr"]["spearman"] != expected["sum"]["spearman"]
            page.screenshot(path=ARTIFACTS / "explorer_layerwise.png")

            # Lasso around the whole plot area: the selection maps back to architectures
            # through customdata, and its correlations are the core's on those archs.
            drawn = table.index[table["layerwise_ssnr"] > 0]  # the log axis hides the rest
            sub = table.loc[drawn]
            sel = evaluation.correlate(sub, truth, common.n_boot_for(len(sub)), SETUP.seed)
            area = page.locator(".nsewdrag").first
            area.scroll_into_view_if_needed()
            box = area.bounding_box()
            corners = [(0.01, 0.01), (0.99, 0.01), (0.99, 0.99), (0.01, 0.99), (0.01, 0.02)]
            page.mouse.move(box["x"] + 0.01 * box["width"], box["y"] + 0.01 * box["height"])
            page.mouse.down()
            for fx, fy in corners[1:]:
                page.mouse.move(
                    box["x"] + fx * box["width"], box["y"] + fy * box["height"], steps=5
                )
            page.mouse.up()
            expect(
                page.get_by_role("heading", name=f"Selection: {len(drawn)} architectures")
            ).to_be_visible(timeout=WAIT_MS)
            expect_metric(
                page, "selection Spearman ρ", common.fmt(sel["layerwise_ssnr"]["spearman"])
            )
            page.screenshot(path=ARTIFACTS / "explorer_selection.png")

            picker = page.get_by_test_id("stSelectbox").filter(has_text="Architecture").first
            arch = picker.locator("input").input_value().split("  ·  ")[0]
            assert arch in archs
            page.get_by_role("button", name="Open on the layer page").click()
            expect(page.get_by_role("heading", name="Layer saliency")).to_be_visible(
                timeout=WAIT_MS
            )
            expect(page.get_by_test_id("stMetric").first).to_be_visible(timeout=60_000)
            expect(page.get_by_text("sum (S_n)", exact=True)).to_be_visible()
            expect(page.get_by_test_id("stMain")).to_contain_text(arch)
            assert page.get_by_test_id("stException").count() == 0
            page.screenshot(path=ARTIFACTS / "layers.png", full_page=True)
        finally:
            browser.close()
