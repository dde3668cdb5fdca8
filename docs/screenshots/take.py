"""Take the README's screenshots: `python docs/screenshots/take.py CACHE_DIR [NAME ...]`
(every one, or only the files named).

CACHE_DIR may be empty: the Explorer and the Lecture show the bundled pack (all 15,625
NB201 cells); Compare shows what CACHE_DIR holds (e.g. `SSNR_CACHE_DIR=/tmp/c python -m
ssnr_core score --task cifar100 --sample 300`). A server runs on it; headless Chromium
(Debian's /usr/bin/chromium) saves one PNG per view beside this file: desktop views at
1400x1000, the lecture and presentation mode at 1280x720 (a projector), phones at 390x844.
"""

from __future__ import annotations

import sys
from pathlib import Path

from playwright.sync_api import Page, expect, sync_playwright

HERE = Path(__file__).resolve().parent
sys.path[:0] = [str(HERE.parent.parent), str(HERE.parent.parent / "tests")]
from test_browser import CHROMIUM, CHROMIUM_ARGS, serve  # noqa: E402

WAIT_MS = 120_000
EXPLORER = "/?seed=0&benchmark=nb201&task=cifar10&saliency=synflow"
DESKTOP, PROJECTOR, PHONE = (1400, 1000), (1280, 720), (390, 844)
LECTURE = ("bands", "pair", "sigma", "conservation", "pruning", "figure2")
PROJECTED = {  # at 1280x720, presentation mode
    **{
        f"lecture_{i}_{step}.png": (f"/lecture?present=1&step={step}", f"{i} ·")
        for i, step in enumerate(LECTURE, start=1)
    },
    "explorer_presentation.png": (f"{EXPLORER}&present=1", "ρ ="),
    "explain_presentation.png": ("/explain?present=1", "Three scores"),
}
VIEWS = {  # file: (path, what must be drawn before the shot)
    "first_view.png": ("/", "Three aggregations"),
    "explorer.png": (f"{EXPLORER}&chart=scatter&aggregation=layerwise_ssnr", "Spearman"),
    "layers.png": ("/layers", "weight layers"),
    "explorer_figure2.png": (f"{EXPLORER}&chart=figure2", "ρ ="),
    "lecture.png": ("/lecture?step=pair", "2 ·"),
    "explorer_scatter.png": (f"{EXPLORER}&chart=scatter&colour=nor_conv_3x3", "Spearman"),
    "explorer_ranks.png": (f"{EXPLORER}&chart=ranks&aggregation=layerwise_ssnr", "true rank"),
    "explorer_topk.png": (f"{EXPLORER}&chart=topk", "precision at k"),
    "explorer_heatmap.png": (f"{EXPLORER}&chart=heatmap", "layer group"),
    "explain.png": ("/explain", "conservation law"),
    "pruning.png": ("/pruning", "relative to the unpruned"),
    # A setup the pack does not hold: the expected time, and NASLib's scores offered.
    "explorer_heavy.png": (f"{EXPLORER}&saliency=snip&chart=scatter", "Instant view"),
}
PHONED = {  # at 390x844
    "layers_390px.png": ("/layers", "weight layers"),
    "figure2_390px.png": ("/", "Three aggregations"),
    "topk_390px.png": (f"{EXPLORER}&chart=topk", "precision at k"),
}


def shoot(page: Page, url: str, path: str, text: str, out: Path) -> None:
    page.goto(url + path)
    expect(page.get_by_test_id("stMain")).to_contain_text(text, timeout=WAIT_MS)
    page.wait_for_timeout(1500)  # plotly's last redraw
    charts = page.get_by_test_id("stPlotlyChart")
    fold = path.startswith("/?") or "present=1" in path  # what fits on one screen
    if path.startswith("/?") and "present=1" not in path and charts.count():
        charts.first.scroll_into_view_if_needed()
    page.screenshot(path=out, full_page=not fold)


def main(cache_dir: Path, only: set[str]) -> None:
    with serve(cache_dir, HERE / "server.log", pack=True) as url, sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        for size, views in ((DESKTOP, VIEWS), (PROJECTOR, PROJECTED), (PHONE, PHONED)):
            page = browser.new_page(viewport=dict(zip(("width", "height"), size)))
            for name, (path, text) in views.items():
                if not only or name in only:
                    shoot(page, url, path, text, HERE / name)
                    print(name)
        if only and "compare.png" not in only:
            browser.close()
            (HERE / "server.log").unlink()
            return
        page = browser.new_page(viewport=dict(zip(("width", "height"), DESKTOP)))
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
        expect(page.get_by_test_id("stMain")).to_contain_text("Same figures as", timeout=WAIT_MS)
        page.screenshot(path=HERE / "compare_reference.png")
        browser.close()
    (HERE / "server.log").unlink()


if __name__ == "__main__":
    main(Path(sys.argv[1]), set(sys.argv[2:]))
