"""The app on the bundled pack, in AppTest: a fresh clone with an empty cache opens on
Figure 2 of all 15,625 cells with the core's numbers and computes nothing; the lecture
walks through its steps with numbers the core computes; exports carry provenance."""

from __future__ import annotations

import io
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import streamlit as st
from streamlit.testing.v1 import AppTest

from ssnr_app import loaders, panels
from ssnr_core import benchmarks
from ssnr_core.proxies import aggregation
from ssnr_core.runs import jobs
from ssnr_core.runs.settings import Settings
from ssnr_core.studies import evaluation, explain, lecture, pack, pruning

APP = str(Path(__file__).resolve().parent.parent / "app.py")
N = 15_625


@pytest.fixture(autouse=True)
def fresh(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Settings]:
    """An empty cache, the pack on, fresh Streamlit caches; no job left running."""
    monkeypatch.setenv("SSNR_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setenv("SSNR_WORKERS", "1")
    monkeypatch.delenv("SSNR_PACK", raising=False)
    st.cache_data.clear()
    st.cache_resource.clear()
    settings = Settings.from_env()
    yield settings
    for running in panels.running_jobs(settings):
        jobs.stop(running.job, ())


@pytest.fixture(scope="module")
def bundled() -> pack.Pack:
    return pack.read()


def core(bundled: pack.Pack, task: str = "cifar10") -> dict:
    table = bundled.tables[task][list(aggregation.AGGREGATIONS)]
    truth = benchmarks.truth("nb201", task)
    return evaluation.correlate(table, truth, loaders.n_boot_for(N), 0)


def run(query: dict[str, str] | None = None) -> AppTest:
    at = AppTest.from_file(APP, default_timeout=300)
    at.query_params.update(query or {})
    at.run()
    assert not at.exception, at.exception
    return at


def metrics(at: AppTest) -> dict[str, str]:
    return {m.label: m.value for m in at.metric}


def assert_figure2(at: AppTest, expected: dict) -> None:
    shown = metrics(at)
    for agg in aggregation.AGGREGATIONS:
        assert shown[f"Spearman ρ · {aggregation.LABELS[agg]}"] == panels.fmt(
            expected[agg].spearman
        )
        kendall = f"Kendall τ {panels.fmt(expected[agg].kendall)}"
        assert any(kendall in c.value for c in at.caption)
    assert shown["architectures"] == f"{N:,}"
    drawn = [c for c in at.get("plotly_chart") if "figure2_" in str(c.key)]
    assert len(drawn) == 3  # one panel per aggregation


def test_a_fresh_clone_opens_on_figure2_of_the_whole_space(bundled: pack.Pack, fresh: Settings):
    started = time.time()
    at = run()
    assert time.time() - started < 60
    assert_figure2(at, core(bundled))
    assert any(h.value.startswith("Three aggregations vs") for h in at.subheader)
    assert not at.warning  # n is large: no small-n warning
    assert not jobs.active(fresh), "nothing to compute: the pack holds every cell"
    assert not any(b.label.startswith("Compute") for b in at.button)
    assert any("bundled pack" in m.value for m in at.markdown)
    # CIFAR-100 is one choice away, as instant.
    at.sidebar.selectbox(key="task").set_value("cifar100").run()
    assert not at.exception
    assert_figure2(at, core(bundled, "cifar100"))
    # A switch to one aggregation: the headline names it.
    at.sidebar.selectbox(key="chart").set_value("scatter").run()
    at.sidebar.radio(key="aggregation").set_value("layerwise_ssnr").run()
    assert metrics(at)["Spearman ρ"] == panels.fmt(
        core(bundled, "cifar100")["layerwise_ssnr"].spearman
    )
    assert any(h.value.startswith("layer-wise SSNR vs") for h in at.subheader)
    assert not jobs.active(fresh)


def test_an_upload_is_correlated_over_every_architecture_it_names(bundled: pack.Pack):
    archs = evaluation.draw(bundled.tables["cifar10"].index.tolist(), 300, 5)
    rng = np.random.default_rng(1)
    values = pd.Series(rng.uniform(50, 95, len(archs)), index=archs, name="mine")
    data = "arch,acc\n" + "".join(f"{a},{v}\n" for a, v in values.items())
    at = run({"chart": "scatter"})
    at.sidebar.file_uploader(key="upload").upload("mine.csv", data.encode()).run()  # type: ignore[attr-defined]
    assert not at.exception
    assert metrics(at)["architectures"] == "300"
    assert any(
        "Your file names 300 architectures; 300 of them" in c.value for c in at.sidebar.caption
    )
    table = bundled.tables["cifar10"].loc[archs, list(aggregation.AGGREGATIONS)]
    expected = evaluation.correlate(table, values, loaders.n_boot_for(300), 0)
    assert metrics(at)["Spearman ρ"] == panels.fmt(expected["sum"].spearman)


def test_exports_carry_provenance_and_seven_digits():
    setup = pack.setups()["cifar10"]
    about = loaders.about(setup, "truth X", 3, loaders.command(setup, 3, "naslib"))
    frame = pd.DataFrame({"arch": ["a", "b"], "sum": [1.0023549999999999e36, 2.0], "n": [1, 2]})
    text = panels.csv_bytes(frame, about).decode()
    head = [line for line in text.splitlines() if line.startswith("# ")]
    keys = {line[2:].split(":")[0] for line in head}
    assert {"benchmark", "task", "saliency", "truth", "batch", "seed", "init", "dtype"} <= keys
    assert {"code version", "n", "reproduce"} <= keys
    assert f"# code version: {setup.version}" in head
    assert "# reproduce: python -m ssnr_core evaluate --benchmark nb201 --task cifar10" in text
    assert "--sample 3 --truth naslib --json" in text
    body = pd.read_csv(io.StringIO(text), comment="#")
    assert "1.002355e+36" in text and body["sum"].iloc[0] == 1.002355e36


def test_numbers_are_written_for_reading():
    assert panels.sci(6.0834e47) == "6.08 × 10⁴⁷"
    assert panels.sci(1.2708345e21, 7) == "1.270835 × 10²¹"
    assert panels.sci(9.9996e-5) == "1.00 × 10⁻⁴"
    assert panels.sci(1234.56) == "1,235"
    assert panels.sci(0.0123) == "0.0123"
    assert panels.sci(0.0) == "0" and panels.sci(float("nan")) == "n/a"


def test_the_lecture_walks_through_every_step_with_the_cores_numbers(bundled: pack.Pack):
    truth = benchmarks.truth("nb201", "cifar10")
    facts = lecture.facts(bundled.tables["cifar10"], truth, n_boot=loaders.n_boot_for(N))
    at = AppTest.from_file(APP, default_timeout=300)
    at.switch_page("app_pages/lecture.py").run()
    seen = []
    for _ in range(6):
        assert not at.exception, at.exception
        seen.append(at.query_params["step"])
        text = " ".join(m.value for m in at.markdown)
        shown = metrics(at)
        step = seen[-1]
        if step == "bands":
            b = facts.band
            assert f"{b.n:,} cells" in text and f"{b.acc_min:.1f}%" in text
        elif step == "pair":
            good = explain.explain(pack.setups()["cifar10"], facts.pair.better)
            assert shown["more accurate: accuracy"] == f"{truth[facts.pair.better]:.2f}%"
            assert shown["more accurate: S_n"] == panels.sci(good.scores["sum"], 4)
        elif step == "sigma":
            r = facts.standing.loc[facts.pair.better]
            assert f"**{r['sum']:,}**" in text and f"{r['layerwise_ssnr']:,}" in text
        elif step == "conservation":
            values = {shown[k] for k in shown if "R − Σ|b|" in k or "layer: S_n^l" in k}
            assert len(values) == 1  # the three cuts carry the same flow, to 7 digits
        elif step == "pruning":
            found = lecture.still_accurate(pruning.prune_curve())
            assert f"**{found.fraction:.0%}** pruned" in text
        else:
            assert_figure2(at, facts.summaries)
        assert at.get("plotly_chart"), step
        if step != "figure2":
            at.button(key="lecture_next").click().run()
    assert seen == ["bands", "pair", "sigma", "conservation", "pruning", "figure2"]
    assert at.button(key="lecture_next").disabled
    # The step is in the URL: a link opens it.
    again = AppTest.from_file(APP, default_timeout=300)
    again.query_params["step"] = "sigma"
    again.switch_page("app_pages/lecture.py").run()
    assert not again.exception and again.header[0].value.startswith("3 ·")
