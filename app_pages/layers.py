"""Layer saliency: where in a network the saliency sits, and why layer-wise SSNR differs.

One architecture (from the explorer, by benchmark index or by string) is built and
scored live (about a second), with the explorer's setup: the same seeded weights and
batch as the cached scores.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import streamlit as st

from ssnr_app import loaders, panels, state, widgets
from ssnr_app.charts import axes
from ssnr_app.charts import layers as layers_charts
from ssnr_app.text import plain_html
from ssnr_core.proxies import Setup, aggregation, batches, saliency
from ssnr_core.runs import Settings
from ssnr_core.spaces import Space, get_space

FROM_EXPLORER = "from the explorer"
BY_STRING = "by architecture string"
BY_INDEX = "by benchmark index"
SIDES = ("a", "b")


def accuracy_of(setup: Setup, arch: str, settings: Settings) -> str:
    try:
        truth = loaders.truth(setup.space, setup.task, None, settings.data_dir)
    except loaders.READ_ERRORS as exc:  # accuracy is optional here
        return f"accuracy: not available ({exc})"
    if arch not in truth.index:
        return "accuracy: not in the benchmark's ground truth"
    return f"{truth.name}: {truth[arch]:.2f}"


def pick_arch(side: str, space: Space, modes: list[str]) -> str | None:
    """The architecture for one side of the page, canonical, or None after an error."""
    mode = widgets.choose(
        "Pick",
        modes,
        state.LAYER_MODE.format(side),
        kind="radio",
        container=st,
        horizontal=True,
        help="From the explorer's list, by the benchmark's index, or by typing the string.",
    )
    other = 1 if side == "b" else 0
    try:
        if mode == FROM_EXPLORER:
            handoff = state.handoff()
            options = list(handoff.archs) if handoff else []
            return str(
                widgets.choose(
                    "Architecture",
                    options,
                    state.LAYER_ARCH.format(side),
                    default=options[min(len(options) - 1, other)],
                    container=st,
                    help="The architectures sent from the explorer.",
                )
            )
        if mode == BY_INDEX:
            index = widgets.number(
                "Benchmark index",
                f"layer_index_{side}",
                other,
                0,
                space.size - 1,
                container=st,
                help="The architecture's position in the benchmark's table.",
            )
            return space.canonical(index)
        key = f"layer_text_{side}"
        st.session_state.setdefault(key, space.examples[min(other, len(space.examples) - 1)])
        text = st.text_input(
            "Architecture string",
            key=key,
            help=f"Any spelling {space.label} accepts, e.g. {space.examples[0]}",
        )
        if not text.strip():
            st.info("Enter an architecture.")
            return None
        return space.canonical(text)
    except loaders.READ_ERRORS as exc:
        st.error(str(exc))
        return None


def pick_archs(space: Space, compare: bool) -> dict[str, str] | None:
    """One architecture per side (two when comparing); None when one is missing."""
    modes = [BY_STRING, *([BY_INDEX] if space.indexed and space.size else [])]
    if state.handoff():
        modes.insert(0, FROM_EXPLORER)
    sides = SIDES if compare else SIDES[:1]
    picked = {}
    # On a projector the pickers fold away, so that the figure sits above the fold.
    where = st.expander("Architectures") if panels.presenting() else st.container()
    for side, column in zip(sides, where.columns(len(sides))):
        with column:
            if compare:
                st.subheader(f"Architecture {side.upper()}")
            picked[side] = pick_arch(side, space, modes)
    if any(a is None for a in picked.values()):
        return None
    return picked  # type: ignore[return-value]


def dead_layers(net: loaders.Network) -> None:
    """Say why flat rows are flat: an all-zero saliency means no input-output path."""
    dead = [name for name, v in zip(net.names, net.raw) if not v.any()]
    if len(dead) == len(net.names):
        st.warning(
            "Every saliency of this network is exactly 0: no path leads from the input to "
            "the output (its cells' 'none' edges cut them all), so no gradient reaches any "
            "weight and all three scores are 0."
        )
    elif dead:
        st.info(
            f"{len(dead)} of {len(net.names)} weight layers have all-zero saliency "
            f"({', '.join(dead[:5])}{', …' if len(dead) > 5 else ''}): no path from the "
            "input to the output runs through them (a 'none' edge cuts it), so no gradient "
            "reaches their weights. They show as empty rows and add 0 to every score."
        )


def side_by_side(networks: dict[str, loaders.Network]) -> None:
    st.subheader("Side by side")
    # As text: sums near 1e49 lose their formatting in the grid widget otherwise.
    rows = {
        side.upper(): {
            k: f"{v:,}" if isinstance(v, int) else panels.sci(v, 4)
            for k, v in net.figures().items()
        }
        for side, net in networks.items()
    }
    st.dataframe(pd.DataFrame(rows).T)


def network_panel(
    setup: Setup, net: loaders.Network, side: str, cards: bool, settings: Settings
) -> None:
    """Everything about one network (cards only when it has the page to itself)."""
    signed = any((v < 0).any() for v in net.raw)
    values = [np.abs(v) for v in net.raw] if signed else net.raw
    edges = axes.log_bins(values)
    heat = st.container() if panels.presenting() else st  # on a projector, figure first
    st.markdown(f"`{net.arch}`")
    st.caption(
        f"{net.params:,} parameters · {len(net.names)} weight layers · "
        f"{accuracy_of(setup, net.arch, settings)}"
    )
    if cards:
        figures = net.figures()
        for col, name in zip(panels.card_row(3), aggregation.AGGREGATIONS):
            label = aggregation.LABELS[name]
            col.metric(label, panels.sci(figures[label], 4), border=True)
    dead_layers(net)
    if signed:
        st.caption("This saliency is signed: histograms show |S_p|; the table keeps the sign.")
    head = axes.titled(
        "share of each layer's weights per saliency decade",
        f"{plain_html(net.arch)} · {setup.space}/{setup.task} {setup.saliency} · seed {setup.seed}",
    )
    fig = layers_charts.heatmap(net.names, values, edges, head)
    panels.chart(fig, key=f"heat_{side}", container=heat)
    nonzero = [i for i, v in enumerate(values) if (v > 0).any()] or [0]
    picks = sorted({nonzero[0], nonzero[len(nonzero) // 3], nonzero[2 * len(nonzero) // 3]})
    chosen = st.multiselect(
        "Layers to show as histograms",
        list(range(len(net.names))),
        default=sorted({*picks, nonzero[-1]}),
        key=f"hist_{side}",
        help="Each chosen layer's saliencies as a histogram on a shared log axis.",
        format_func=lambda i: f"{i:02d} {net.names[i]}",
    )
    if chosen:
        panels.chart(
            layers_charts.histograms(net.names, values, edges, chosen), key=f"hists_{side}"
        )
    quantity = st.radio(
        "Per-layer quantity",
        list(layers_charts.QUANTITIES),
        key=f"quantity_{side}",
        help="Which per-layer number the bars show.",
        format_func=layers_charts.QUANTITIES.get,
        horizontal=True,
    )
    table = net.table()
    panels.chart(layers_charts.layer_bars(table, str(quantity)), key=f"bars_{side}")
    # As text: the grid widget cannot show floats beyond ~1e21 (synflow sums reach 1e48);
    # the CSV below keeps every digit.
    st.dataframe(
        table.assign(**{c: table[c].map(lambda v: panels.sci(v, 4)) for c in ("S_n^l", "sigma^l")})
    )
    panels.download_csv(
        "Per-layer table (CSV)",
        table,
        f"layers_{setup.space}_{setup.saliency}_{side}.csv",
        key=f"download_{side}",
    )


def explain(setup: Setup) -> None:
    needs_data = saliency.get(setup.saliency).needs_data
    with st.expander("What am I looking at?"):
        st.markdown(
            "- **Heatmap**: one row per weight layer (input to output), the share of its "
            "weights per saliency decade.\n"
            "- **S_n^l** is the layer's saliency sum, **σ^l** their standard deviation; "
            "**S_n^l/σ^l** is the layer's signal-to-noise ratio. Layer-wise SSNR sums it "
            "over layers, so no single layer dominates the way the largest S_n^l "
            "dominates the sum.\n"
            f"- Networks are built at init seed {setup.seed} and scored with "
            f"{setup.saliency} on "
            f"{batches.describe(setup.batch) if needs_data else 'an all-ones input'}"
            ", exactly as the cached scores."
        )


def render() -> None:
    panels.intro(
        "Layer saliency",
        "Per-parameter saliency of one network, layer by layer. The sum S_n adds "
        "layers whose saliencies differ by many orders of magnitude; layer-wise SSNR "
        "weighs each layer by its own spread.",
    )
    settings = loaders.settings()
    state.restore(state.SETUP_PARAMS)
    st.sidebar.header("Network")
    choice = widgets.setup_inputs()
    compare = st.sidebar.toggle(
        "Compare two architectures",
        key="layer_compare",
        help="Two networks side by side, with a table of their scores.",
    )
    state.publish(state.SETUP_PARAMS)
    if choice.setup is None:
        st.error(choice.problem)
        return
    setup = choice.setup
    picked = pick_archs(get_space(setup.space), compare)
    if picked is None:
        return
    try:
        networks = {}
        for side, arch in picked.items():
            with st.spinner(loaders.scoring_message(setup, arch), show_time=True):
                networks[side] = loaders.one_network(setup, arch)
    except (ValueError, OSError, RuntimeError) as exc:
        st.error(f"Could not score the network: {exc}")
        return
    if compare:
        side_by_side(networks)
    for (side, net), column in zip(networks.items(), st.columns(len(networks))):
        with column:
            network_panel(setup, net, side, not compare, settings)
    explain(setup)


render()
