"""SSNR Explorer, the app: `streamlit run app.py` (settings in .streamlit/config.toml).

A thin multipage layer over `ssnr_core`; every number shown comes from there.
"""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent
if str(ROOT) not in sys.path:  # `pages.common` and `ssnr_core` without an install
    sys.path.insert(0, str(ROOT))

import streamlit as st  # noqa: E402
import torch  # noqa: E402

from pages import common  # noqa: E402

# The layer page scores one small network at a time: a second intra-op thread gains
# nothing, and on a busy machine OpenMP threads spin (40x slower, measured). As the CLI.
torch.set_num_threads(1)

st.set_page_config(page_title="SSNR Explorer", page_icon=":material/scatter_plot:", layout="wide")
common.keep_widget_state()
st.session_state[common.APP_FLAG] = True
navigation = st.navigation(
    [
        st.Page(
            "pages/explorer.py", title="Explorer", icon=":material/scatter_plot:", default=True
        ),
        st.Page("pages/layers.py", title="Layer saliency", icon=":material/stacked_bar_chart:"),
        st.Page("pages/compare.py", title="Compare", icon=":material/table_chart:"),
        st.Page("pages/pruning.py", title="Pruning demo", icon=":material/content_cut:"),
    ]
)
navigation.run()
