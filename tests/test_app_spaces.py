"""The two new spaces reach the app through the space registry alone: the Layer page
builds and scores their networks and shows the core's numbers."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import streamlit as st
from streamlit.testing.v1 import AppTest

from ssnr_app import panels
from ssnr_core.proxies import aggregation, models, network
from ssnr_core.proxies.setup import Setup
from ssnr_core.runs import jobs
from ssnr_core.runs.settings import Settings
from ssnr_core.spaces import get_space

APP = str(Path(__file__).resolve().parent.parent / "app.py")


@pytest.fixture(autouse=True)
def app_env(settings: Settings) -> Iterator[None]:
    st.cache_data.clear()
    st.cache_resource.clear()
    yield
    for running in panels.running_jobs(Settings.from_env()):
        jobs.stop(running.job, ())


def frame_with(at: AppTest, column: str) -> pd.DataFrame:
    return next(f.value for f in at.dataframe if column in f.value.columns)


@pytest.mark.parametrize("space, task", [("nb101", "cifar10"), ("tnb101_macro", "jigsaw")])
def test_layer_page_scores_a_network_of_the_new_space(space, task):
    at = AppTest.from_file(APP, default_timeout=240)
    at.query_params.update({"benchmark": space, "task": task})
    at.run()
    at.switch_page("app_pages/layers.py").run()
    assert not at.exception and not at.error
    arch = get_space(space).canonical(at.text_input(key="layer_text_a").value)
    stats = aggregation.layer_stats(network.saliencies(Setup(space, task, "synflow"), arch)[1])
    shown = {m.label: m.value for m in at.metric}
    for name, fn in aggregation.AGGREGATIONS.items():
        assert shown[aggregation.LABELS[name]] == panels.sci(fn(stats), 4)  # as the page reads


def test_any_model_page_shows_the_cores_per_layer_table_and_scores():
    at = AppTest.from_file(APP, default_timeout=240)
    at.query_params.update({"model": "resnet18", "size": "32"})  # not VGG-16 at 224: slow
    at.run()
    at.switch_page("app_pages/models.py").run()
    assert at.sidebar.selectbox(key="model_name").value == "resnet18"
    assert at.sidebar.select_slider(key="model_size").value == 32
    assert not at.exception and not at.error
    model, _, _ = models.load("torchvision:resnet18")
    found = models.score_model(model, (3, 32, 32))
    shown = {m.label: m.value for m in at.metric}
    for name, value in found.scores.items():
        assert shown[aggregation.LABELS[name]] == panels.sci(value, 4)  # never "6.083e+47"
    assert any("varies by a factor" in m.value for m in at.markdown)  # BN, residuals
    table = frame_with(at, "S_n^l")
    assert list(table.index) == list(found.layers)
    np.testing.assert_allclose(table["S_n^l/sigma^l"], found.table()["snr"])


def test_a_link_with_an_unknown_model_or_size_opens_the_defaults_quietly():
    for query, want in (
        ({"model": "nope", "size": "32"}, ("vgg16", 32)),
        ({"model": "resnet18", "size": "31"}, ("resnet18", 224)),
    ):
        at = AppTest.from_file(APP, default_timeout=240)
        at.query_params.update(query)
        at.run()
        at.switch_page("app_pages/models.py").run()
        assert not at.exception and not at.error
        shown = at.sidebar.selectbox(key="model_name").value
        assert (shown, at.sidebar.select_slider(key="model_size").value) == want
