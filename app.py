"""SSNR Explorer, the app: `streamlit run app.py` (settings in .streamlit/settings.toml).

The entry point of Streamlit's multipage app (`st.navigation`): it sets the page up,
keeps the session's choices across pages, shows the running-jobs indicator on every
page, then runs the chosen page script. Every number shown comes from `ssnr_core`.

The page scripts live in `app_pages/`, not `pages/`: with a `pages/` folder, a fresh
server whose first request is a page's link (a shared URL, a reload after a restart)
runs that page alone in Streamlit's legacy folder mode, without this entry point.
"""

from __future__ import annotations

import streamlit as st

from ssnr_app import loaders, panels, state
from ssnr_core.runs.threads import set_threads

set_threads(1)  # as the CLI: the pages score small networks (see ssnr_core/threads.py)

st.set_page_config(page_title="SSNR Explorer", page_icon=":material/scatter_plot:", layout="wide")
state.keep_widget_state()
page = st.navigation(
    [
        st.Page(
            "app_pages/explorer.py", title="Explorer", icon=":material/scatter_plot:", default=True
        ),
        st.Page(state.LAYER_PAGE, title="Layer saliency", icon=":material/stacked_bar_chart:"),
        st.Page(state.EXPLAIN_PAGE, title="Explain", icon=":material/school:"),
        st.Page(state.LECTURE_PAGE, title="Lecture", icon=":material/co_present:"),
        st.Page("app_pages/models.py", title="Any model", icon=":material/memory:"),
        st.Page("app_pages/compare.py", title="Compare", icon=":material/table_chart:"),
        st.Page("app_pages/pruning.py", title="Pruning demo", icon=":material/content_cut:"),
    ]
)
panels.narrow_screens()
try:
    settings = loaders.settings()
except ValueError as exc:  # a setting from the environment that cannot be used
    st.error(f"The app cannot start: {exc}")
    st.stop()
panels.presentation_switch()
panels.image_format_choice()
panels.jobs_indicator(settings)
page.run()
