"""Inputs whose remembered value (session or URL) is checked against today's options."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import pandas as pd
import streamlit as st

from ssnr_app import loaders, state
from ssnr_core import benchmarks
from ssnr_core.benchmarks import user_truth
from ssnr_core.proxies import Setup, saliency, zero_cost
from ssnr_core.spaces import names

MAX_SEED = 2**31 - 1


def choose(
    label: str,
    options: Sequence,
    key: str,
    default: object = None,
    kind: str = "selectbox",
    container: object = st.sidebar,
    **kw: object,
) -> object:
    """A selectbox/radio whose remembered value is reset when no longer an option (e.g. the
    task after a benchmark change, or a mistyped URL); defaults go through Session State,
    not `index=`, so re-assigned keys never trigger Streamlit's "default and Session
    State" warning."""
    options = list(options)
    if st.session_state.get(key) not in options:
        st.session_state[key] = default if default in options else options[0]
    widget = container.radio if kind == "radio" else container.selectbox  # type: ignore[attr-defined]
    return widget(label, options, key=key, **kw)


def number(
    label: str,
    key: str,
    default: int,
    lo: int,
    hi: int,
    container: object = st.sidebar,
    **kw: object,
) -> int:
    """An integer input whose remembered value is clamped into [lo, hi] first."""
    value = st.session_state.get(key, default)
    st.session_state[key] = int(min(max(value, lo), hi))
    widget = container.number_input  # type: ignore[attr-defined]
    return int(widget(label, min_value=lo, max_value=hi, step=1, key=key, **kw))


def seed(container: object = st.sidebar) -> int:
    return number(
        "Init seed",
        state.SEED,
        0,
        0,
        MAX_SEED,
        container=container,
        help="Seeds the weights, the data batch and the sample.",
    )


@dataclass(frozen=True)
class SetupChoice:
    """The sidebar's benchmark, task, saliency and seed (shared by explorer and layers)."""

    setup: Setup | None  # None when the chosen search space is unavailable
    problem: str | None  # why, for st.error


def per_network_problem(name: str) -> str | None:
    """Why a page of per-layer saliencies and their aggregations cannot show a per-network
    measure (AZ-NAS, ...), and where to evaluate it instead; None for a saliency."""
    note = zero_cost.note(name)
    if not note:
        return None
    return (
        f"{note}. This page shows per-layer saliencies and their aggregations; evaluate "
        f"{name} in the Explorer, the Compare grid or with `python -m ssnr_core evaluate "
        f"--saliency {name}`."
    )


def setup_inputs(spaces: Sequence[str] | None = None, *, measures: bool = False) -> SetupChoice:
    """Benchmark, task, saliency and seed in the sidebar, as one `Setup`; `measures`: the
    page can show a per-network measure (the Explorer), else it says where to see one."""
    space = choose(
        "Benchmark",
        list(spaces or names()),
        state.BENCHMARK,
        format_func=loaders.space_label,
        help="The NAS search space and its benchmark of trained accuracies.",
    )
    task = choose(
        "Task",
        benchmarks.tasks_of(str(space)),
        state.TASK,
        help="Dataset or task: sets the network's input and output sizes and the ground truth.",
    )
    sal = choose(
        "Saliency",
        list(saliency.REGISTRY),
        state.SALIENCY,
        help="The per-weight score S_p computed at initialisation (synflow needs no data). "
        "az_nas, zen, naswot, meco, zico, swap: one number per network (the Explorer and "
        "Compare show them).",
    )
    init_seed = seed()
    problem = loaders.space_problem(str(space)) or zero_cost.space_problem(str(sal), str(space))
    if not problem and not measures:
        problem = per_network_problem(str(sal))
    if problem:
        return SetupChoice(None, problem)
    data_dir = loaders.settings().data_dir
    return SetupChoice(
        Setup.resolved(str(space), str(task), str(sal), init_seed, "auto", data_dir), None
    )


@st.cache_data(show_spinner=False, max_entries=8)
def parse_upload(
    data: bytes, arch_col: str, value_col: str, space: str, file_name: str
) -> user_truth.UserTruth:
    return user_truth.parse(data, arch_col, value_col, space, filename=file_name)


@dataclass(frozen=True)
class Upload:
    """What the upload form read: values (None when unusable), what they are called, and
    what went wrong (the whole file, or skipped rows), for the main area."""

    values: pd.Series | None
    file_name: str
    problem: str | None = None
    problems: tuple[str, ...] = ()  # one line per problem (the last may summarise many)
    skipped: int = 0  # rows skipped


LIMITS = f"at most {user_truth.MAX_BYTES // 1_000_000} MB and {user_truth.MAX_ROWS:,} rows"


def uploaded_truth(space: str, truth_key: str, upload_value: str) -> Upload | None:
    """The bring-your-own ground truth form in the sidebar; None when no file is given.
    A newly uploaded usable file becomes the view's ground truth at once (`truth_key`
    is set to `upload_value`)."""
    with st.sidebar.expander("Your own ground truth (CSV)", expanded=False):
        st.caption(
            f"A header row, one {space} architecture per row (cell string, op tuple or "
            f"benchmark index) and a numeric column; {LIMITS}."
        )
        file = st.file_uploader(
            f"CSV file ({LIMITS})",
            type=["csv", "txt", "tsv"],
            key="upload",
            help="Read in this session only; nothing is stored.",
        )
        if file is None:
            return None
        data = file.getvalue()
        try:
            cols = user_truth.columns(data)
            guess_arch = next((c for c in cols if "arch" in c.lower()), cols[0])
            guess_val = next(
                (c for c in cols if "acc" in c.lower() and c != guess_arch),
                cols[min(1, len(cols) - 1)],
            )
            arch_col = choose(
                "Architecture column",
                cols,
                "upload_arch",
                guess_arch,
                container=st,
                help="The column naming each architecture.",
            )
            value_col = choose(
                "Accuracy column",
                cols,
                "upload_value",
                guess_val,
                container=st,
                help="The number to correlate the scores with.",
            )
            parsed = parse_upload(data, str(arch_col), str(value_col), space, file.name)
        except ValueError as exc:
            st.caption("The file cannot be used; why is shown on the page.")
            return Upload(None, file.name, str(exc))
        st.caption(f"{len(parsed.values):,} architectures from {parsed.rows:,} rows")
    if st.session_state.get(state.UPLOADED) != file.file_id:
        st.session_state[state.UPLOADED] = file.file_id
        st.session_state[truth_key] = upload_value
    values = parsed.values.rename(f"{value_col} ({file.name})")
    return Upload(values, file.name, problems=tuple(parsed.errors), skipped=parsed.skipped)


def upload_problems(upload: Upload | None) -> None:
    """The upload's problems in the main area, as plain text (a long list stays readable;
    nothing from the file is read as Markdown)."""
    if upload is None:
        return
    if upload.problem:
        st.error("The uploaded file cannot be used:")
        st.code(f"{upload.file_name}: {upload.problem}", language=None, wrap_lines=True)
    elif upload.skipped:
        st.warning(f"{upload.skipped:,} rows of the uploaded file were skipped:")
        st.code("\n".join(upload.problems[:50]), language=None, wrap_lines=True)
