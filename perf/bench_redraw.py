"""Where a switch's time goes in the browser: click to the figure's message, to the chart
redrawn, with all 15,625 NB201 cells on screen (the bundled pack).

    python perf/bench_redraw.py [--rounds 4] [--root OTHER_CHECKOUT] [--chart scatter]

Starts `streamlit run app.py` on an empty cache folder (the pack answers), opens the
Explorer in headless Chromium (software WebGL, as in the tests), and clicks through the
aggregations. Per click it prints: the server's part (click to the last large websocket
message, the figure's), the browser's part (that message to the figure's title showing
the new aggregation: parsing, Streamlit's element update and Plotly's draw) and the
total, with the figure messages' size. Timestamps are the page's own `Date.now()` and the
driver's clock, which on one machine agree to a millisecond.
"""

from __future__ import annotations

import argparse
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
LABELS = {"sum": "sum (S_n)", "ssnr": "overall SSNR", "layerwise_ssnr": "layer-wise SSNR"}
BIG = 50_000  # bytes: a websocket message this large carries a figure


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--rounds", type=int, default=4, help="rounds of the three aggregations")
    p.add_argument("--root", type=Path, default=ROOT, help="the checkout to serve (older code)")
    args = p.parse_args()
    from playwright.sync_api import sync_playwright

    sys.path.insert(0, str(ROOT / "tests"))
    from test_browser_lecture import redraw_s

    port = free_port()
    cache = tempfile.mkdtemp(prefix="bench-redraw-")
    env = {**os.environ, "SSNR_CACHE_DIR": cache, "SSNR_PACK": "1", "SSNR_WORKERS": "1"}
    env["PYTHONPATH"] = str(args.root)
    cmd = [sys.executable, "-m", "streamlit", "run", "app.py", "--server.port", str(port)]
    cmd += ["--server.headless", "true"]
    server = subprocess.Popen(
        cmd, cwd=args.root, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    url = f"http://127.0.0.1:{port}"
    try:
        for _ in range(300):
            try:
                with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2) as resp:
                    if resp.read() == b"ok":
                        break
            except OSError:
                time.sleep(0.2)
        with sync_playwright() as pw:
            browser = pw.chromium.launch(
                executable_path="/usr/bin/chromium", args=["--no-sandbox", "--disable-gpu"]
            )
            page = browser.new_page(viewport={"width": 1440, "height": 900})
            frames: list[tuple[float, int]] = []
            page.on(
                "websocket",
                lambda ws: ws.on(
                    "framereceived",
                    lambda f: frames.append((time.time() * 1000, len(f) if f else 0)),
                ),
            )
            page.goto(f"{url}/?chart=scatter&aggregation=sum")
            page.locator(".gtitle").first.wait_for(timeout=120_000)
            page.wait_for_timeout(3000)
            rows = []
            for _ in range(args.rounds):
                for agg in ("layerwise_ssnr", "ssnr", "sum"):
                    frames.clear()
                    radio = page.get_by_test_id("stSidebar").get_by_text(LABELS[agg], exact=True)
                    clicked = page.evaluate("Date.now()")
                    done = clicked + 1000 * redraw_s(page, LABELS[agg], radio.click)
                    big = [(t, n) for t, n in frames if n >= BIG and t <= done + 5]
                    arrived = big[-1][0] if big else done
                    size = sum(n for _, n in big) / 1e6
                    rows.append((arrived - clicked, done - arrived, done - clicked, size))
                    page.wait_for_timeout(1500)  # let the warm-up after the page finish
            browser.close()
    finally:
        server.terminate()
        server.wait(timeout=20)
    head = ("server: click to figure message", "browser: message to drawn", "total", "MB")
    print(f"{head[0]:>34} {head[1]:>28} {head[2]:>7} {head[3]:>5}")
    for s, b, t, mb in rows:
        print(f"{s / 1000:>32.2f} s {b / 1000:>26.2f} s {t / 1000:>5.2f} s {mb:>5.2f}")
    for i, name in enumerate(("server", "browser", "total")):
        values = [r[i] / 1000 for r in rows]
        print(f"{name}: median {statistics.median(values):.2f} s, min {min(values):.2f} s")
    print(f"load average: {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")


if __name__ == "__main__":
    main()
