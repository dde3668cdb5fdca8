"""Server time of the Explorer's switches with all 15,625 NB201 cells on screen.

    python perf/bench_switch.py --app app.py --cache CACHE_DIR

Runs the app's script in Streamlit's AppTest (the same process a server would use, its
`st.cache_data` kept between runs, as a server keeps it) on CIFAR-10 synflow, every
cell: opening the page, then each aggregation switch and each figure switch, timed as
the script's run (what the server spends before the browser gets the new page; the
browser's own drawing is measured by tests/test_browser.py). CACHE_DIR must hold all
15,625 cells scored (e.g. `SSNR_CACHE_DIR=DIR python -m ssnr_core score`), so that code
without the bundled pack reads the same numbers from the cache. `--app` may point at
another checkout's app.py (run it with that checkout on PYTHONPATH) to time older code.
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
from pathlib import Path

AGGREGATIONS = ("ssnr", "layerwise_ssnr", "sum")
CHARTS = ("figure2", "scatter", "ranks", "topk", "scatter")
QUERY = {"benchmark": "nb201", "task": "cifar10", "saliency": "synflow", "sample": "15625"}


def payload(at) -> float:
    """MB of figure JSON the run sends to the browser (what it must parse and draw)."""
    return sum(len(c.proto.spec) for c in at.get("plotly_chart")) / 1e6


def timed(step) -> float:
    start = time.perf_counter()
    step()
    return time.perf_counter() - start


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--app", type=Path, default=Path(__file__).resolve().parent.parent / "app.py")
    p.add_argument("--cache", type=Path, required=True, help="cache folder, all cells scored")
    p.add_argument("--rounds", type=int, default=3, help="rounds of every switch")
    args = p.parse_args()
    os.environ["SSNR_CACHE_DIR"] = str(args.cache)
    os.environ.setdefault("SSNR_WORKERS", "1")
    from streamlit.testing.v1 import AppTest

    at = AppTest.from_file(str(args.app), default_timeout=900)
    at.query_params.update({**QUERY, "chart": "scatter", "aggregation": "sum"})
    opened = timed(at.run)
    assert not at.exception, at.exception
    shown = [m.value for m in at.metric if m.label.endswith("architectures")]
    print(f"app: {args.app}")
    print(f"open (first run, cold caches): {opened:.2f} s; cards: {shown[:1]}")
    agg_times, chart_times, sent = [], [], []
    for _ in range(args.rounds):
        for agg in AGGREGATIONS:
            radio = at.sidebar.radio(key="aggregation")
            agg_times.append(timed(lambda r=radio, a=agg: r.set_value(a).run()))
            assert not at.exception, at.exception
            sent.append(payload(at))
        for chart in CHARTS:
            box = at.sidebar.selectbox(key="chart")
            chart_times.append(timed(lambda b=box, c=chart: b.set_value(c).run()))
            assert not at.exception, at.exception
            sent.append(payload(at))
    for name, times in (("aggregation switch", agg_times), ("figure switch", chart_times)):
        print(
            f"{name}: median {statistics.median(times):.3f} s, max {max(times):.3f} s "
            f"over {len(times)} switches (n = 15,625)"
        )
    print(f"figure JSON per view: median {statistics.median(sent):.1f} MB, max {max(sent):.1f} MB")


if __name__ == "__main__":
    main()
