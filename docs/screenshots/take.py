"""Take the README's screenshots: `python docs/screenshots/take.py CACHE_DIR`.

CACHE_DIR holds scored results (e.g. `SSNR_CACHE_DIR=/tmp/c python -m ssnr_core score
--sample 1000`, and `--task cifar100 --sample 300` for Compare). A server runs on it;
headless Chromium (Debian's /usr/bin/chromium) saves one PNG per view beside this file.
"""

from __future__ import annotations

import sys
from pathlib import Path

from playwright.sync_api import Page, expect, sync_playwright

HERE = Path(__file__).resolve().parent
sys.path[:0] = [str(HERE.parent.parent), str(HERE.parent.parent / "tests")]
from test_browser import CHROMIUM, CHROMIUM_ARGS, serve  # noqa: E402

WAIT_MS = 120_000
EXPLORER = "/?sample=1000&seed=0&benchmark=nb201&task=cifar10&saliency=synflow"
VIEWS = {  # file: (path, what must be drawn before the shot)
    "explorer.png": (EXPLORER, "Spearman"),
    "layers.png": ("/layers", "weight layers"),
    "explorer_figure2.png": (f"{EXPLORER}&chart=figure2", "ρ ="),
    "explorer_scatter.png": (f"{EXPLORER}&chart=scatter&colour=nor_conv_3x3", "Spearman"),
    "explorer_ranks.png": (f"{EXPLORER}&chart=ranks&aggregation=layerwise_ssnr", "true rank"),
    "explorer_topk.png": (f"{EXPLORER}&chart=topk", "precision at k"),
    "explorer_heatmap.png": (f"{EXPLORER}&chart=heatmap", "layer group"),
    "explain.png": ("/explain", "conservation law"),
    "explain_presentation.png": ("/explain?present=1", "Three scores"),
    "pruning.png": ("/pruning", "relative to the unpruned"),
}


def shoot(page: Page, url: str, path: str, text: str, out: Path) -> None:
    page.goto(url + path)
    expect(page.get_by_test_id("stMain")).to_contain_text(text, timeout=WAIT_MS)
    page.wait_for_timeout(1500)  # plotly's last redraw
    charts = page.get_by_test_id("stPlotlyChart")
    if path.startswith("/?") and charts.count():
        charts.first.scroll_into_view_if_needed()
    page.screenshot(path=out, full_page=not path.startswith("/?"))


def main(cache_dir: Path) -> None:
    with serve(cache_dir, HERE / "server.log") as url, sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        for name, (path, text) in VIEWS.items():
            shoot(page, url, path, text, HERE / name)
            print(name)
        page.goto(url + "/compare")
        page.get_by_role("button", name="The paper's table").click()
        expect(page.get_by_test_id("stMain")).to_contain_text("Batch:", timeout=WAIT_MS)
        page.wait_for_timeout(1500)
        page.screenshot(path=HERE / "compare.png")
        page.get_by_role("tab", name="Chart").click()
        chart = page.get_by_test_id("stPlotlyChart").first
        expect(chart).to_be_visible(timeout=WAIT_MS)
        page.wait_for_timeout(1500)
        chart.screenshot(path=HERE / "compare_chart.png")
        page.get_by_role("tab", name="Reference table").click()
        expect(page.get_by_test_id("stMain")).to_contain_text("Small n", timeout=WAIT_MS)
        page.screenshot(path=HERE / "compare_reference.png")
        phone = browser.new_page(viewport={"width": 390, "height": 844})
        shoot(phone, url, "/layers", "weight layers", HERE / "layers_390px.png")
        browser.close()
    (HERE / "server.log").unlink()


if __name__ == "__main__":
    main(Path(sys.argv[1]))
