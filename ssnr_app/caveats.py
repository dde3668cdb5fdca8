"""The measured caveats of the aggregations on screen (their text: `studies.caveats`)."""

from __future__ import annotations

from collections.abc import Iterable

import streamlit as st

from ssnr_core.studies import caveats


def show(saliencies: Iterable[str], scores: Iterable[str] | None = None) -> None:
    """Each caveat's claim in one line, its figures and command one click away, for
    these saliencies where `scores` are shown (default: all the aggregations each offers)."""
    names = list(saliencies)
    if scores is None:
        found = caveats.for_saliencies(names)
    else:
        shown = list(scores)
        keys = {c.key for name in names for c in caveats.for_saliency(name, shown)}
        found = [c for c in caveats.CAVEATS if c.key in keys]
    if not found:
        return
    for caveat in found:
        st.caption(f"⚠ Caveat: {caveat.claim}")
    with st.expander("What the caveats were measured on"):
        for caveat in found:
            st.markdown(f"- {caveat.text()}")
