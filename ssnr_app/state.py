"""Session state and the URL: the few keys the pages share, mirrored in `st.query_params`.

A widget's value lives in `st.session_state[key]`. The URL mirrors the keys that define
a view (benchmark, task, saliency, aggregation, sample, seed, ground truth, chart and
colouring, Compare's columns, the Explain view's architecture and presentation mode),
so a reload, a new tab or a shared link opens the same view: a new session takes its
first values from the URL (`restore`), and every run writes the values back (`publish`).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import streamlit as st

LAYER_PAGE = "app_pages/layers.py"
# Widget keys shared across pages (the explorer and the layer page show one setup).
BENCHMARK = "benchmark"
TASK = "task"
SALIENCY = "saliency"
SEED = "seed"
AGGREGATION = "aggregation"
SAMPLE = "sample"
TRUTH = "truth"
LOG_X = "log_x"
BOOTSTRAP = "bootstrap"
DEVICE = "device"
COLUMNS = "columns"  # Compare's benchmark/task columns
SALIENCIES = "saliencies"  # Compare's rows
MARK_BY = "mark_by"
CHART = "chart"  # the explorer's figure
COLOUR = "colour"  # colour points by the count of one op
DENSITY = "density"  # density contours instead of points
EXPLAIN_ARCH = "explain_arch"
SEEDS = "init_seeds"  # the explorer research section's init seeds, "0,1,2"
PRESENT = "present"  # presentation mode (large type, no sidebar)
IMAGE_FORMAT = "image_format"  # what a figure's camera icon saves: png or svg
MODEL_NAME = "model_name"  # the Any-model page's network
MODEL_SIZE = "model_size"  # and its input size, in pixels
LECTURE_STEP = "lecture_step"  # the lecture's step, by name
LECTURE_TASK = "lecture_task"
# Plain session values, not widgets.
SAMPLE_CHOSEN = "sample_chosen"  # the user (or the URL) fixed the sample size
HANDOFF = "handoff"  # architectures sent from the explorer to the layer page
FIRST_VIEW = "first_view_started"  # the no-click first view has been started once
RATES = "job_rates"  # job key -> recent (time, done) observations
JOB_NOTES = "job_notes"  # job key -> (message, is an error) for its panel's next run
LAYER_MODE = "layer_mode_{}"  # the layer page's picker per side ("a", "b")
LAYER_ARCH = "layer_arch_{}"
SELECTION = "selection"  # the explorer's selected archs: kept across aggregation switches
SELECTION_EVENT = "selection_event"  # the scatter's last box/lasso, to tell a new one
UPLOADED = "uploaded_file"  # id of the last uploaded file (a new one switches the truth)
EXPLAIN_PAGE = "app_pages/explain.py"


@dataclass(frozen=True)
class Param:
    """One widget key mirrored as a URL query parameter."""

    key: str
    name: str
    parse: Callable[[str], object] = str
    show: Callable[[object], str] = str


def _columns(text: str) -> list[tuple[str, str]]:
    return [tuple(c.split("/", 1)) for c in text.split(",") if "/" in c]  # type: ignore[misc]


def _show_columns(value: object) -> str:
    return ",".join(f"{b}/{t}" for b, t in value)  # type: ignore[attr-defined]


def _list(text: str) -> list[str]:
    return [s for s in text.split(",") if s]


def _flag(text: str) -> bool:
    if text not in ("0", "1"):
        raise ValueError(text)
    return text == "1"


def _show_flag(value: object) -> str:
    return "1" if value else "0"


SETUP_PARAMS = (
    Param(BENCHMARK, "benchmark"),
    Param(TASK, "task"),
    Param(SALIENCY, "saliency"),
    Param(SEED, "seed", int),
)
EXPLORER_PARAMS = (
    *SETUP_PARAMS,
    Param(AGGREGATION, "aggregation"),
    Param(TRUTH, "truth"),
    Param(LOG_X, "log", _flag, _show_flag),
    Param(CHART, "chart"),
    Param(COLOUR, "colour"),
    Param(DENSITY, "density", _flag, _show_flag),
    Param(SEEDS, "seeds"),
)
SAMPLE_PARAM = Param(SAMPLE, "sample", int)
PRESENT_PARAM = Param(PRESENT, "present", _flag, _show_flag)
LECTURE_PARAMS = (
    Param(LECTURE_STEP, "step"),
    Param(LECTURE_TASK, "task"),
    PRESENT_PARAM,
)
LECTURE_PAGE = "app_pages/lecture.py"
MODEL_PARAMS = (Param(MODEL_NAME, "model"), Param(MODEL_SIZE, "size", int), PRESENT_PARAM)
COMPARE_PARAMS = (
    Param(COLUMNS, "columns", _columns, _show_columns),
    Param(SALIENCIES, "saliencies", _list, ",".join),  # type: ignore[arg-type]
    Param(SEED, "seed", int),
    Param(MARK_BY, "mark_by"),
)
EXPLAIN_PARAMS = (
    *SETUP_PARAMS,
    Param(EXPLAIN_ARCH, "arch"),
    PRESENT_PARAM,
)
KEPT = {
    p.key
    for p in (
        *EXPLORER_PARAMS,
        SAMPLE_PARAM,
        *COMPARE_PARAMS,
        *EXPLAIN_PARAMS,
        *LECTURE_PARAMS,
        *MODEL_PARAMS,
    )
} | {
    IMAGE_FORMAT,
    BOOTSTRAP,
    DEVICE,
}


def keep_widget_state() -> None:
    """Streamlit forgets a widget's value when its page is not shown; re-assigning the
    key on every run (the documented work-around) keeps the user's choices per session."""
    for key in KEPT & set(st.session_state.keys()):
        st.session_state[key] = st.session_state[key]


def restore(params: Sequence[Param]) -> None:
    """A key's first value in this session comes from the URL when the URL has one (a bad
    value is ignored: the widget falls back to its default and says nothing)."""
    for p in params:
        if p.key in st.session_state or p.name not in st.query_params:
            continue
        try:
            st.session_state[p.key] = p.parse(st.query_params[p.name])
        except ValueError:
            continue
        if p.key == SAMPLE:
            st.session_state[SAMPLE_CHOSEN] = True


def publish(params: Sequence[Param]) -> None:
    """Write the keys' current values to the URL (only those that changed)."""
    for p in params:
        if p.key not in st.session_state:
            continue
        text = p.show(st.session_state[p.key])
        if st.query_params.get(p.name) != text:
            st.query_params[p.name] = text


def forget(param: Param) -> None:
    """Drop a parameter from the URL (e.g. the sample size while it follows the cache)."""
    if param.name in st.query_params:
        del st.query_params[param.name]


@dataclass(frozen=True)
class Handoff:
    """Architectures the explorer sends to the layer page, first one shown first."""

    archs: tuple[str, ...]


def send_to_layer_page(archs: Sequence[str], page: str) -> None:
    """Hand architectures to the layer page and go there (the setup keys are shared); its
    pickers start over, so they open on the first of them."""
    st.session_state[HANDOFF] = Handoff(tuple(archs))
    for side in "ab":
        st.session_state.pop(LAYER_MODE.format(side), None)
        st.session_state.pop(LAYER_ARCH.format(side), None)
    st.switch_page(page)


def handoff() -> Handoff | None:
    return st.session_state.get(HANDOFF)
