"""The explorer's figures, the Explain view and uploads in AppTest: every number drawn is
the core's (`correlation.spearman`, `correlation.top_k_curve`, `figures.ranks`,
`figures.group_table`, `explain.explain`), and nothing a user uploads is Markdown.

Runs on conftest's small scored cache (24 NB201 archs, synflow, seed 0).
"""

from __future__ import annotations

import base64
import json
import re
from pathlib import Path

import numpy as np
import plotly.graph_objects as go
import pytest
import streamlit as st
from conftest import SAMPLE, SETUP
from plotly.subplots import make_subplots
from streamlit.testing.v1 import AppTest
from test_app import APP, TIMEOUT, app_env, cache, frame_with, fresh_app, metrics  # noqa: F401

from ssnr_app import panels
from ssnr_app.charts import axes
from ssnr_core import benchmarks
from ssnr_core.proxies import aggregation
from ssnr_core.studies import correlation, evaluation, explain, figures


def scores() -> tuple:
    archs = evaluation.sample(SETUP.space, SETUP.task, SAMPLE, SETUP.seed)
    table = evaluation.score_table(cache().get(SETUP, archs))
    return table, benchmarks.truth(SETUP.space, SETUP.task)


def decoded(value: object) -> object:
    """Plotly's JSON with its typed arrays ({"dtype", "bdata", "shape"}) as numpy arrays."""
    if isinstance(value, dict) and "bdata" in value:
        array = np.frombuffer(base64.b64decode(value["bdata"]), dtype=value["dtype"])
        shape = value.get("shape")
        return array.reshape([int(n) for n in str(shape).split(",")]) if shape else array
    if isinstance(value, dict):
        return {k: decoded(v) for k, v in value.items()}
    if isinstance(value, list):
        return [decoded(v) for v in value]
    return value


def figure(at: AppTest, index: int = 0) -> go.Figure:
    """The page's Plotly figure, as drawn."""
    return go.Figure(decoded(json.loads(at.get("plotly_chart")[index].proto.spec)))


def chart(at: AppTest, chart: str) -> go.Figure:
    """Choose a figure in the explorer; the figure drawn."""
    at.sidebar.selectbox(key="chart").set_value(chart).run()
    assert not at.exception and not at.error, at.exception
    return figure(at)


@pytest.fixture
def explorer(cache_dir: Path) -> AppTest:
    return fresh_app({"sample": str(SAMPLE)})


def test_figure2_titles_carry_the_cores_rho_and_n(explorer: AppTest):
    table, truth = scores()
    chart(explorer, "figure2")
    panels_drawn = [figure(explorer, i) for i in range(3)]
    y = truth.reindex(table.index).to_numpy()
    ranges = set()
    for spec, agg in zip(panels_drawn, aggregation.AGGREGATIONS):
        rho = correlation.spearman(table[agg].to_numpy(), y)
        tau = correlation.kendall(table[agg].to_numpy(), y)
        title = spec.layout.title.text
        assert title.startswith(f"{aggregation.LABELS[agg]}: ρ = {rho:.3f}")
        assert f"τ = {tau:.3f} · n = {SAMPLE}" in title
        assert "nb201/cifar10 synflow" in title and "seed 0" in title and "truth: test200" in title
        ranges.add(tuple(spec.layout.yaxis.range))
    assert len(ranges) == 1  # one accuracy axis for the three panels
    # The headline names what is shown: one Spearman card per aggregation.
    shown = metrics(explorer)
    for agg in aggregation.AGGREGATIONS:
        rho = correlation.spearman(table[agg].to_numpy(), y)
        assert shown[f"Spearman ρ · {aggregation.LABELS[agg]}"] == f"{rho:.3f}"
    assert any(h.value.startswith("Three aggregations vs") for h in explorer.subheader)
    # Fewer than 100 architectures: the headline says so.
    assert any(f"Only n = {SAMPLE}" in w.value for w in explorer.warning)
    # The URL keeps the figure.
    assert explorer.query_params["chart"] == "figure2"


def test_rank_rank_plots_the_cores_ranks(explorer: AppTest):
    table, truth = scores()
    explorer.sidebar.radio(key="aggregation").set_value("layerwise_ssnr").run()
    spec = chart(explorer, "ranks")
    ranks = figures.ranks(table["layerwise_ssnr"], truth)
    points = spec.data[0]
    got = dict(zip(points.customdata, zip(points.x, points.y)))
    for arch, r in ranks.iterrows():
        assert got[arch] == (r["true_rank"], r["score_rank"])
    rho = correlation.spearman(table["layerwise_ssnr"].to_numpy(), truth[table.index].to_numpy())
    assert f"ρ = {rho:.3f} (n = {SAMPLE})" in spec.layout.title.text


def test_top_k_curves_are_the_cores(explorer: AppTest):
    table, truth = scores()
    chart(explorer, "topk")
    left, right = figure(explorer, 0), figure(explorer, 1)  # two panels, stacked on a phone
    assert left.layout.title.text.startswith("precision at k<br>")
    assert right.layout.title.text.startswith("best true rank among the top k")
    assert f"top-k by score (n = {SAMPLE})" in right.layout.title.text
    for agg in aggregation.AGGREGATIONS:
        curve = correlation.top_k_curve(table[agg].to_numpy(), truth[table.index].to_numpy())
        named = aggregation.LABELS[agg]
        (precision,) = [t for t in left.data if t.name == named]
        (best,) = [t for t in right.data if t.name == named]
        np.testing.assert_allclose(precision.y, curve["precision"])
        np.testing.assert_allclose(best.y, curve["best_true_rank"])
        np.testing.assert_allclose(precision.x, 100 * curve["fraction"])


def test_layer_heatmap_is_the_cores_group_table(explorer: AppTest):
    table, _ = scores()
    spec = chart(explorer, "heatmap")
    ranked = table["sum"][table["sum"] > 0].sort_values(ascending=False).index
    archs = list(dict.fromkeys([*ranked[:15], *ranked[-15:]]))
    expected = figures.group_table(SETUP, cache().get(SETUP, archs))
    heat = spec.data[0]
    assert list(heat.x) == list(expected.columns)
    assert [row[0] for row in heat.customdata] == list(expected.index)
    np.testing.assert_allclose(np.array(heat.z, float), expected.fillna(0).to_numpy(float))


def test_the_selection_survives_an_aggregation_switch(explorer: AppTest):
    table, truth = scores()
    chosen = list(table.index[:10])
    explorer.session_state["selection"] = chosen
    explorer.run()
    for agg in ("layerwise_ssnr", "ssnr"):
        explorer.sidebar.radio(key="aggregation").set_value(agg).run()
        assert not explorer.exception
        assert any(h.value == "Selection: 10 architectures" for h in explorer.subheader)
        sub = evaluation.correlate(table.loc[chosen], truth, 1000, SETUP.seed)
        assert metrics(explorer)["selection Spearman ρ"] == panels.fmt(sub[agg].spearman)
        small = frame_with(explorer, "top10%_precision")  # all three aggregations
        for a in aggregation.AGGREGATIONS:
            assert small.loc[aggregation.LABELS[a], "kendall"] == sub[a].kendall
    # The selection as a table, one row per architecture, with the core's numbers; the
    # inspected architecture's cell drawn beside the hand-off buttons.
    rows = frame_with(explorer, "log10 S_n")
    assert list(rows["arch"]) == [a for a in table.index if a in chosen]
    first = rows.iloc[0]
    assert first["layer-wise SSNR"] == table.loc[first["arch"], "layerwise_ssnr"]
    assert first["accuracy"] == truth[first["arch"]]
    assert first["S_n"] == panels.sci(table.loc[first["arch"], "sum"], 4)
    shown = {
        json.loads(c.proto.spec)["layout"].get("title", {}).get("text", "")
        for c in explorer.get("plotly_chart")
    }
    inspected = explorer.selectbox(key="inspect_arch").value
    assert f"accuracy {truth[inspected]:.2f}%" in shown
    explorer.button(key="clear_selection").click().run()
    assert not any(h.value.startswith("Selection:") for h in explorer.subheader)


def test_a_row_of_panels_splits_into_figures_that_keep_every_trace_axis_and_mark():
    fig = make_subplots(rows=1, cols=2, subplot_titles=("left", "right"))
    fig.add_trace(go.Scatter(x=[1, 2], y=[3, 4], name="a"), row=1, col=1)
    fig.add_trace(go.Scatter(x=[5], y=[6], name="b"), row=1, col=2)
    fig.add_vrect(x0=5, x1=6, row=1, col=2, annotation_text="band")
    fig.update_yaxes(type="log", title="right y", row=1, col=2)
    fig.update_layout(title={"text": "what<br><sup>on what</sup>"}, height=400)
    left, right = axes.split(fig)
    assert [t.name for t in left.data] == ["a"] and [t.name for t in right.data] == ["b"]
    assert {(t.xaxis, t.yaxis) for t in [*left.data, *right.data]} == {("x", "y")}
    assert left.layout.title.text == "left<br>what<br><sup>on what</sup>"
    assert right.layout.yaxis.type == "log" and right.layout.yaxis.title.text == "right y"
    assert left.layout.yaxis.type is None and not left.layout.shapes
    assert right.layout.shapes[0].xref == "x" and right.layout.shapes[0].yref == "y domain"
    assert [a.text for a in right.layout.annotations] == ["band"]
    assert right.layout.height == 400
    stacked = make_subplots(rows=2, cols=1)  # already a column: left as it is
    assert axes.split(stacked) == [stacked]


def test_the_formula_sits_beside_the_aggregation(explorer: AppTest):
    explorer.sidebar.radio(key="aggregation").set_value("ssnr").run()
    assert any("SSNR} = S_n / \\sigma" in m.value for m in explorer.sidebar.latex)
    assert any("saliency signal-to-noise ratio" in c.value for c in explorer.caption)


def test_explain_shows_the_cores_numbers_and_the_conservation_law(cache_dir: Path):
    table, _ = scores()
    arch = table.index[table["sum"] > 0][0]  # a cell whose output its input reaches
    at = fresh_app()
    at.query_params["arch"] = arch
    at.switch_page("app_pages/explain.py").run()
    assert not at.exception and not at.error
    e = explain.explain(SETUP, arch)
    shown = metrics(at)
    for name in aggregation.AGGREGATIONS:
        assert shown[aggregation.LABELS[name]] == panels.sci(e.scores[name], 4)
    c = e.conservation
    # Seven digits, written for reading (× 10 and a superscript, never "e+21" or "1.27…"),
    # and the three are the same number.
    assert shown["R − Σ|b|"] == panels.sci(c["R_minus_bias"], 7)
    assert re.fullmatch(r"\d\.\d{6} × 10[⁰¹²³⁴⁵⁶⁷⁸⁹]+", shown["R − Σ|b|"])
    assert shown["stem layer sum"] == shown["last layer sum"] == shown["R − Σ|b|"]
    table = frame_with(at, "S_n^l/sigma^l")
    np.testing.assert_allclose(table["S_n^l/sigma^l"], e.layers["snr"])
    steps = [figure(at, i).layout.title.text for i in range(3)]  # three panels, stackable
    assert [t.split(".")[0] for t in steps] == ["1", "2", "3"] and all(arch in t for t in steps)
    # Presentation mode: large type and no sidebar, kept in the URL.
    at.toggle(key="present").set_value(True).run()
    assert any("stSidebar" in m.value for m in at.markdown)
    assert at.query_params["present"] == "1"


def test_uploads_are_never_markdown(cache_dir: Path):
    archs = evaluation.sample(SETUP.space, SETUP.task, SAMPLE, SETUP.seed)
    evil = "![x](http://127.0.0.1:9/evil.png)"
    rows = [f"arch,{evil} **acc**", *(f"{a},{70 + i}" for i, a in enumerate(archs)), "zzz,1"]
    name = "[click](http://127.0.0.1:9/)_x_.csv"
    at = fresh_app({"sample": str(SAMPLE)})
    data = ("\n".join(rows) + "\n").encode()
    at.sidebar.file_uploader(key="upload").set_value((name, data, "text/csv")).run()
    assert not at.exception
    assert at.sidebar.selectbox(key="truth").value == "upload"
    shown = [
        e.value
        for kind in ("markdown", "caption", "subheader", "error", "warning", "success", "info")
        for e in at.get(kind)
    ]
    assert any("evil.png" in text for text in shown)  # it is shown, as text
    link = re.compile(r"(?<!\\)\]\(")  # an unescaped "](": a Markdown link or image
    assert not [t for t in shown if link.search(t) or "**acc**" in t]


def test_an_unusable_upload_is_one_plain_message_in_the_main_area(cache_dir: Path):
    at = fresh_app()
    big = b"arch,acc\n" + b"x" * 2_000_001
    at.sidebar.file_uploader(key="upload").set_value(("big.csv", big, "text/csv")).run()
    assert not at.exception
    assert [e.value for e in at.main.error] == ["The uploaded file cannot be used:"]
    assert "the limit is 2,000,000" in at.main.code[0].value
    assert any("at most 2 MB" in c.value for c in at.sidebar.caption)


def test_compare_offers_the_papers_table(cache_dir: Path):
    at = fresh_app()
    at.switch_page("app_pages/compare.py").run()
    at.sidebar.button(key="paper_setup").click().run()
    assert not at.exception
    assert at.sidebar.multiselect(key="saliencies").value == ["synflow"]
    assert at.sidebar.radio(key="mark_by").value == "kendall"
    columns = at.sidebar.multiselect(key="columns").value
    assert ("nb301", "cifar10") in columns and ("tnb101", "class_scene") in columns
    assert len(at.error) <= 1  # missing data: one message at most
    # The paper's protocol: every column on NASLib's sample and its val_accuracy, said so.
    assert at.sidebar.radio(key="protocol").value == "naslib"
    grid = next(f.value for f in at.dataframe if "nb201/cifar10" in f.value.columns)
    truth_row = grid.iloc[0]
    assert all("NASLib" in str(v) for v in truth_row.to_numpy())
    assert any("Protocol: the paper's: NASLib's samples" in c.value for c in at.caption)


def test_chart_choice_and_colouring_come_from_the_url(cache_dir: Path):
    at = fresh_app({"chart": "topk", "colour": "nor_conv_3x3", "density": "0"})
    assert at.sidebar.selectbox(key="chart").value == "topk"
    assert at.sidebar.selectbox(key="colour").value == "nor_conv_3x3"
    st.cache_data.clear()
